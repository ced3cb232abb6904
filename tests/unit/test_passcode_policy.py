"""The passcode rules (portal/passcodes/policy.py), without an app for the pure checks."""

from __future__ import annotations

from datetime import date

import pytest

from portal.passcodes import policy


@pytest.mark.parametrize("code", ["730541", "4096", "918273645012", "２７３０５１"])
def test_acceptable_passcodes(code):
    assert policy.problems(code, len(policy.normalize(code))) == []


@pytest.mark.parametrize("code", ["12a456", "12 34x", "-12345", "12.456", "", "٣٤٥٦٧٨"])
def test_digits_only(code):
    assert policy.problems(code, 6) == ["digits"]


@pytest.mark.parametrize("code,length", [("73054", 6), ("7305419", 6), ("8402", 6)])
def test_exact_length(code, length):
    assert "length" in policy.problems(code, length)


@pytest.mark.parametrize(
    "code",
    [
        "1234",
        "4321",
        "123456",
        "654321",
        "7890",
        "2109",
        "901234",
        "551234",
        "987650",
        "012345678901",
    ],
)
def test_runs_up_or_down_are_refused(code):
    assert "no_sequence" in policy.problems(code, len(code))


@pytest.mark.parametrize("code", ["123709", "135790", "120943"])
def test_short_runs_are_allowed(code):
    assert "no_sequence" not in policy.problems(code, len(code))


@pytest.mark.parametrize(
    "code",
    ["1111", "000000", "500007", "1212", "121212", "123123", "12121", "906906906906", "4747"],
)
def test_repeats_and_repeated_patterns_are_refused(code):
    assert "no_repeat" in policy.problems(code, len(code))


@pytest.mark.parametrize("code", ["1122", "730541", "1221", "500750"])
def test_other_codes_are_not_repeats(code):
    assert "no_repeat" not in policy.problems(code, len(code))


def test_personal_digits_are_refused():
    context = policy.context_digits(["jdoe1987", "j.doe.55021@example.test", "12", "4821"])
    assert context == ["1987", "55021", "4821"]
    assert "not_personal" in policy.problems("198740", 6, context)  # contains 1987
    assert "not_personal" in policy.problems("5502", 4, context)  # part of 55021
    assert "not_personal" in policy.problems("748210", 6, context)  # the account ID
    assert "not_personal" not in policy.problems("730541", 6, context)
    assert "not_personal" not in policy.problems("120943", 6, context)  # "12" is too short


def test_birthday_forms_cover_common_writings():
    forms = policy.date_forms(date(1987, 3, 12))
    assert {"1987", "1203", "0312", "120387", "031287", "870312", "12031987"} <= set(forms)
    context = policy.context_digits([date(1987, 3, 12)])
    assert "not_personal" in policy.problems("120387", 6, context)
    assert "not_personal" in policy.problems("031287", 6, context)


def test_several_problems_are_all_reported():
    assert policy.problems("1111", 6) == ["length", "no_repeat"]


def test_evaluation_texts_and_confirmation(app):
    with app.test_request_context():
        empty = policy.evaluate("", 6)
        assert empty.ok and all(rule.ok is None for rule in empty.rules)
        assert [r.key for r in empty.rules] == [
            "digits",
            "length",
            "no_sequence",
            "no_repeat",
            "not_personal",
        ]
        bad = policy.evaluate("123456", 6, confirm="123457")
        assert not bad.ok
        assert {r.key: r.ok for r in bad.rules}["no_sequence"] is False
        assert policy.error_text("length", 6) not in bad.errors
        assert policy.error_text("match", 6) in bad.errors
        good = policy.evaluate("730541", 6, confirm="730541")
        assert good.ok and all(rule.ok for rule in good.rules)
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert "chiffres" in " ".join(policy.evaluate("12", 6).errors)
        assert policy.evaluate("12", 6).errors == [policy.error_text("length", 6)]
