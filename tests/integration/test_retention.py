"""Each store owns its table and its retention; `deliver_outbox` runs every one of them (RETENTION_DAYS, 30 by
default). Against Azurite, through the app's own stores."""

from __future__ import annotations

from datetime import timedelta

from shared.detectors.metric_rules import SeriesState, SeriesStatus
from shared.outbox import records as outbox
from shared.outbox.records import Status
from shared.rules import Match, Silence


def test_deliver_outbox_removes_each_stores_old_rows_and_keeps_the_rest(sandbox, make_app, state):
    now, old, recent = sandbox.now, sandbox.now - timedelta(days=31), sandbox.now - timedelta(days=29)
    sent_old = outbox.after_success(outbox.new_record("run-failure:ws:old", "run-failure", {}, (), old, old), old)
    sent_recent = outbox.after_success(
        outbox.new_record("run-failure:ws:recent", "run-failure", {}, (), recent, recent), recent
    )
    pending_old = outbox.new_record("run-failure:ws:pending", "run-failure", {}, (), old, now + timedelta(days=1))
    assert state.incidents.create_batch([sent_old, sent_recent, pending_old]) == [True] * 3
    state.scans.record_scan("run-failures", "ws", old, Rows=1)
    state.scans.record_scan("run-failures", "ws", recent, Rows=1)
    state.scans.set_watermark("run-failures", "ws", old)
    for key, received in (("alert:old:Fired", old), ("alert:new:Fired", recent)):
        state.deliveries.begin(key, received, timedelta(seconds=20))
        state.deliveries.finish(key, ["alert:x"], received)
    state.metric_states.save("drift", {"gone": ("series-gone", SeriesState(SeriesStatus.FIRING, last_point=old))})
    state.metric_states.save("drift", {"seen": ("series-seen", SeriesState(last_point=recent))})
    ended = Silence(match=Match(workspace="ws"), starts=old - timedelta(hours=1), ends=old, reason="maintenance")
    active = Silence(match=Match(workspace="ws"), starts=old, ends=now + timedelta(hours=1), reason="load test")
    state.silences.add(ended)
    kept_silence = state.silences.add(active)

    make_app().deliver_outbox(now)

    assert sorted((r.key, r.status) for r in state.incidents.records()) == [
        ("run-failure:ws:pending", Status.PENDING),  # not finished: never removed
        ("run-failure:ws:recent", Status.SENT),
    ]
    history = list(state.tables.table("history").list_entities())
    assert [row["StartedAt"] for row in history] == [recent]
    assert state.scans.get_watermark("run-failures", "ws") == old  # watermarks are kept
    assert state.deliveries.begin("alert:old:Fired", now, timedelta(seconds=20)).status == "new"  # removed
    assert state.deliveries.begin("alert:new:Fired", now, timedelta(seconds=20)).status == "duplicate"  # kept
    assert list(state.metric_states.load("drift")) == ["seen"]
    assert [s.id for s in state.silences.active(old - timedelta(hours=1))] == [kept_silence.id]
