"""What a source is: built from the app's clients and stores (`SourceDeps`), it gathers a unit's inputs
(`Gathered`) for its detector. The table of sources is in __init__.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shared.azure.arm import Arm
    from shared.azure.log_analytics import LogAnalytics
    from shared.azure.run_history import RunHistory
    from shared.core.budget import Budget
    from shared.outbox.store import IncidentStore
    from shared.settings import Settings


@dataclass(frozen=True)
class Gathered:
    inputs: Any = None
    rows: int = 0  # rows or resources read (the history row's count)
    complete: bool = True
    error: str = ""  # the unit could not be read: nothing is detected for it this tick
    absent_tables: tuple[str, ...] = ()


class SourceDeps(Protocol):
    """What a source is built from (the composition root, shared/app/, is one)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def logs(self) -> LogAnalytics: ...

    @property
    def incidents(self) -> IncidentStore: ...

    @property
    def arm(self) -> Arm: ...

    @property
    def run_history(self) -> RunHistory: ...


class Source(Protocol):
    @property
    def units(self) -> tuple[str, ...]:
        """What one tick reads, one unit each: Log Analytics workspace ids, Azure ML workspace resource ids."""
        ...

    def gather(self, detector: Any, unit: str, now: datetime, budget: Budget) -> Gathered: ...
