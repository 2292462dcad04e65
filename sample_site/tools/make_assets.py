#!/usr/bin/env python3
"""Regenerate every generated asset of the two sample sites.

Run from anywhere::

    python sample_site/tools/make_assets.py            # everything
    python sample_site/tools/make_assets.py --no-fonts # skip the fonts

Images (PNG, ICO), the WAV clip and the SVG illustrations use only the
standard library.  PNGs are written with ``zlib`` + ``struct``; all
"randomness" comes from a fixed linear congruential generator, so the
output is byte-for-byte identical on every run (for a given zlib build).

The two web fonts need fontTools and brotli (``pip install fonttools
brotli``); they are a tiny 5x7 "pixel" typeface built with fontTools'
FontBuilder and saved as WOFF2 and WOFF.  They are NOT runtime
dependencies of shard-assets: the generated files are committed.
"""

from __future__ import annotations

import argparse
import math
import struct
import sys
import wave
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # .../sample_site
PELICAN = ROOT / "pelican"
PEL_CONTENT = PELICAN / "content"
PEL_STATIC = PELICAN / "theme" / "static"
MKDOCS_DOCS = ROOT / "mkdocs" / "docs"

written: list[Path] = []


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------

def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    written.append(path)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def hex_rgb(value: str) -> tuple[int, int, int]:
    value = value.lstrip("#")
    return tuple(int(value[i:i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


def mix(a, b, t: float):
    t = 0.0 if t < 0 else 1.0 if t > 1 else t
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


class LCG:
    """Deterministic pseudo random numbers, independent of Python's random."""

    def __init__(self, seed: int) -> None:
        self.state = seed & 0xFFFFFFFF

    def next(self) -> float:
        self.state = (1664525 * self.state + 1013904223) & 0xFFFFFFFF
        return self.state / 2**32


def seed_of(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


# --------------------------------------------------------------------------
# PNG writer (RGB or RGBA, 8 bit, per-row adaptive filtering)
# --------------------------------------------------------------------------

def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def png_bytes(width: int, height: int, pixel, alpha: bool = False) -> bytes:
    """Encode an image; ``pixel(x, y)`` returns (r, g, b) or (r, g, b, a)."""
    bpp = 4 if alpha else 3
    raw = bytearray()
    prev = bytes(width * bpp)
    for y in range(height):
        row = bytearray()
        for x in range(width):
            px = pixel(x, y)
            if alpha and len(px) == 3:
                px = (*px, 255)
            row.extend(px[:bpp])
        row = bytes(row)
        candidates = []
        for ftype in range(5):
            out = bytearray([ftype])
            for i, v in enumerate(row):
                left = row[i - bpp] if i >= bpp else 0
                up = prev[i]
                ul = prev[i - bpp] if i >= bpp else 0
                if ftype == 0:
                    f = v
                elif ftype == 1:
                    f = v - left
                elif ftype == 2:
                    f = v - up
                elif ftype == 3:
                    f = v - ((left + up) >> 1)
                else:
                    f = v - _paeth(left, up, ul)
                out.append(f & 0xFF)
            score = sum(b if b < 128 else 256 - b for b in out[1:])
            candidates.append((score, ftype, bytes(out)))
        raw.extend(min(candidates)[2])
        prev = row

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def write_png(path: Path, width: int, height: int, pixel, alpha: bool = False) -> bytes:
    data = png_bytes(width, height, pixel, alpha)
    write_bytes(path, data)
    return data


def ico_bytes(png: bytes, size: int) -> bytes:
    """A single-image .ico that embeds a PNG (supported by all browsers)."""
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(png), 6 + 16)
    return header + entry + png


# --------------------------------------------------------------------------
# picture generators (coordinates are normalised so @2x looks the same)
# --------------------------------------------------------------------------

def cover_art(c1, c2, accent):
    """Diagonal gradient with a 'record' disc in the middle."""
    def factory(w, h):
        def px(x, y):
            u, v = (x + 0.5) / w, (y + 0.5) / h
            base = mix(c1, c2, (u + v) / 2)
            d = math.hypot(u - 0.5, v - 0.5)
            if d < 0.06:
                return mix(accent, (255, 255, 255), 0.6)
            if d < 0.34:
                groove = 0.15 if int(d * 60) % 2 else 0.0
                return mix(mix(base, (20, 20, 24), 0.75), accent, groove)
            return base
        return px
    return factory


def banner_art(c1, c2, accent):
    """Wide banner: vertical gradient with a horizon band."""
    def factory(w, h):
        def px(x, y):
            v = (y + 0.5) / h
            u = (x + 0.5) / w
            if 0.62 < v < 0.70:
                return mix(accent, (255, 255, 255), 0.3)
            if v >= 0.70:
                return mix(c1, (0, 0, 0), 0.35 + 0.2 * v)
            sun = math.hypot((u - 0.8) * w / h, v - 0.4)
            if sun < 0.18:
                return mix(accent, (255, 255, 255), 0.5)
            return mix(c2, c1, v)
        return px
    return factory


def portrait_art(bg, skin, shirt):
    """Very small stylised head-and-shoulders portrait."""
    def factory(w, h):
        def px(x, y):
            u, v = (x + 0.5) / w, (y + 0.5) / h
            if math.hypot(u - 0.5, v - 0.38) < 0.2:
                return skin
            if v > 0.66 and abs(u - 0.5) < 0.38 - (1 - v) * 0.3:
                return shirt
            return mix(bg, (255, 255, 255), v * 0.3)
        return px
    return factory


def screenshot_art(accent, seed):
    """A fake application window: title bar, sidebar, text lines."""
    def factory(w, h):
        rnd = LCG(seed)
        lengths = [0.35 + 0.55 * rnd.next() for _ in range(40)]

        def px(x, y):
            u, v = (x + 0.5) / w, (y + 0.5) / h
            if v < 0.12:
                if 0.02 < u < 0.2 and 0.04 < v < 0.08:
                    return (255, 255, 255)
                return accent
            if u < 0.25:
                row = int((v - 0.12) / 0.08)
                if (v - 0.12) % 0.08 > 0.05 and 0.03 < u < 0.2 and row % 2 == 0:
                    return mix(accent, (255, 255, 255), 0.5)
                return (236, 239, 243)
            line = int((v - 0.12) / 0.07)
            if (v - 0.12) % 0.07 > 0.045 and u < 0.3 + 0.65 * lengths[line % 40]:
                return (120, 128, 140)
            return (252, 252, 253)
        return px
    return factory


def solid_with_border(fill, border):
    def factory(w, h):
        def px(x, y):
            if x in (0, w - 1) or y in (0, h - 1):
                return border
            return fill
        return px
    return factory


def icon_note(color):
    def factory(w, h):
        def px(x, y):
            u, v = (x + 0.5) / w, (y + 0.5) / h
            head = math.hypot((u - 0.38) * 1.3, v - 0.74) < 0.17
            stem = 0.5 < u < 0.6 and 0.15 < v < 0.74
            flag = 0.55 < u < 0.85 and 0.15 < v < 0.3 - (u - 0.55) * 0.2
            return (*color, 255) if head or stem or flag else (0, 0, 0, 0)
        return px
    return factory


def icon_play(color):
    def factory(w, h):
        def px(x, y):
            u, v = (x + 0.5) / w, (y + 0.5) / h
            inside = 0.28 < u < 0.8 and abs(v - 0.5) < (0.8 - u) * 0.62
            ring = 0.42 < math.hypot(u - 0.5, v - 0.5) < 0.5
            return (*color, 255) if inside or ring else (0, 0, 0, 0)
        return px
    return factory


def icon_symbol(color, kind):
    """Round badge with a bar ('!'), dot ('i') or check-ish mark."""
    def factory(w, h):
        def px(x, y):
            u, v = (x + 0.5) / w, (y + 0.5) / h
            d = math.hypot(u - 0.5, v - 0.5)
            if d >= 0.48:
                return (0, 0, 0, 0)
            white = False
            if kind == "warning":
                white = abs(u - 0.5) < 0.07 and (0.2 < v < 0.58 or 0.68 < v < 0.8)
            elif kind == "note":
                white = abs(u - 0.5) < 0.07 and (0.2 < v < 0.32 or 0.42 < v < 0.8)
            else:  # tip: a plus
                white = (abs(u - 0.5) < 0.07 and 0.22 < v < 0.78) or \
                        (abs(v - 0.5) < 0.07 and 0.22 < u < 0.78)
            return (255, 255, 255, 255) if white else (*color, 255)
        return px
    return factory


def stripes(c1, c2, period=8):
    def factory(w, h):
        def px(x, y):
            return c1 if ((x + y) // (period * w // 32 or 1)) % 2 == 0 else c2
        return px
    return factory


def dots(bg, fg):
    def factory(w, h):
        def px(x, y):
            u, v = (x + 0.5) / w, (y + 0.5) / h
            return fg if math.hypot(u - 0.5, v - 0.5) < 0.18 else bg
        return px
    return factory


def paper_texture(base, seed):
    def factory(w, h):
        rnd = LCG(seed)
        noise = [int(rnd.next() * 9) - 4 for _ in range(w * h)]

        def px(x, y):
            n = noise[y * w + x]
            return tuple(max(0, min(255, c + n)) for c in base)
        return px
    return factory


def hgradient(c1, c2):
    def factory(w, h):
        def px(x, y):
            return mix(c1, c2, x / max(1, w - 1))
        return px
    return factory


def vinyl_icon(bg, disc, label):
    def factory(w, h):
        def px(x, y):
            u, v = (x + 0.5) / w, (y + 0.5) / h
            d = math.hypot(u - 0.5, v - 0.5)
            if d < 0.06:
                return bg
            if d < 0.17:
                return label
            if d < 0.42:
                return disc
            return bg
        return px
    return factory


def png(path: Path, size: tuple[int, int], factory, alpha: bool = False) -> bytes:
    w, h = size
    return write_png(path, w, h, factory(w, h), alpha)


# --------------------------------------------------------------------------
# SVG + WAV
# --------------------------------------------------------------------------

def waveform_svg(title: str, color: str, seed: int) -> str:
    rnd = LCG(seed)
    bars = []
    for i in range(48):
        amp = 4 + int(26 * abs(math.sin(i / 5.0)) * (0.45 + 0.55 * rnd.next()))
        bars.append(f'<rect x="{i * 5}" y="{32 - amp}" width="3" height="{amp * 2}" rx="1"/>')
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="64" '
        'viewBox="0 0 240 64" role="img">\n'
        f"  <title>Waveform preview: {title}</title>\n"
        f'  <g fill="{color}">\n    ' + "\n    ".join(bars) + "\n  </g>\n</svg>\n"
    )


LOGO_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48" viewBox="0 0 48 48" role="img">
  <title>Shard Sample Music</title>
  <circle cx="24" cy="24" r="22" fill="#1f2430"/>
  <circle cx="24" cy="24" r="17" fill="none" stroke="#3a4252" stroke-width="1"/>
  <circle cx="24" cy="24" r="13" fill="none" stroke="#3a4252" stroke-width="1"/>
  <circle cx="24" cy="24" r="8" fill="#e4572e"/>
  <circle cx="24" cy="24" r="2" fill="#f7f3ea"/>
</svg>
"""

TUNING_GRAPH_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="320" height="160" viewBox="0 0 320 160" role="img">
  <title>Buffer size versus dropouts</title>
  <rect width="320" height="160" fill="#ffffff"/>
  <g stroke="#d0d7de" stroke-width="1">
    <line x1="40" y1="20" x2="40" y2="130"/>
    <line x1="40" y1="130" x2="300" y2="130"/>
    <line x1="40" y1="75" x2="300" y2="75" stroke-dasharray="4 4"/>
  </g>
  <polyline fill="none" stroke="#2f6fde" stroke-width="3"
            points="40,30 80,60 120,88 160,104 200,114 240,119 280,121 300,122"/>
  <polyline fill="none" stroke="#e4572e" stroke-width="3"
            points="40,124 80,120 120,112 160,100 200,84 240,64 280,42 300,32"/>
  <g font-family="sans-serif" font-size="11" fill="#444c56">
    <text x="44" y="148">64</text>
    <text x="150" y="148">buffer (frames)</text>
    <text x="282" y="148">4096</text>
    <text x="230" y="28" fill="#e4572e">latency</text>
    <text x="230" y="112" fill="#2f6fde">dropouts</text>
  </g>
</svg>
"""

ARCHITECTURE_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="360" height="120" viewBox="0 0 360 120" role="img">
  <title>Harbour architecture: library, queue, output</title>
  <defs>
    <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto">
      <path d="M0,0 L10,5 L0,10 z" fill="#444c56"/>
    </marker>
  </defs>
  <g font-family="sans-serif" font-size="13" text-anchor="middle">
    <rect x="10" y="40" width="90" height="40" rx="6" fill="#dbe7fb" stroke="#2f6fde"/>
    <text x="55" y="65">Library</text>
    <rect x="135" y="40" width="90" height="40" rx="6" fill="#fde7dd" stroke="#e4572e"/>
    <text x="180" y="65">Queue</text>
    <rect x="260" y="40" width="90" height="40" rx="6" fill="#dcf3e4" stroke="#2e9e5b"/>
    <text x="305" y="65">Output</text>
  </g>
  <g stroke="#444c56" stroke-width="2" marker-end="url(#arrow)">
    <line x1="100" y1="60" x2="133" y2="60"/>
    <line x1="225" y1="60" x2="258" y2="60"/>
  </g>
</svg>
"""


def wav_bytes_to(path: Path, seconds: float = 0.6, rate: int = 8000) -> None:
    """A short two-note chime, 8-bit mono PCM (decodable by every browser)."""
    frames = bytearray()
    n = int(seconds * rate)
    for i in range(n):
        t = i / rate
        freq = 440.0 if t < seconds / 2 else 659.25
        env = min(1.0, t * 40) * max(0.0, 1 - (t % (seconds / 2)) / (seconds / 2))
        frames.append(128 + int(90 * env * math.sin(2 * math.pi * freq * t)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    written.append(path)


# --------------------------------------------------------------------------
# the pixel font
# --------------------------------------------------------------------------

GLYPHS_5X7 = {
    "A": ".###.|#...#|#...#|#####|#...#|#...#|#...#",
    "B": "####.|#...#|#...#|####.|#...#|#...#|####.",
    "C": ".###.|#...#|#....|#....|#....|#...#|.###.",
    "D": "####.|#...#|#...#|#...#|#...#|#...#|####.",
    "E": "#####|#....|#....|####.|#....|#....|#####",
    "F": "#####|#....|#....|####.|#....|#....|#....",
    "G": ".###.|#...#|#....|#.###|#...#|#...#|.####",
    "H": "#...#|#...#|#...#|#####|#...#|#...#|#...#",
    "I": ".###.|..#..|..#..|..#..|..#..|..#..|.###.",
    "J": "..###|...#.|...#.|...#.|...#.|#..#.|.##..",
    "K": "#...#|#..#.|#.#..|##...|#.#..|#..#.|#...#",
    "L": "#....|#....|#....|#....|#....|#....|#####",
    "M": "#...#|##.##|#.#.#|#.#.#|#...#|#...#|#...#",
    "N": "#...#|#...#|##..#|#.#.#|#..##|#...#|#...#",
    "O": ".###.|#...#|#...#|#...#|#...#|#...#|.###.",
    "P": "####.|#...#|#...#|####.|#....|#....|#....",
    "Q": ".###.|#...#|#...#|#...#|#.#.#|#..#.|.##.#",
    "R": "####.|#...#|#...#|####.|#.#..|#..#.|#...#",
    "S": ".####|#....|#....|.###.|....#|....#|####.",
    "T": "#####|..#..|..#..|..#..|..#..|..#..|..#..",
    "U": "#...#|#...#|#...#|#...#|#...#|#...#|.###.",
    "V": "#...#|#...#|#...#|#...#|#...#|.#.#.|..#..",
    "W": "#...#|#...#|#...#|#.#.#|#.#.#|#.#.#|.#.#.",
    "X": "#...#|#...#|.#.#.|..#..|.#.#.|#...#|#...#",
    "Y": "#...#|#...#|.#.#.|..#..|..#..|..#..|..#..",
    "Z": "#####|....#|...#.|..#..|.#...|#....|#####",
    "0": ".###.|#...#|#..##|#.#.#|##..#|#...#|.###.",
    "1": "..#..|.##..|..#..|..#..|..#..|..#..|.###.",
    "2": ".###.|#...#|....#|...#.|..#..|.#...|#####",
    "3": "####.|....#|....#|.###.|....#|....#|####.",
    "4": "...#.|..##.|.#.#.|#..#.|#####|...#.|...#.",
    "5": "#####|#....|####.|....#|....#|#...#|.###.",
    "6": ".###.|#....|#....|####.|#...#|#...#|.###.",
    "7": "#####|....#|...#.|..#..|.#...|.#...|.#...",
    "8": ".###.|#...#|#...#|.###.|#...#|#...#|.###.",
    "9": ".###.|#...#|#...#|.####|....#|....#|.###.",
    ".": ".....|.....|.....|.....|.....|.##..|.##..",
    ",": ".....|.....|.....|.....|.##..|..#..|.#...",
    "-": ".....|.....|.....|#####|.....|.....|.....",
    "!": "..#..|..#..|..#..|..#..|..#..|.....|..#..",
    "?": ".###.|#...#|....#|...#.|..#..|.....|..#..",
    "'": "..#..|..#..|.#...|.....|.....|.....|.....",
    ":": ".....|.##..|.##..|.....|.##..|.##..|.....",
    "&": ".##..|#..#.|#.#..|.#...|#.#.#|#..#.|.##.#",
    "/": "....#|...#.|...#.|..#..|.#...|.#...|#....",
}

PIX = 100          # font units per pixel
ADVANCE = 600      # 5 pixels + 1 pixel gap


def glyph_name(ch: str) -> str:
    from fontTools.agl import UV2AGL  # noqa: PLC0415  (optional dependency)
    return UV2AGL.get(ord(ch), f"uni{ord(ch):04X}")


def build_pixel_font(family: str, out_base: Path) -> None:
    try:
        from fontTools.fontBuilder import FontBuilder
        from fontTools.pens.ttGlyphPen import TTGlyphPen
        import brotli  # noqa: F401  (needed for WOFF2)
    except ImportError:
        sys.exit("fonts need fontTools and brotli: pip install fonttools brotli "
                 "(or pass --no-fonts)")

    def rect(pen, x0, y0, x1, y1):
        # clockwise outer contour (TrueType convention)
        pen.moveTo((x0, y0))
        pen.lineTo((x0, y1))
        pen.lineTo((x1, y1))
        pen.lineTo((x1, y0))
        pen.closePath()

    glyph_order = [".notdef", "space"]
    cmap = {0x20: "space", 0xA0: "space"}
    glyphs = {}
    metrics = {}

    pen = TTGlyphPen(None)
    rect(pen, 50, 0, 550, 700)
    # inner counter-clockwise contour makes a hollow box
    pen.moveTo((120, 70))
    pen.lineTo((480, 70))
    pen.lineTo((480, 630))
    pen.lineTo((120, 630))
    pen.closePath()
    glyphs[".notdef"] = pen.glyph()
    metrics[".notdef"] = (ADVANCE, 50)
    glyphs["space"] = TTGlyphPen(None).glyph()
    metrics["space"] = (ADVANCE, 0)

    for ch, pattern in GLYPHS_5X7.items():
        name = glyph_name(ch)
        rows = pattern.split("|")
        pen = TTGlyphPen(None)
        min_col = 5
        for r, row in enumerate(rows):
            y1 = (7 - r) * PIX
            y0 = y1 - PIX
            c = 0
            while c < 5:
                if row[c] == "#":
                    start = c
                    while c < 5 and row[c] == "#":
                        c += 1
                    rect(pen, start * PIX, y0, c * PIX, y1)
                    min_col = min(min_col, start)
                else:
                    c += 1
        glyphs[name] = pen.glyph()
        metrics[name] = (ADVANCE, min_col * PIX)
        glyph_order.append(name)
        cmap[ord(ch)] = name
        if ch.isalpha():
            cmap[ord(ch.lower())] = name  # lower case shares the capitals

    fb = FontBuilder(1000, isTTF=True)
    fixed_time = 3_786_825_600  # 2024-01-01T00:00:00Z in the 1904 epoch
    fb.updateHead(created=fixed_time, modified=fixed_time)
    fb.setupGlyphOrder(glyph_order)
    fb.setupCharacterMap(cmap)
    fb.setupGlyf(glyphs)
    fb.setupHorizontalMetrics(metrics)
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({
        "familyName": family,
        "styleName": "Regular",
        "uniqueFontIdentifier": f"{family.replace(' ', '')}-Regular;1.000",
        "fullName": f"{family} Regular",
        "psName": f"{family.replace(' ', '')}-Regular",
        "version": "Version 1.000",
        "copyright": "Generated for the shard-assets sample sites; public domain (CC0).",
    })
    fb.setupOS2(
        sTypoAscender=800, sTypoDescender=-200, sTypoLineGap=200,
        usWinAscent=1000, usWinDescent=200,
        sxHeight=500, sCapHeight=700, achVendID="NONE",
        fsType=0,
    )
    fb.setupPost()
    font = fb.font
    font.recalcTimestamp = False

    for flavor, suffix in (("woff2", ".woff2"), ("woff", ".woff")):
        font.flavor = flavor
        path = out_base.with_suffix(suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        font.save(str(path))
        written.append(path)


# --------------------------------------------------------------------------
# the catalogue
# --------------------------------------------------------------------------

ALBUMS = [
    # slug, title, artist slug, dark colour, light colour, accent
    ("aurora-lines", "Aurora Lines", "glass-harbour", "#0f766e", "#99f6e4", "#f0abfc"),
    ("copper-field", "Copper Field Recordings", "mira-okafor", "#9a3412", "#fdba74", "#fef08a"),
    ("night-ferry", "Night Ferry", "low-tide-choir", "#1e1b4b", "#818cf8", "#fde68a"),
    ("paper-satellites", "Paper Satellites", "juno-and-the-static", "#9d174d", "#f9a8d4", "#a7f3d0"),
    ("saltwater-hymns", "Saltwater Hymns", "fenwick-rowe", "#14532d", "#86efac", "#bae6fd"),
]

SKIN = [(241, 194, 160), (141, 85, 56), (224, 172, 125), (198, 134, 86), (255, 219, 182)]


def make_pelican() -> None:
    for i, (slug, title, artist, dark, light, accent) in enumerate(ALBUMS):
        c1, c2, ac = hex_rgb(dark), hex_rgb(light), hex_rgb(accent)
        for size in (64, 128, 192):
            png(PEL_CONTENT / "images" / "covers" / f"{slug}-{size}.png", (size, size),
                cover_art(c1, c2, ac))
        png(PEL_CONTENT / "images" / "banners" / f"{slug}-wide.png", (240, 60),
            banner_art(c1, c2, ac))
        png(PEL_CONTENT / "images" / "banners" / f"{slug}-wide@2x.png", (480, 120),
            banner_art(c1, c2, ac))
        png(PEL_CONTENT / "images" / "artists" / f"{artist}.png", (48, 48),
            portrait_art(c2, SKIN[i], c1))
        write_text(PEL_CONTENT / "media" / "waveforms" / f"{slug}.svg",
                   waveform_svg(title, dark, seed_of(slug)))

    wav_bytes_to(PEL_CONTENT / "media" / "clips" / "night-ferry-preview.wav")

    ink, paper, red = (31, 36, 48), (247, 243, 234), (228, 87, 46)
    img = PEL_STATIC / "images"
    png(img / "paper-texture.png", (32, 32), paper_texture(paper, 7))
    png(img / "header-stripes.png", (32, 32), stripes((31, 36, 48), (42, 48, 62)))
    png(img / "divider.png", (64, 4), hgradient(paper, red))
    png(img / "hero-dots.png", (16, 16), dots(paper, (221, 212, 194)))
    png(img / "hero-dots@2x.png", (32, 32), dots(paper, (221, 212, 194)))
    png(img / "icon-note.png", (16, 16), icon_note(red), alpha=True)
    png(img / "icon-play.png", (16, 16), icon_play(red), alpha=True)
    write_text(img / "logo.svg", LOGO_SVG)

    icons = PEL_STATIC / "icons"
    fav = png(icons / "favicon.png", (32, 32), vinyl_icon(paper, ink, red))
    png(icons / "apple-touch-icon.png", (180, 180), vinyl_icon(paper, ink, red))
    write_bytes(PEL_CONTENT / "extra" / "favicon.ico", ico_bytes(fav, 32))


def make_mkdocs() -> None:
    img = MKDOCS_DOCS / "img"
    blue, orange, green = (47, 111, 222), (228, 87, 46), (46, 158, 91)
    for scale, suffix in ((1, ""), (2, "@2x")):
        png(img / f"overview{suffix}.png", (160 * scale, 90 * scale), screenshot_art(blue, 1))
        png(img / f"install-step1{suffix}.png", (120 * scale, 80 * scale), screenshot_art(green, 2))
        png(img / f"install-step2{suffix}.png", (120 * scale, 80 * scale), screenshot_art(green, 3))
    for width in (160, 240, 320):
        png(img / f"library-{width}w.png", (width, width * 9 // 16), screenshot_art(orange, 4))
    png(img / "player-wide.png", (320, 100), screenshot_art(blue, 5))
    png(img / "player-narrow.png", (120, 120), screenshot_art(blue, 6))
    png(img / "player-fallback.png", (200, 100), screenshot_art(blue, 7))
    png(img / "queue-64.png", (64, 64), vinyl_icon((255, 255, 255), (40, 44, 52), orange))
    png(img / "queue-128.png", (128, 128), vinyl_icon((255, 255, 255), (40, 44, 52), orange))
    png(img / "icon-note.png", (16, 16), icon_symbol(blue, "note"), alpha=True)
    png(img / "icon-tip.png", (16, 16), icon_symbol(green, "tip"), alpha=True)
    png(img / "icon-warning.png", (16, 16), icon_symbol(orange, "warning"), alpha=True)
    png(img / "callout-bg.png", (32, 32), paper_texture((246, 248, 250), 11))
    png(img / "header-pattern.png", (24, 24), stripes((240, 244, 252), (228, 236, 250), 6))
    png(img / "tuning-knob.png", (48, 48), vinyl_icon((255, 255, 255), blue, (255, 255, 255)))
    write_text(img / "tuning-graph.svg", TUNING_GRAPH_SVG)
    write_text(img / "architecture.svg", ARCHITECTURE_SVG)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-fonts", action="store_true", help="skip the WOFF/WOFF2 fonts")
    args = parser.parse_args(argv)

    make_pelican()
    make_mkdocs()
    if not args.no_fonts:
        build_pixel_font("Shard Sample", PEL_STATIC / "fonts" / "sample")
        build_pixel_font("Harbour Pixel", MKDOCS_DOCS / "fonts" / "harbour-pixel")

    total = sum(p.stat().st_size for p in written)
    for p in written:
        print(f"{p.stat().st_size:7d}  {p.relative_to(ROOT)}")
    print(f"{len(written)} files, {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
