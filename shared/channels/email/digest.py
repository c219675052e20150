"""A storm digest's order (pure): incidents grouped by their first error line, the groups and the incidents in
them oldest first, by when each incident really began (its view's digest line), not when it was recorded."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.detectors.base import DigestLine
from shared.outbox.records import OutboxRecord

# Numbers and hex ids differ between otherwise equal errors ("step 3 failed", "run 7f3a..."): not a new group.
_VARYING = re.compile(r"\b(?:[0-9a-f]{8,}|\d+)\b", re.IGNORECASE)


@dataclass(frozen=True)
class DigestEntry:
    record: OutboxRecord
    subject: str
    line: DigestLine

    @property
    def began(self) -> datetime:
        return self.line.at or self.record.created_at


@dataclass(frozen=True)
class ErrorGroup:
    error: str  # the first entry's error line, as written
    entries: list[DigestEntry]


def group_by_error(entries: Sequence[DigestEntry]) -> list[ErrorGroup]:
    groups: dict[str, list[DigestEntry]] = {}
    for entry in sorted(entries, key=lambda e: (e.began, e.record.key)):
        groups.setdefault(_VARYING.sub("#", entry.line.error.strip().lower()), []).append(entry)
    return [ErrorGroup(members[0].line.error, members) for members in groups.values()]
