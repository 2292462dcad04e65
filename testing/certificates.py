"""A test certificate authority (trustme) and the PEM files servers read.

Each certificate is written as ``NAME.pem`` (its chain, as a server sends it:
without the CA, unless Chromium's ``--ignore-certificate-errors-spki-list`` needs it
there), ``NAME.key`` (its private key) and ``NAME.bundle.pem`` (the chain and the
key in one file, as HAProxy's ``crt`` reads it). Clients trust
the CA only: :meth:`LocalCA.context` for httpx, ``ca.pem`` for curl and
``check-hosts --ca-file``.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization


@dataclass(frozen=True)
class Certificate:
    """The files of one certificate and the names it covers."""

    names: tuple[str, ...]
    chain: Path
    key: Path
    bundle: Path


class BrowserOrderContext(ssl.SSLContext):
    """An SSL context that offers the ALPN protocols ``h2`` first.

    httpcore (httpx's transport) offers ``http/1.1, h2`` in that order, even with
    HTTP/1.1 turned off; a server that follows the client's order (lighttpd) then
    picks HTTP/1.1, and an HTTP/2-only httpx client speaks HTTP/2 on the HTTP/1.1
    connection anyway (lighttpd answers ``505``). Browsers and curl offer ``h2``
    first.
    """

    def set_alpn_protocols(self, alpn_protocols: Iterable[str]) -> None:
        """Set the protocols, ``h2`` first."""
        super().set_alpn_protocols(sorted(alpn_protocols, key=lambda p: p != "h2"))


class LocalCA:
    """A fresh CA whose files live in ``folder`` (``ca.pem``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._ca = trustme.CA()
        self.ca_file = folder / "ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_file))

    def issue(self, stem: str, *names: str, with_ca: bool = False) -> Certificate:
        """A certificate for ``names``, written as ``stem.pem`` (with the CA at the end
        of the chain if ``with_ca``), ``stem.key`` and ``stem.bundle.pem``."""
        leaf = self._ca.issue_cert(*names)
        chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
        if with_ca:
            chain += self._ca.cert_pem.bytes()
        key = leaf.private_key_pem.bytes()
        certificate = Certificate(
            tuple(names),
            self.folder / f"{stem}.pem",
            self.folder / f"{stem}.key",
            self.folder / f"{stem}.bundle.pem",
        )
        certificate.chain.write_bytes(chain)
        certificate.key.write_bytes(key)
        certificate.bundle.write_bytes(chain + key)
        return certificate

    def context(self) -> ssl.SSLContext:
        """A client context that trusts this CA only, and offers ``h2`` before
        ``http/1.1`` in ALPN, as browsers and curl do (:class:`BrowserOrderContext`)."""
        context = BrowserOrderContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cafile=str(self.ca_file))
        return context

    @property
    def spki(self) -> str:
        """base64 SHA-256 of the CA's SubjectPublicKeyInfo, for Chromium's SPKI list."""
        spki = (
            x509.load_pem_x509_certificate(self._ca.cert_pem.bytes())
            .public_key()
            .public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")
