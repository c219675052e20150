"""Redaction of secrets in log text (shared/core/redact.py): every secret shape, anywhere in any text, is gone;
the rest of the text, its lines and a second pass are left alone."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import assume, example, given
from hypothesis import strategies as st

from sandbox.step_logs import DEMO_SECRETS, train_log
from shared.core.redact import REDACTED, redact

# What surrounds a secret in a log: words, punctuation, spaces and line breaks.
_AROUND = st.text(st.sampled_from("abcxyzABC019 .,;:()[]/-_\n\t\"'"), max_size=40)
_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_TOKEN = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _value(alphabet: str, low: int = 12, high: int = 60) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), min_size=low, max_size=high)


def _secret_forms() -> st.SearchStrategy[tuple[str, str]]:
    """(the text a log would print, the secret in it)."""
    sig = _value(_BASE64 + "%=")
    sas = st.builds(
        lambda v, host: (f"https://{host}/azureml/log.txt?sv=2019-07-07&sr=b&sig={v}&se=2026-01-01", v),
        sig,
        st.sampled_from(["acct.blob.core.windows.net", "127.0.0.1:8443", "x.dfs.core.windows.net"]),
    )
    bare_sas = st.builds(lambda v: (f"/container/blob?sp=r&sig={v}", v), sig)
    bearer = st.builds(
        lambda v, scheme: (f"Authorization: {scheme} {v}", v),
        _value(_TOKEN + "."),
        st.sampled_from(["Bearer", "bearer", "BEARER"]),
    )
    jwt = st.builds(
        lambda a, b, c: (f"eyJ{a}.eyJ{b}.{c}", f"{a}.eyJ{b}"),
        _value(_TOKEN, 8, 30),
        _value(_TOKEN, 8, 30),
        _value(_TOKEN, 0, 30),
    )
    key = st.builds(
        lambda v, name: (f"DefaultEndpointsProtocol=https;AccountName=a;{name}={v};EndpointSuffix=x", v),
        _value(_BASE64 + "="),
        st.sampled_from(["AccountKey", "SharedAccessKey", "accountkey"]),
    )
    names = st.sampled_from(
        [
            "password",
            "pwd",
            "secret",
            "client_secret",
            "DB_PASSWORD",
            "api_key",
            "x-api-key",
            "access_token",
            "refresh_token",
            "AZURE_CLIENT_SECRET",
            "credential",
        ]
    )
    pair = st.builds(
        lambda n, sep, v: (f"{n}{sep}{v}", v), names, st.sampled_from(["=", ": ", " = ", ":"]), _value(_TOKEN + "!@$*~")
    )
    quoted = st.builds(lambda n, v: (f'{{"{n}": "{v}"}}', v), names, _value(_TOKEN + " !@$*~"))
    account_key = st.builds(lambda v: (v + "==", v), _value(_BASE64, 86, 86))
    return st.one_of(sas, bare_sas, bearer, jwt, key, pair, quoted, account_key)


@given(_AROUND, _secret_forms(), _AROUND)
@example("", ("0" * 83 + "PWD==", "0" * 83 + "PWD"), "")  # a key whose last letters name a secret
def test_no_secret_survives_in_any_text(before: str, form: tuple[str, str], after: str) -> None:
    text, secret = form
    assume(secret not in before and secret not in after)  # a secret the surrounding text also prints by itself
    assert secret not in redact(f"{before} {text} {after}")


@given(st.lists(st.one_of(_secret_forms().map(lambda form: form[0]), _AROUND), max_size=6))
def test_lines_are_kept_and_a_second_pass_changes_nothing(parts: list[str]) -> None:
    text = "\n".join(parts)
    once = redact(text)
    assert once.count("\n") == text.count("\n")
    assert redact(once) == once


@given(st.text())
@example("password=[REDACTED]")
@example("Bearer [REDACTED] sig=[REDACTED]")
def test_any_text_keeps_its_lines_and_is_stable(text: str) -> None:
    once = redact(text)
    assert once.splitlines() == once.splitlines() and once.count("\n") == text.count("\n")
    assert redact(once) == once


_WORDS = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789"), min_size=1, max_size=12).filter(
    lambda word: word not in ("bearer", "basic") and not word.startswith("eyj")
)


@given(st.lists(_WORDS, max_size=20), st.sampled_from([" ", "\n", ", ", ". ", " - "]))
def test_plain_log_text_is_left_alone(words: list[str], separator: str) -> None:
    text = separator.join(words)
    assert redact(text) == text


def test_the_demo_log_keeps_what_helps_and_loses_its_three_secrets() -> None:
    log = redact(train_log(datetime(2026, 1, 2, 11, 5, tzinfo=UTC)))
    assert not [secret for secret in DEMO_SECRETS if secret in log]
    assert f"https://stchurnprod01.blob.core.windows.net/training-data/churn/2026-01.parquet?{REDACTED}" in log
    assert f"'Authorization': 'Bearer {REDACTED}'" in log
    assert f"AccountName=stchurnprod01;AccountKey={REDACTED};EndpointSuffix=core.windows.net" in log
    assert "ValueError: Input contains NaN, infinity or a value too large for dtype('float64')." in log


def test_words_that_look_like_keys_but_are_not_are_kept() -> None:
    text = "max_tokens=512 tokenizer=bert token_type=bpe basic checks passed, keyword: value"
    assert redact(text) == text
