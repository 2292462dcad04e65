"""Settings validation: every mistake is one line naming the setting and the fix."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from shard_assets.config import load_settings
from shard_assets.errors import ConfigError

HOSTS = ["cdn1.example.com", "cdn2.example.com"]


def load(**options: object):  # type: ignore[no-untyped-def]
    return load_settings(options, base_dir=Path("/site"), source="test.yml")


def test_defaults() -> None:
    settings = load(hosts=HOSTS)
    assert settings.host_names == tuple(HOSTS)
    assert settings.manifest == Path("/site/shard-manifest.json")
    assert settings.max_imbalance == Fraction(1, 10)
    assert settings.url_prefix == "https://"
    assert settings.exclude == () and not settings.strict and settings.enabled


def test_weights_and_relative_manifest() -> None:
    settings = load(hosts={"a.example.com": 3, "b.example.com": 0.5}, manifest="conf/m.json")
    assert [(h.name, h.weight) for h in settings.hosts] == [
        ("a.example.com", 3),
        ("b.example.com", Fraction(1, 2)),
    ]
    assert settings.manifest == Path("/site/conf/m.json")


def test_attributes_setting() -> None:
    settings = load(hosts=HOSTS, attributes=["img[data-src]", "IMG[data-srcset]"])
    assert settings.attributes == (("img", "data-src", "url"), ("img", "data-srcset", "srcset"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "'hosts' is required"),
        ({"hosts": []}, "'hosts' is required"),
        ({"hosts": "cdn1.example.com"}, "must be a list of hostnames"),
        ({"hosts": [""]}, "is empty"),
        ({"hosts": ["a.example.com", "A.example.com"]}, "lists 'A.example.com' twice"),
        (
            {"hosts": ["https://cdn1.example.com"]},
            "has a scheme: write the bare hostname 'cdn1.example.com'",
        ),
        ({"hosts": ["cdn1.example.com/static"]}, "has a path"),
        ({"hosts": ["cdn1.example.com:8080"]}, "has a port"),
        ({"hosts": [" cdn1.example.com"]}, "whitespace"),
        ({"hosts": ['a.com"><script>']}, "not a valid hostname"),
        ({"hosts": {"a.example.com": 0}}, "weights must be positive"),
        ({"hosts": {"a.example.com": -1}}, "weights must be positive"),
        ({"hosts": {"a.example.com": True}}, "weights must be positive"),
        ({"hosts": HOSTS, "max_imbalance": -0.1}, "must be 0 or more"),
        ({"hosts": HOSTS, "max_imbalance": "lots"}, "must be a number"),
        ({"hosts": HOSTS, "scheme": "ftp"}, "must be one of https, http, relative"),
        ({"hosts": HOSTS, "site_url": "example.org"}, "is not an http(s) URL"),
        ({"hosts": HOSTS, "strict": "yes"}, "must be true or false"),
        ({"hosts": HOSTS, "exclude": [1]}, "list of non-empty strings"),
        ({"hosts": HOSTS, "attributes": ["data-src"]}, "write element[attribute]"),
        ({"hosts": HOSTS, "max_imbalence": 0.2}, "did you mean 'max_imbalance'?"),
        ({"hosts": HOSTS, "colour": 1}, "known settings:"),
    ],
)
def test_mistakes(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(**options)
    assert message in str(error.value)
    assert str(error.value).startswith("test.yml: ")
    assert "\n" not in str(error.value)
