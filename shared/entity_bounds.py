"""Table Storage's size limits, and values bounded to fit them by construction (pure functions).

The service refuses a string property over 64 KiB (UTF-16: 32,768 code units), a binary property over 64 KiB
(`PropertyValueTooLarge`) and an entity over 1 MiB (`EntityTooLarge`). Every property the outbox stores is cut
here to a fixed budget, so an incident entity stays far below 1 MiB whatever a pipeline or an alert holds
(`entity_size` computes the service's own measure; a test checks the worst case).

An incident's details that do not fit even compressed are shortened (long texts cut, long lists cut), and the
payload says so in `REDUCED`; the email then carries a note. Shortening is deterministic: the same incident
always shortens the same way, so detecting it again does not look like a change. Details that cannot be stored
at all (they do not fit even shortened, or the service refused them) leave the minimal form (`MINIMAL`: key,
labels, reason), which still makes an email.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

PAYLOAD_BYTES = 64_000  # compressed details (binary property; the service allows 65,536 bytes)
TEXT_UNITS = 32_000  # any string property, in UTF-16 code units (the service allows 32,768)
KEY_CHARS = 512  # an incident key (the row key is its hash; the key is stored beside it)
LABEL_CHARS = 1_024  # one label value (workspace, experiment, compute, rule, operation)
LABELS_CHARS = 16_000  # all labels of an incident, as JSON
REDUCED = "_reduced"  # payload key: why and how the details were shortened
MINIMAL = "_minimal"  # payload key: the details could not be stored at all; only the key and labels are left
# (longest text, most list items) kept, tried in this order until the compressed details fit
_SHORTENING = ((4_000, 400), (2_000, 200), (1_000, 100), (500, 50), (250, 20), (120, 10), (60, 6))


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def bounded_text(text: str, units: int = TEXT_UNITS) -> str:
    """`text` cut to at most `units` UTF-16 code units, saying how much was cut."""
    data = text.encode("utf-16-le", "surrogatepass")
    if len(data) <= 2 * units:
        return text
    marker = f"… [{len(text)} characters, cut]"
    # A pair cut in half (a character outside the BMP) is dropped by "ignore".
    return data[: 2 * (units - len(marker))].decode("utf-16-le", "ignore") + marker


def bounded_key(key: str) -> str:
    """A key of at most KEY_CHARS: a longer one keeps its start and gets a hash of the whole, so two long keys
    stay distinct and the same key always bounds the same way (idempotent)."""
    if len(key) <= KEY_CHARS:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{key[: KEY_CHARS - 33]}~{digest}"


def bounded_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Label values cut to LABEL_CHARS; labels past LABELS_CHARS in all are left out (routing and silences
    match on the few fixed labels the detectors set, which come first)."""
    bounded: dict[str, str] = {}
    size = 2
    for label, text in labels.items():
        name, value = str(label)[:100], str(text)[:LABEL_CHARS]
        size += len(json.dumps({name: value})) + 2
        if size > LABELS_CHARS:
            break
        bounded[name] = value
    return bounded


def bounded_recipients(recipients: tuple[str, ...]) -> tuple[str, ...]:
    """As many recipients as fit in one string property, joined by commas (far more than ACS takes per email)."""
    kept: list[str] = []
    size = -1
    for address in recipients:
        size += len(address) + 1
        if size > TEXT_UNITS:
            break
        kept.append(address)
    return tuple(kept)


def compress(payload: Mapping[str, Any]) -> bytes:
    return zlib.compress(json.dumps(payload, sort_keys=True, default=str).encode())


def fit_payload(payload: Mapping[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The payload (shortened if it must be) and its compressed form, at most PAYLOAD_BYTES.

    Raises PayloadTooLarge when even the shortest form does not fit (for example thousands of keys); the caller
    stores the incident's minimal form instead."""
    blob = compress(payload)
    if len(blob) <= PAYLOAD_BYTES:
        return dict(payload), blob
    for text, items in _SHORTENING:
        shortened = _shorten({k: v for k, v in payload.items() if k != REDUCED}, text, items)
        shortened[REDUCED] = (f"The details were {len(blob):,} bytes compressed, over Table Storage's 64 KiB "
                              f"property limit: texts were cut to {text:,} characters and lists to {items} items.")
        blob = compress(shortened)
        if len(blob) <= PAYLOAD_BYTES:
            return shortened, blob
    raise PayloadTooLarge(f"the details do not fit in {PAYLOAD_BYTES:,} bytes even shortened")


class PayloadTooLarge(ValueError):
    pass


def _shorten(value: Any, text: int, items: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= text else value[: text - 1] + "…"
    if isinstance(value, Mapping):
        return {key: _shorten(item, text, items) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_shorten(item, text, items) for item in list(value)[:items]]
    return value


def entity_size(entity: Mapping[str, Any]) -> int:
    """The entity's size as the service measures it against its 1 MiB limit: 4 bytes, plus the keys in UTF-16,
    plus for each property 8 bytes, its name in UTF-16 and its value (strings in UTF-16 + 4, binary + 4)."""
    size = 4
    for name, value in entity.items():
        if name in ("PartitionKey", "RowKey"):
            size += 2 * utf16_units(str(value))
            continue
        size += 8 + 2 * utf16_units(name)
        if isinstance(value, str):
            size += 2 * utf16_units(value) + 4
        elif isinstance(value, bytes | bytearray):
            size += len(value) + 4
        elif isinstance(value, bool):
            size += 1
        elif isinstance(value, int | float | datetime):
            size += 8
        else:
            size += 2 * utf16_units(str(value)) + 4
    return size
