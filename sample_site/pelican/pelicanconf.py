"""Pelican settings for the shard-assets sample site.

Build from this folder with::

    pelican content -s pelicanconf.py -o output
"""

from pathlib import Path

HERE = Path(__file__).parent

AUTHOR = "Rosa Lindqvist"
SITENAME = "Shard Sample Music"
# The public address: shard-assets takes it as site_url, to name the files it keeps on
# the origin (web fonts, by default) from a stylesheet on a shard host.
SITEURL = "https://music.example.org"
RELATIVE_URLS = False

PATH = str(HERE / "content")
OUTPUT_PATH = str(HERE / "output")
THEME = str(HERE / "theme")

TIMEZONE = "UTC"
DEFAULT_LANG = "en"
DEFAULT_DATE_FORMAT = "%d %B %Y"

ARTICLE_PATHS = ["albums"]
PAGE_PATHS = ["pages"]
ARTICLE_URL = "albums/{slug}.html"
ARTICLE_SAVE_AS = "albums/{slug}.html"
PAGE_URL = "pages/{slug}.html"
PAGE_SAVE_AS = "pages/{slug}.html"

STATIC_PATHS = ["images", "media", "extra"]
EXTRA_PATH_METADATA = {
    "extra/favicon.ico": {"path": "favicon.ico"},
    "extra/robots.txt": {"path": "robots.txt"},
}

# Only the index, articles and pages are templated; everything else is off.
DIRECT_TEMPLATES = ["index"]
DEFAULT_PAGINATION = False
TAGS_SAVE_AS = ""
TAG_SAVE_AS = ""
CATEGORY_SAVE_AS = ""
CATEGORIES_SAVE_AS = ""
AUTHOR_SAVE_AS = ""
AUTHORS_SAVE_AS = ""
ARCHIVES_SAVE_AS = ""
YEAR_ARCHIVE_SAVE_AS = ""
MONTH_ARCHIVE_SAVE_AS = ""
DAY_ARCHIVE_SAVE_AS = ""
DRAFT_SAVE_AS = ""
DRAFT_PAGE_SAVE_AS = ""

FEED_ALL_ATOM = None
FEED_ALL_RSS = None
CATEGORY_FEED_ATOM = None
CATEGORY_FEED_RSS = None
TAG_FEED_ATOM = None
TAG_FEED_RSS = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
TRANSLATION_FEED_ATOM = None
TRANSLATION_FEED_RSS = None

MENUITEMS = []
DISPLAY_PAGES_ON_MENU = True
DISPLAY_CATEGORIES_ON_MENU = False

PLUGINS = ["shard_assets.plugins.pelican"]
SHARD_ASSETS = {
    "hosts": ["cdn1.example.com", "cdn2.example.com", "cdn3.example.com", "cdn4.example.com"],
    "manifest": str(HERE / "shard-manifest.json"),
    "max_imbalance": 0.10,
}
