"""Keyed pseudonyms and the controller keys they are made with."""

from __future__ import annotations

import os
import secrets

import pytest
from pydantic import SecretStr

from hygiene.errors import BadSetting, MissingSecretKey, WeakSecretKey
from hygiene.keys import MAKE_KEY, new_key, public_key
from hygiene.pseudonym import RECORD, SUBJECT, is_pseudonym, mask, pseudonym
from hygiene.settings import Settings

KEY = SecretStr("clienti-key-0123456789abcdef0123")
OTHER_KEY = SecretStr("calmo-key-0123456789abcdef01234")
#: keys strong enough for `Settings.key_for`, told apart by their text
FROM_JSON, FROM_VARIABLE, CALMO_JSON = (public_key("test", name) for name in ("json", "variable", "calmo-json"))


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment without any HYGIENE_ variable the machine running the tests may have set."""
    for name in list(os.environ):
        if name.upper().startswith("HYGIENE_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_a_pseudonym_is_the_kind_and_64_hex_digits() -> None:
    reference = pseudonym(KEY, SUBJECT, "ann@example.se")

    assert reference.startswith("subject:")
    assert len(reference.removeprefix("subject:")) == 64
    assert is_pseudonym(reference)


def test_a_pseudonym_is_stable() -> None:
    assert pseudonym(KEY, SUBJECT, "ann@example.se") == pseudonym(KEY, SUBJECT, "ann@example.se")


def test_pseudonyms_differ_per_key() -> None:
    assert pseudonym(KEY, SUBJECT, "ann@example.se") != pseudonym(OTHER_KEY, SUBJECT, "ann@example.se")


def test_pseudonyms_of_one_value_differ_per_kind() -> None:
    as_subject = pseudonym(KEY, SUBJECT, "4711")
    as_record = pseudonym(KEY, RECORD, "4711")

    assert as_subject.split(":")[1] != as_record.split(":")[1]


def test_emails_are_compared_without_case_and_surrounding_blanks() -> None:
    assert pseudonym(KEY, SUBJECT, " Ann@Example.SE ") == pseudonym(KEY, SUBJECT, "ann@example.se")


def test_other_values_keep_their_case() -> None:
    assert pseudonym(KEY, RECORD, "Folder/A.pdf") != pseudonym(KEY, RECORD, "folder/a.pdf")


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        pseudonym(SecretStr(""), SUBJECT, "ann@example.se")


def test_mask_keeps_the_kind_and_the_last_six_hex_digits() -> None:
    reference = pseudonym(KEY, RECORD, "contact-1")

    assert mask(reference) == f"record:…{reference[-6:]}"


def test_mask_refuses_what_is_not_a_pseudonym_without_echoing_it() -> None:
    with pytest.raises(ValueError) as raised:
        mask("ann@example.se")

    assert "ann" not in str(raised.value)


def test_controller_keys_are_read_from_a_json_map(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("HYGIENE_CONTROLLER_KEYS", f'{{"Clienti": "{FROM_JSON}"}}')

    assert Settings().key_for("clienti").get_secret_value() == FROM_JSON


def test_controller_keys_are_read_one_variable_per_controller(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("HYGIENE_KEY_CALMO_AB", FROM_VARIABLE)

    assert Settings().key_for("calmo-ab").get_secret_value() == FROM_VARIABLE


def test_a_per_controller_variable_wins_over_the_json_map(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("HYGIENE_CONTROLLER_KEYS", f'{{"clienti": "{FROM_JSON}", "calmo": "{CALMO_JSON}"}}')
    environment.setenv("HYGIENE_KEY_CLIENTI", FROM_VARIABLE)

    settings = Settings()

    assert settings.key_for("clienti").get_secret_value() == FROM_VARIABLE
    assert settings.key_for("calmo").get_secret_value() == CALMO_JSON


def test_a_missing_key_names_the_controller_and_the_variable_to_set(environment: pytest.MonkeyPatch) -> None:
    with pytest.raises(MissingSecretKey) as raised:
        Settings().key_for("stressfri")

    message = str(raised.value)
    assert "'stressfri'" in message
    assert "HYGIENE_KEY_STRESSFRI" in message
    assert "\n" not in message


def test_secrets_never_show_in_repr_or_str(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("HYGIENE_KEY_CLIENTI", "top-secret-key")
    environment.setenv("HYGIENE_DATABASE_URL", "postgresql+psycopg://hygiene:db-password@db/evidence")

    settings = Settings()

    for shown in (repr(settings), str(settings)):
        assert "top-secret-key" not in shown
        assert "db-password" not in shown
        assert "hygiene:***@db/evidence" in shown


def test_the_default_database_is_a_sqlite_file_under_dot_hygiene(environment: pytest.MonkeyPatch) -> None:
    assert Settings().database_url == "sqlite:///.hygiene/hygiene.db"


@pytest.mark.parametrize(
    "weak",
    [
        "short-key",
        "test-only-key-calmo-7f3a9c",  # the tests' key before keys were checked
        "a" * 200,  # long, but one character
        "abcd" * 40,  # long, but a pattern
        "0123456789abcdef0123456789abcdef",  # 32 hex digits are 16 bytes
        "correct horse battery",
    ],
)
def test_a_weak_controller_key_is_refused_without_echoing_it(environment: pytest.MonkeyPatch, weak: str) -> None:
    environment.setenv("HYGIENE_KEY_CALMO", weak)

    with pytest.raises(WeakSecretKey) as refused:
        Settings().key_for("calmo")

    message = str(refused.value)
    assert weak not in message and "\n" not in message
    assert "HYGIENE_KEY_CALMO" in message and MAKE_KEY in message


def test_a_key_made_as_the_refusal_says_is_accepted(environment: pytest.MonkeyPatch) -> None:
    for made in (new_key(), secrets.token_hex(32)):
        environment.setenv("HYGIENE_KEY_CALMO", made)
        assert Settings().key_for("calmo").get_secret_value() == made


def test_a_key_map_of_the_wrong_shape_is_one_line_that_does_not_show_the_key(environment: pytest.MonkeyPatch) -> None:
    for value in ('{"calmo": ["s3cret-value-do-not-print"]}', '{"calmo": "s3cret-value-do-not-print"'):
        environment.setenv("HYGIENE_CONTROLLER_KEYS", value)

        with pytest.raises(BadSetting) as refused:
            Settings()

        message = str(refused.value)
        assert "s3cret" not in message and "HYGIENE_CONTROLLER_KEYS" in message and "\n" not in message
        assert refused.value.__suppress_context__


def test_the_ledger_key_is_required_and_checked(environment: pytest.MonkeyPatch) -> None:
    with pytest.raises(MissingSecretKey, match="HYGIENE_LEDGER_KEY"):
        Settings().chain_key()
    environment.setenv("HYGIENE_LEDGER_KEY", "ledger")
    with pytest.raises(WeakSecretKey, match="HYGIENE_LEDGER_KEY"):
        Settings().chain_key()
