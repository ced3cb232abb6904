"""The coarse browser description in recovery mails and change notices."""

from __future__ import annotations

import pytest

from portal.origin import describe

AGENTS = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0": (
        "Firefox",
        "Windows",
    ),
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91": ("Edge", "Windows"),
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15": ("Safari", "macOS"),
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1": ("Chrome", "iOS"),
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36": ("Chrome", "Android"),
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0": ("Opera", "Linux"),
    "curl/8.5.0": ("", ""),
    "": ("", ""),
}


@pytest.mark.parametrize("agent,expected", AGENTS.items())
def test_describe_names_only_well_known_browsers_and_systems(agent, expected):
    assert describe(agent) == expected


def test_free_text_never_reaches_the_mail():
    assert describe("Evil<script>/1.0 (Windows) Firefox/1") == ("Firefox", "Windows")
    assert describe("Totally Custom Browser 3000") == ("", "")
