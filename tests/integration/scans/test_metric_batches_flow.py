"""Metric rules over many resources, subscriptions and regions, evaluated end to end through the Metrics batch API
(the app's real MetricsClient against the sandbox, which refuses what getBatch refuses: more than 50 ids, ids of
several subscriptions or types, a resource read from another region's endpoint) and Azurite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

NAMESPACE = "Microsoft.MachineLearningServices/workspaces"
STEP = timedelta(minutes=5)
SUBSCRIPTIONS = {"a": "00000000-0000-0000-0000-00000000000a", "b": "00000000-0000-0000-0000-00000000000b"}
# 120 workspaces: (region, subscription) -> how many. The first group is a full batch of 50.
GROUPS = {("westeurope", "a"): 50, ("westeurope", "b"): 20, ("eastus", "a"): 30, ("eastus", "b"): 20}


def _workspace(region: str, sub: str, index: int) -> str:
    return (
        f"/subscriptions/{SUBSCRIPTIONS[sub]}/resourceGroups/rg-ml-{region}/providers/{NAMESPACE}"
        f"/ws-{sub}-{region}-{index:02}"
    )


def _grid(now: datetime) -> datetime:
    return now - (now - datetime(1970, 1, 1, tzinfo=UTC)) % STEP


def _seed(sandbox, breaching: set[str], regions: dict[str, str], dimensions: dict[str, str] | None = None) -> None:
    """Failed Runs of every workspace in its own region over the last 4 finished intervals: 0, except 1, 2, 3 in
    the last three for the breaching ones."""
    start = _grid(sandbox.now) - 4 * STEP
    for resource_id, region in regions.items():
        values = [0, 1, 2, 3] if resource_id in breaching else [0, 0, 0, 0]
        points = [(start + i * STEP + timedelta(seconds=30), v) for i, v in enumerate(values)]
        sandbox.add_metric_series(resource_id, NAMESPACE, "Failed Runs", points, dimensions, region=region)


def _rules_yaml(
    by_region: dict[str, list[str]] | None = None, resource_ids: list[str] | None = None, filter_: str = ""
) -> str:
    if by_region:
        lines = ["    resource_ids_by_region:"]
        for region, ids in by_region.items():
            lines += [f"      {region}:", *(f"        - {rid}" for rid in ids)]
    else:
        lines = ["    resource_ids:", *(f"      - {rid}" for rid in resource_ids or [])]
    resources = "\n".join(lines)
    return f"""metric_rules:
  - name: failed-runs-everywhere
{resources}
    namespace: {NAMESPACE}
    metric: Failed Runs
    aggregation: Total
    operator: GreaterThan
    threshold: 0
    interval: PT5M
    consecutive: 2
    repeat_every: null
""" + (f"    filter: {filter_}\n" if filter_ else "")


@pytest.fixture
def fleet(tmp_path, monkeypatch):
    """120 workspaces over two regions and two subscriptions, one breaching per group, and a rule naming them
    all by region; returns (every workspace -> its region, the breaching ones)."""
    regions = {_workspace(region, sub, i): region for (region, sub), count in GROUPS.items() for i in range(count)}
    breaching = {_workspace(region, sub, count - 1) for (region, sub), count in GROUPS.items()}
    by_region: dict[str, list[str]] = {}
    for resource_id, region in regions.items():
        by_region.setdefault(region, []).append(resource_id)
    path = tmp_path / "rules.yaml"
    path.write_text(_rules_yaml(by_region))
    monkeypatch.setenv("RULES_FILE", str(path))
    return regions, breaching


def _fired_on(sandbox) -> set[str]:
    subjects = [email["content"]["subject"] for email in sandbox.emails]
    assert all(s.startswith("[AML] FIRING: failed-runs-everywhere on ws-") for s in subjects), subjects
    return {s.split(" on ")[1].split(" ")[0] for s in subjects}


def _names(resource_ids: set[str]) -> set[str]:
    return {rid.rsplit("/", 1)[1] for rid in resource_ids}


def test_a_rule_over_120_resources_in_two_regions_and_subscriptions_is_read_in_split_calls(sandbox, fleet, make_app):
    regions, breaching = fleet
    _seed(sandbox, breaching, regions)
    report = make_app().scan("metrics", sandbox.now)

    [rule] = report.rules
    assert (rule.series, rule.calls, rule.failures) == (120, 4, [])
    requests = sandbox.metric_requests
    assert sorted((r["region"], r["subscription"], len(r["resourceids"])) for r in requests) == sorted(
        (region, SUBSCRIPTIONS[sub], count) for (region, sub), count in GROUPS.items()
    )
    for request in requests:  # each call: its own region's endpoint, one subscription
        assert {regions[rid] for rid in request["resourceids"]} == {request["region"]}
        assert all(f"/subscriptions/{request['subscription']}/" in rid for rid in request["resourceids"])
    assert _fired_on(sandbox) == _names(breaching)  # one email per breaching workspace, in every group
    assert "1 rule(s), 120 series from 4 call(s)" in report.summary()


def test_a_failed_call_does_not_stop_the_others_and_is_caught_up_next_tick(sandbox, fleet, make_app, monkeypatch):
    regions, breaching = fleet
    _seed(sandbox, breaching, regions)
    monkeypatch.setattr(sandbox.faults, "retry_after_ms", 1)  # the SDK's retries wait 1 ms, not seconds
    sandbox.fail_next("metrics", 503, count=4)  # the first call, and its 3 retries
    app = make_app()
    report = app.scan("metrics", sandbox.now)

    failed_group = _workspace("westeurope", "a", GROUPS[("westeurope", "a")] - 1)
    assert _fired_on(sandbox) == _names(breaching - {failed_group})
    assert "failed calls (retried next tick): failed-runs-everywhere: 50 " in report.summary()
    assert "subscription 00000000-0000-0000-0000-00000000000a, region westeurope" in report.summary()

    sandbox.advance(STEP)
    report = app.scan("metrics", sandbox.now)
    assert report.rules[0].failures == []
    assert _fired_on(sandbox) == _names(breaching)
    assert len(sandbox.emails) == len(breaching)  # nothing twice


def test_resources_of_two_subscriptions_in_one_list_are_read_in_one_call_each(sandbox, make_app, tmp_path, monkeypatch):
    ids = [_workspace("westeurope", sub, i) for sub in ("a", "b") for i in range(35)]
    _seed(sandbox, {ids[0], ids[-1]}, dict.fromkeys(ids, "westeurope"))
    path = tmp_path / "rules.yaml"
    path.write_text(_rules_yaml(resource_ids=ids))  # no region: METRICS_REGION (the sandbox's westeurope)
    monkeypatch.setenv("RULES_FILE", str(path))
    report = make_app().scan("metrics", sandbox.now)
    assert (report.rules[0].series, report.rules[0].calls) == (70, 2)
    assert _fired_on(sandbox) == _names({ids[0], ids[-1]})


def test_a_resource_listed_under_the_wrong_region_is_reported_and_the_rest_evaluated(
    sandbox, make_app, tmp_path, monkeypatch
):
    right, wrong = _workspace("westeurope", "a", 1), _workspace("westeurope", "b", 2)
    _seed(sandbox, {right, wrong}, {right: "westeurope", wrong: "westeurope"})
    path = tmp_path / "rules.yaml"
    path.write_text(_rules_yaml({"westeurope": [right], "eastus": [wrong]}))
    monkeypatch.setenv("RULES_FILE", str(path))
    report = make_app().scan("metrics", sandbox.now)
    [failure] = report.rules[0].failures
    assert failure.startswith(
        "1 microsoft.machinelearningservices/workspaces resource(s) in subscription "
        "00000000-0000-0000-0000-00000000000b, region eastus: (BadRequest) Resource "
    )
    assert "is in region westeurope, not eastus" in failure
    assert _fired_on(sandbox) == _names({right})


def test_a_dimension_filter_over_many_resources_reads_every_series(sandbox, make_app, tmp_path, monkeypatch):
    # With a filter the service answers `top` series (10 unless asked for more) for the whole batch.
    ids = [_workspace("westeurope", "a", i) for i in range(30)]
    _seed(sandbox, set(ids[-2:]), dict.fromkeys(ids, "westeurope"), {"RunType": "PipelineRun"})
    path = tmp_path / "rules.yaml"
    path.write_text(_rules_yaml(resource_ids=ids, filter_="RunType eq 'PipelineRun'"))
    monkeypatch.setenv("RULES_FILE", str(path))
    report = make_app().scan("metrics", sandbox.now)
    assert report.rules[0].series == 30
    assert _fired_on(sandbox) == _names(set(ids[-2:]))
