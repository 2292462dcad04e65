"""The placement settings: algorithm, bounded, balance_by, pin, max_page_imbalance."""

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
    assert settings.algorithm == "ring"
    assert settings.bounded is True
    assert settings.balance_by == "count"
    assert settings.pins == ()
    assert settings.max_page_imbalance is None


def test_values() -> None:
    settings = load(
        hosts={"cdn1.example.com": 2, "cdn2.example.com": 1},
        algorithm="rendezvous",
        bounded=False,
        balance_by="requests",
        pin={"js/*": "cdn2.example.com", "fonts/*": "cdn1.example.com"},
        max_page_imbalance=0.5,
    )
    assert settings.algorithm == "rendezvous" and settings.bounded is False
    assert settings.balance_by == "requests"
    assert settings.pins == (("js/*", "cdn2.example.com"), ("fonts/*", "cdn1.example.com"))
    assert settings.max_page_imbalance == Fraction(1, 2)


def test_jump_accepts_a_list_or_weights_of_one() -> None:
    assert load(hosts=HOSTS, algorithm="jump").algorithm == "jump"
    assert load(hosts=dict.fromkeys(HOSTS, 1), algorithm="jump").algorithm == "jump"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"algorithm": "rendevous"}, "did you mean 'rendezvous'?"),
        ({"algorithm": "md5"}, "must be one of ring, rendezvous, jump"),
        (
            {"hosts": {"cdn1.example.com": 2, "cdn2.example.com": 1}, "algorithm": "jump"},
            "'jump', which does not support host weights",
        ),
        ({"bounded": "no"}, "'bounded' must be true or false"),
        ({"balance_by": "size"}, "must be one of count, bytes, requests"),
        ({"balance_by": "request"}, "did you mean 'requests'?"),
        ({"pin": ["js/*"]}, "must map asset globs to hosts"),
        ({"pin": {"js/*": "cdn1.example.org"}}, "not in hosts: did you mean 'cdn1.example.com'?"),
        ({"pin": {"js/*": "CDN1.example.com"}}, "write it as configured: 'cdn1.example.com'"),
        ({"pin": {"js/*": "other.org"}}, "configured hosts: cdn1.example.com, cdn2.example.com"),
        ({"pin": {"": "cdn1.example.com"}}, "empty or non-string glob"),
        ({"max_page_imbalance": -1}, "'max_page_imbalance' must be 0 or more"),
        ({"max_page_imbalance": "half"}, "'max_page_imbalance' must be a number"),
        ({"pins": {}}, "did you mean 'pin'?"),
    ],
)
def test_mistakes(options: dict[str, object], message: str) -> None:
    options = {"hosts": HOSTS, **options}
    with pytest.raises(ConfigError) as error:
        load(**options)
    assert message in str(error.value)
    assert str(error.value).startswith("test.yml: ")
    assert "\n" not in str(error.value)
