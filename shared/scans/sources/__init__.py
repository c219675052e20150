"""THE SOURCE TABLE: name -> factory, for the periodic checks whose inputs are more than one KQL query's rows
(`DetectorSpec.source`): what each gathers, per unit (a workspace), for its detector's pure `detect`.

A source reads through the app's clients and stores (`SourceDeps`), within the tick's budget, and answers
`Gathered`: the inputs, or why the unit could not be read (then nothing is detected for it this tick, and the
next tick reads it again, as a window scan keeps its watermark).
"""

from __future__ import annotations

from collections.abc import Callable

from shared.scans.sources.base import Source, SourceDeps


def _stuck_runs(deps: SourceDeps) -> Source:
    from shared.scans.sources.stuck_runs import StuckRunSource

    return StuckRunSource(deps)


def _aml_schedules(deps: SourceDeps) -> Source:
    from shared.scans.sources.schedules import ScheduleSource

    return ScheduleSource(deps)


SOURCES: dict[str, Callable[[SourceDeps], Source]] = {
    "stuck-runs": _stuck_runs,
    "aml-schedules": _aml_schedules,
}
