"""The `stuck_runs:` section of the rules file: how long a pipeline run or step may stay unfinished.

stuck_runs:
  queued: PT2H        # NotStarted/Queued/Preparing/Provisioning/Starting, counted from the run's first row
  running: PT12H      # Running/Finalizing/CancelRequested, counted from its first Running row
  adaptive:           # a pipeline with history: longer than factor x p95 of its completed runs (null: off)
    factor: 3
    min_runs: 5
    minimum: PT30M
  repeat_every: PT12H # a reminder while it stays stuck (null: never)
  lookback: P7D
  overrides:          # first match wins; a limit it does not set comes from above
    - {experiment: "train-*", running: PT20H}
    - {workspace: ws-scratch, watch: false}
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, model_validator

from shared.rules.parts import Strict, iso_duration, pattern_matches


class AdaptiveLimit(Strict):
    factor: float = Field(default=3.0, ge=1.0, le=100.0)
    min_runs: int = Field(default=5, ge=2)  # completed runs of the pipeline in the lookback, at least
    minimum: timedelta = Field(default=timedelta(minutes=30), gt=timedelta(0))  # never shorter (late log rows)


class StuckRunOverride(Strict):
    """Patterns (shell wildcards, any case): `step` matches a step's display name when run history gave it,
    else its run id, and never a pipeline run."""

    workspace: str | None = None
    experiment: str | None = None
    step: str | None = None
    queued: timedelta | None = Field(default=None, gt=timedelta(0))
    running: timedelta | None = Field(default=None, gt=timedelta(0))
    adaptive: bool = True  # false: this override's limits (or the defaults), never the adaptive one
    watch: bool = True  # false: never report these runs

    @model_validator(mode="after")
    def _selects_something(self) -> StuckRunOverride:
        if self.workspace is None and self.experiment is None and self.step is None:
            raise ValueError("give at least one of workspace, experiment, step")
        return self

    def matches(self, workspace: str, experiment: str, step: str | None) -> bool:
        if self.step is not None and step is None:
            return False
        return (
            pattern_matches(self.workspace, workspace)
            and pattern_matches(self.experiment, experiment)
            and pattern_matches(self.step, step or "")
        )


class StuckRunRules(Strict):
    workspaces: tuple[str, ...] = ()  # Azure ML workspace name patterns; empty: every workspace
    queued: timedelta = Field(default=timedelta(hours=2), gt=timedelta(0))
    running: timedelta = Field(default=timedelta(hours=12), gt=timedelta(0))
    adaptive: AdaptiveLimit | None = AdaptiveLimit()
    repeat_every: timedelta | None = Field(default=timedelta(hours=12), gt=timedelta(0))
    # How far back status rows are read: a run stuck for longer drops out of sight (no reminder, no "finished").
    lookback: timedelta = Field(default=timedelta(days=7), ge=timedelta(hours=1), le=timedelta(days=14))
    overrides: tuple[StuckRunOverride, ...] = ()

    @model_validator(mode="after")
    def _limits_fit_the_lookback(self) -> StuckRunRules:
        limits = [self.queued, self.running] + [
            limit for override in self.overrides for limit in (override.queued, override.running) if limit
        ]
        if max(limits) >= self.lookback:
            raise ValueError(
                f"a limit of {iso_duration(max(limits))} is never reached inside the lookback of "
                f"{iso_duration(self.lookback)}: make lookback longer than every limit"
            )
        return self

    def override_for(self, workspace: str, experiment: str, step: str | None) -> tuple[int, StuckRunOverride] | None:
        """The first matching override and its 1-based position (the email names it)."""
        return next(
            (
                (position, override)
                for position, override in enumerate(self.overrides, 1)
                if override.matches(workspace, experiment, step)
            ),
            None,
        )
