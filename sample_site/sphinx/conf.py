"""Sphinx configuration of "Tidewater", the shard-assets sample Sphinx project.

Build it (shard-assets installed, or this checkout on PYTHONPATH):

    sphinx-build -b html sample_site/sphinx sample_site/sphinx/_build/html
"""

project = "Tidewater"
author = "Shard Sample Team"
copyright = "Tidewater is fictional; these docs exist to demo shard-assets"
release = "2.4"

extensions = ["shard_assets.plugins.sphinx"]

# Shard every asset URL over four CDN hostnames. The manifest is relative to this
# folder; keep it (it is what keeps each asset on its host from build to build).
shard_assets = {
    "hosts": [
        "cdn1.example.com",
        "cdn2.example.com",
        "cdn3.example.com",
        "cdn4.example.com",
    ],
    "manifest": "shard-manifest.json",
    "max_imbalance": 0.10,
}

html_theme = "pydata_sphinx_theme"
html_baseurl = "https://docs.example.org/"
html_static_path = ["_static"]
html_css_files = ["css/tidewater.css"]
html_js_files = ["js/tidewater.js"]
html_logo = "_static/img/logo.svg"
html_favicon = "_static/img/favicon.png"
html_last_updated_fmt = None
# pydata-sphinx-theme logs a console error for an empty mode; choose one.
html_context = {"default_mode": "light"}
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": True,
}

exclude_patterns = ["_build", "shard-manifest.json"]
