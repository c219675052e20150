"""Redaction of secrets in text that leaves the app (emails, logs, tables): a step's log tail, an error message.

Pure. What counts as a secret, and what is left of it:

- a URL (or a bare path) that carries a SAS (`sig=` in its query): the whole query goes
  (`https://acct.blob.../std_log.txt?[REDACTED]`), because its other fields (`skoid`, `sktid`, `se` ...) say whose
  delegation key signed it and until when; a bare `sig=...` elsewhere loses its value;
- `Bearer <token>` and `Basic <credentials>`: the credential goes;
- a JWT anywhere (`eyJ...eyJ...`): all of it;
- connection-string keys (`AccountKey=`, `SharedAccessKey=`, `SharedAccessSignature=`): the value, up to `;`;
- `name=value` / `name: value` / `"name": "value"` pairs whose name ends in password, passwd, pwd, secret, token,
  api key, access key or credential (`DB_PASSWORD=...`, `"client_secret": "..."`, `refresh_token: ...`);
- a storage account key on its own (86 base64 characters and `==`).

Redaction never removes a line break, and redacting twice changes nothing more.
"""

from __future__ import annotations

import re

REDACTED = "[REDACTED]"

_SAS_QUERY = re.compile(r"(?i)\?[^\s#\"'<>?]*\bsig=[^\s#\"'<>]*")
_SIG = re.compile(r"(?i)\b(sig=)[^\s&;\"'<>]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# Bearer anywhere; Basic only where it is an Authorization header or looks like base64 (it is also a word).
_AUTH_SCHEME = re.compile(
    r"(?i)\b(bearer[ \t]+|authorization[ \t]*[:=][ \t]*basic[ \t]+|basic[ \t]+(?=[A-Za-z0-9+/]{16}))"
    r"(?!\[REDACTED\])[A-Za-z0-9._~+/=-]+"
)
_CONNECTION_KEY = re.compile(r"(?i)\b(AccountKey|SharedAccessKey|SharedAccessSignature)(\s*=\s*)[^;\s\"'<>]+")
_SENSITIVE_NAME = r"[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|credential)"
_PAIR = re.compile(
    rf"(?i)(?<![A-Za-z0-9])({_SENSITIVE_NAME})([\"']?[ \t]*[=:][ \t]*)"
    r"(?:\"([^\"\n]*)\"|'([^'\n]*)'|([^\s\"'&;,<>]+))"
)
_ACCOUNT_KEY = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==")


def redact(text: str) -> str:
    """`text` with every secret this module knows replaced by `[REDACTED]`."""
    if not text:
        return text
    text = _SAS_QUERY.sub(f"?{REDACTED}", text)
    text = _SIG.sub(lambda m: m.group(1) + REDACTED, text)
    text = _JWT.sub(REDACTED, text)
    text = _AUTH_SCHEME.sub(lambda m: m.group(1) + REDACTED, text)
    text = _CONNECTION_KEY.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    text = _ACCOUNT_KEY.sub(REDACTED, text)  # before the pairs: a key may end in letters that name a secret
    return _PAIR.sub(_redact_pair, text)


def _redact_pair(match: re.Match[str]) -> str:
    name, separator, double_quoted, single_quoted, bare = match.groups()
    if double_quoted is not None:
        return f'{name}{separator}"{REDACTED}"'
    if single_quoted is not None:
        return f"{name}{separator}'{REDACTED}'"
    return match.group(0) if bare.startswith(REDACTED) else f"{name}{separator}{REDACTED}"
