"""What Azure ML run history says about a pipeline's steps, as typed values.

Pure parsing of `Run` (GET runs/{id} and each item of runs/{root}/children) and `RunDetails` (runs/{id}/details),
tolerant of absent and null fields. Error messages are redacted here, at the edge, so no secret a step printed
into its error travels further. Field meanings: `../shared/reference/aml-run-history/README.md` §2.3-2.4.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.azure.failures import Unavailable
from shared.azure.json_fields import as_mapping, as_text, parse_time
from shared.azure.log_tail import LogTail, SecretUrl, pick_log_file
from shared.core.redact import redact

_DURATION = re.compile(r"^(?:(?P<days>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2}(?:\.\d+)?)$")
MESSAGE_LIMIT = 8000  # characters of an error message kept (a traceback's tail is the useful part)


def parse_duration(value: Any) -> timedelta | None:
    """Run history's durations: `00:00:26.1110000`, `1.02:03:04`."""
    match = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if not match:
        return None
    return timedelta(
        days=int(match["days"] or 0), hours=int(match["h"]), minutes=int(match["m"]), seconds=float(match["s"])
    )


@dataclass(frozen=True)
class RunError:
    """A run's error as studio shows it: `code` (UserError, SystemError ...) and `message`; `inner_codes` is the
    innerError chain, outermost first (`BadArgument`, then its inner code ...)."""

    code: str
    message: str
    inner_codes: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, error: Any) -> RunError | None:
        """From an ErrorResponse (`{"error": RootError, ...}`) or a bare RootError; None if there is none."""
        root = as_mapping(as_mapping(error).get("error")) or as_mapping(error)
        code, message = as_text(root.get("code")), as_text(root.get("message"))
        if not (code or message):
            return None
        chain: list[str] = []
        inner = as_mapping(root.get("innerError"))
        while inner and len(chain) < 10:
            if as_text(inner.get("code")):
                chain.append(inner["code"])
            inner = as_mapping(inner.get("innerError"))
        if len(message) > MESSAGE_LIMIT:
            message = "…" + message[-MESSAGE_LIMIT:]
        return cls(code, redact(message), tuple(chain))


@dataclass(frozen=True)
class StepRun:
    """One run: a pipeline's step (or the pipeline itself) as run history lists it."""

    run_id: str
    display_name: str  # the pipeline node name, e.g. train_model
    status: str
    parent_run_id: str
    root_run_id: str
    component_name: str  # properties azureml.moduleName
    component_version: str  # properties azureml.moduleVersion
    compute: str  # compute.target (or target); "" when none is named (serverless)
    created: datetime | None
    start: datetime | None
    end: datetime | None
    duration: timedelta | None
    run_type: str  # azureml.StepRun, azureml.PipelineRun ...
    error: RunError | None
    created_by: str = ""  # createdBy.userName: who (or which schedule) submitted it
    experiment_id: str = ""  # the experiment's GUID: a pipeline's earlier runs are the experiment's root runs

    @property
    def is_pipeline(self) -> bool:
        """A sub-pipeline (its failed steps are one level down)."""
        return self.run_type == "azureml.PipelineRun"

    @classmethod
    def from_json(cls, run: Mapping[str, Any]) -> StepRun:
        properties = as_mapping(run.get("properties"))
        run_id = as_text(run.get("runId"))
        start, end = parse_time(run.get("startTimeUtc")), parse_time(run.get("endTimeUtc"))
        duration = parse_duration(run.get("duration"))
        if duration is None and start is not None and end is not None:
            duration = end - start
        return cls(
            run_id=run_id,
            display_name=as_text(run.get("displayName")) or as_text(run.get("name")) or run_id,
            status=as_text(run.get("status")),
            parent_run_id=as_text(run.get("parentRunId")),
            root_run_id=as_text(run.get("rootRunId")),
            component_name=as_text(properties.get("azureml.moduleName")),
            component_version=as_text(properties.get("azureml.moduleVersion")),
            compute=as_text(as_mapping(run.get("compute")).get("target")) or as_text(run.get("target")),
            created=parse_time(run.get("createdUtc")),
            start=start,
            end=end,
            duration=duration,
            run_type=as_text(run.get("runType")) or as_text(properties.get("azureml.runsource")),
            error=RunError.from_json(run.get("error")),
            created_by=as_text(as_mapping(run.get("createdBy")).get("userName")),
            experiment_id=as_text(run.get("experimentId")),
        )


@dataclass(frozen=True)
class RunDetails:
    """A run's details: its full error and its log files (name -> read-only SAS URL, kept out of every repr)."""

    run_id: str
    status: str
    error: RunError | None
    log_files: Mapping[str, SecretUrl] = field(default_factory=dict, repr=False)

    @property
    def log_file(self) -> str | None:
        """The log worth tailing, by azure-ai-ml's rules (user_logs/std_log.txt of rank 0, then the legacy ones)."""
        return pick_log_file(self.log_files)

    @classmethod
    def from_json(cls, details: Mapping[str, Any]) -> RunDetails:
        files = {
            name: SecretUrl(url)
            for name, url in as_mapping(details.get("logFiles")).items()
            if isinstance(name, str) and isinstance(url, str)
        }
        return cls(
            as_text(details.get("runId")),
            as_text(details.get("status")),
            RunError.from_json(details.get("error")),
            files,
        )


@dataclass(frozen=True)
class StepList:
    steps: list[StepRun]
    complete: bool  # False: more pages than the client reads


@dataclass(frozen=True)
class StepReport:
    """Everything the email shows for one step: the step, its error (from its details, else from the list),
    the tail of its log, and what could not be read (each a reason for people)."""

    step: StepRun
    error: RunError | None
    log: LogTail | None  # None: no log file, or it could not be read (see problems)
    problems: tuple[Unavailable, ...] = ()
