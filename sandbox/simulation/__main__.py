"""`make simulate`: python -m sandbox.simulation [--hours 24] [--seed 7] [--pipelines 600] ..."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .pipeline_emails import late_cause_day
from .run import Result, simulate
from .score import kinds_table, table
from .world import DayPlan


def report(result: Result) -> list[str]:
    day, plan_hours = result.day, (result.day.end - result.day.start).total_seconds() / 3600
    kinds: dict[str, int] = {}
    for incident in day.incidents:
        kinds[incident.kind] = kinds.get(incident.kind, 0) + 1
    fault_minutes: dict[str, float] = {}
    for fault in result.faults:
        fault_minutes[fault.what] = fault_minutes.get(fault.what, 0) + (fault.end - fault.start).total_seconds() / 60
    counts = {what: sum(f.what == what for f in result.faults) for what in fault_minutes}
    faults = ", ".join(f"{what}: {counts[what]}x, {minutes:.0f} min" for what, minutes in fault_minutes.items())
    failed = len(result.failed_calls)
    return [
        f"Simulated {plan_hours:g} h (+{result.drain.total_seconds() / 60:g} min drain) on the sandbox clock, "
        f"instances scanning every {result.cadence[0]} and {result.cadence[1]} min: "
        f"{day.pipelines} pipeline runs ({day.steps} steps) in 5 workspaces; incidents: "
        + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        + ".",
        "Webhook: " + ", ".join(f"{n} {what}" for what, n in result.webhook.items()) + " (the log alert rule "
        "fires for failures ingested within its 15-minute window; repeats go to either instance).",
        f"Faults: {faults}. ACS answered {result.email_faults_answered} sends with an error and "
        f"{result.status_faults_answered} status reads with an error; instance A died {len(result.deaths)} times "
        f"after ACS accepted an email ({_deaths(result)}); "
        + (
            f"ACS answered {result.repeats_answered} repeated sends with their first answer; "
            if result.repeats_answered
            else ""
        )
        + f"the table service refused {result.table_requests_refused} requests; {failed} app calls failed "
        f"loudly (all during table outages: {_all_in_outages(result)}). The app's outbox at the end: "
        + ", ".join(f"{n} {status}" for status, n in sorted(result.outbox.items()))
        + f"; {result.retried} incidents needed more than one send attempt.",
        "",
        *table(result.scores),
        "",
        *kinds_table(result.scores),
        "",
        slowest_line(result),
        root_cause_line("Root cause (run history on)", result),
        "Azure Monitor's emails name no step (the log search alert names the rule and the RootRunId, the metric alert "
        "the workspace and a count; both link to the query or chart).",
        "Queues: "
        + ", ".join(f"{n} {what}" for what, n in result.queue.items())
        + " (messages run by the two instances' host loops; failed = raised and shown again; died = a consumer "
        f"killed mid-send). Azure Monitor's action groups failed {result.native_failed_sends} sends (dropped).",
        "Unmatched email entries (emails about no incident): "
        + ", ".join(f"{s.approach}: {s.unmatched}" for s in result.scores)
        + ".",
        f"Wall time: {result.wall_seconds:.0f} s for {result.ticks} simulated minutes on {os.cpu_count()} cores "
        "(calls, mean wall time: "
        + ", ".join(
            f"{name} {len(times)}x {1000 * sum(times) / len(times):.0f} ms"
            for name, times in result.call_seconds.items()
        )
        + ").",
    ]


def slowest_line(result: Result) -> str:
    """The app's three slowest incidents from queryable to email, with the faults active meanwhile (the tail)."""
    parts = []
    for delay, key, queryable, emailed in result.scores[0].slowest:
        during = sorted({f.what for f in result.faults if f.start < emailed and f.end > queryable})
        minutes = f"{int(delay.total_seconds()) // 60} min {int(delay.total_seconds()) % 60:02d} s"
        parts.append(f"{key} {minutes} ({', '.join(during) or 'no fault'} meanwhile)")
    return "Slowest from queryable (this app): " + "; ".join(parts) + "."


def root_cause_line(label: str, result: Result) -> str:
    found = result.root_causes
    if found is None:
        return f"{label}: no pipeline-failure email."
    wrong = (
        f" {found.wrong} named another step first; {found.updated_once} of them were followed by exactly one "
        "update naming the right one."
        if found.wrong
        else ""
    )
    return (
        f"{label}: {found.right} of the app's {found.named} pipeline-failure emails name the step that failed "
        f"first.{wrong} {found.updates} update email(s) in all."
    )


def second_pass_report(result: Result) -> list[str]:
    app = result.scores[0]
    return [
        f"Second pass, run history off (RUN_HISTORY_ENABLED=false), over the {result.day.pipelines} failed pipelines "
        "of the same day whose root-cause step's row reaches Log Analytics after another Failed row of the run "
        f"(same seed, faults planned for these incidents, no naive alerters; {result.wall_seconds:.0f} s):",
        root_cause_line("Root cause (run history off)", result),
        f"Second pass: lost {app.lost}, duplicated {app.duplicated}, unmatched {app.unmatched}, {app.emails} emails.",
    ]


def _deaths(result: Result) -> str:
    by_call: dict[str, int] = {}
    for _, call, _ in result.deaths:
        by_call[call] = by_call.get(call, 0) + 1
    return ", ".join(f"{n} in {call}" for call, n in sorted(by_call.items())) or "none"


def _all_in_outages(result: Result) -> str:
    outages = [f for f in result.faults if f.what == "tables down"]
    ok = all(any(f.start <= when < f.end for f in outages) for _, _, when, _ in result.failed_calls)
    return "yes" if ok else "NO"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.simulation", description=__doc__)
    parser.add_argument("--hours", type=float, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pipelines", type=int, default=600, help="pipeline runs per 24 hours")
    parser.add_argument("--fail-rate", type=float, default=0.04)
    parser.add_argument("--every", default="10,8", help="minutes between scans of instance A and B (default 10,8)")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument(
        "--no-second-pass", action="store_true", help="skip the run-history-off pass over the late-root-cause pipelines"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    plan = DayPlan(hours=args.hours, seed=args.seed, pipelines=args.pipelines, fail_rate=args.fail_rate)
    a, b = (int(part) for part in args.every.split(","))
    result = simulate(plan, None if args.quiet else lambda line: print(line, flush=True), cadence=(a, b))
    print("\n".join(report(result)))
    passes = [result]
    if not args.no_second_pass:
        off = simulate(plan, None, cadence=(a, b), run_history=False, focus=late_cause_day, with_naive=False)
        print("\n" + "\n".join(second_pass_report(off)))
        passes.append(off)
    failed = 0
    for outcome in passes:
        app = outcome.scores[0]
        if app.lost or app.duplicated or app.unmatched:
            print(
                f"\nFAILED: this app lost {app.lost_keys}, duplicated {app.duplicated_keys}, {app.unmatched} unmatched",
                file=sys.stderr,
            )
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main())
