"""The Teams card (pure): shape, links only to Azure, untrusted text stays plain text, bounded size, digests."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.channels.teams.card import (
    EXCERPT_LINES,
    LINK_HOSTS,
    MAX_PAYLOAD_BYTES,
    Notice,
    Severity,
    digest_card,
    encode_payload,
    link_url,
    notice_card,
    teams_payload,
)

STUDIO = "https://ml.azure.com/runs/train_1?wsid=/subscriptions/0000/resourcegroups/rg/workspaces/ws-churn"
NOTICE = Notice(
    title="Pipeline failed: churn-training in ws-churn-prod",
    severity=Severity.ATTENTION,
    summary=["Root cause: step train failed first", "2 steps downstream were cancelled"],
    facts=[("Workspace", "ws-churn-prod"), ("Pipeline run", "churn_run_1"), ("Compute", "gpu-cluster")],
    excerpt='Traceback (most recent call last):\n  File "train.py", line 3\nMemoryError: CUDA out of memory',
    links=[("Open in Azure ML studio", STUDIO), ("Query results", "https://evil.example.net/phish?x=1")],
)


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in a card, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def texts(card: dict[str, Any]) -> list[str]:
    return [obj["text"] for obj in walk(card) if obj.get("type") == "TextRun"]


def test_payload_is_a_workflows_message_with_one_adaptive_card() -> None:
    payload = teams_payload([NOTICE])
    [attachment] = payload["attachments"]
    assert payload["type"] == "message"
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["body"][0]["style"] == "attention"
    shown = texts(card)
    assert shown[0] == NOTICE.title
    assert "Workspace: " in shown and "ws-churn-prod" in shown
    assert shown[-1] == "MemoryError: CUDA out of memory"
    assert any(obj.get("fontType") == "monospace" for obj in walk(card))


def test_only_azure_links_open_others_show_their_host() -> None:
    card = notice_card(NOTICE)
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open in Azure ML studio", "url": STUDIO}]
    assert "Query results: evil.example.net (not an Azure link: not opened from Teams)" in texts(card)
    assert "phish" not in json.dumps(card)


@pytest.mark.parametrize(
    "url",
    [
        "http://ml.azure.com/runs/1",  # not https
        "https://ml.azure.com.evil.net/runs/1",  # a look-alike host
        "https://evil.net/?ml.azure.com",
        "https://ml.azure.com@evil.net/",  # user info: the host is evil.net
        "https://user:pw@portal.azure.com/",
        "https://portal.azure.com:8443/",
        "javascript:alert(1)//ml.azure.com",
        'https://portal.azure.com/#x"onclick',
        "https://portal.azure.com/\u202eevil",
        "https://portal.azure.com/" + "a" * 3000,
    ],
)
def test_link_url_refuses(url: str) -> None:
    assert link_url(url) is None


@pytest.mark.parametrize(
    "url",
    [
        STUDIO,
        "https://portal.azure.com/#view/Microsoft_Azure_Monitoring_Alerts/x",
        "https://ML.azure.com/runs/1",
        "https://portal.azure.us/",
    ],
)
def test_link_url_accepts_azure(url: str) -> None:
    assert link_url(url) == url


def test_lines_over_the_caps_are_counted() -> None:
    notice = Notice("t", Severity.GOOD, summary=[f"s{i}" for i in range(7)], facts=[("k", f"v{i}") for i in range(14)])
    shown = texts(notice_card(notice))
    assert "s4" in shown and "s5" not in shown and "v11" in shown and "v12" not in shown
    assert "4 more line(s) not shown here" in shown


def test_excerpt_keeps_the_last_lines() -> None:
    log = "\n".join(f"line {i}" for i in range(100))
    shown = texts(notice_card(Notice("t", Severity.WARNING, excerpt=log)))
    assert shown[-EXCERPT_LINES:] == [f"line {i}" for i in range(100 - EXCERPT_LINES, 100)]
    assert f"… {100 - EXCERPT_LINES} earlier line(s)" in shown


# Text an incident can carry: markdown links and emphasis, Teams mentions, HTML, control and bidi characters,
# astral characters (4 bytes in UTF-8), long runs.
TOKENS = [
    *"[]()*_~`#<>!|\\\"'\n\t\r :/.@",
    "https",
    "ml.azure.com",
    "<at>",
    "</at>",
    "\u202e",
    "\x00",
    "\x85",
    "😀",
    "é",
]
hostile = st.one_of(st.lists(st.sampled_from(TOKENS), max_size=400).map("".join), st.text(max_size=300))
urls = st.one_of(hostile, st.sampled_from([STUDIO, "https://evil.net/x", "javascript:alert(1)"]))
notices = st.builds(
    Notice,
    title=hostile,
    severity=st.sampled_from(list(Severity)),
    summary=st.lists(hostile, max_size=8),
    facts=st.lists(st.tuples(hostile, hostile), max_size=15),
    excerpt=hostile,
    links=st.lists(st.tuples(hostile, urls), max_size=6),
)


def assert_safe(payload: dict[str, Any]) -> None:
    card = payload["attachments"][0]["content"]
    types = {obj.get("type") for obj in walk(card)}
    # The markdown-reading elements never appear: untrusted text only in TextRuns (plain text).
    assert not types & {"TextBlock", "FactSet", "Fact", "Image", "Media"}
    for obj in walk(card):
        assert "entities" not in obj and obj.get("type") != "mention"
        if "url" in obj:
            assert obj["type"] == "Action.OpenUrl" and link_url(obj["url"]) == obj["url"]
            assert obj["url"].split("/")[2].lower() in LINK_HOSTS
    assert card["msteams"] == {"width": "Full"}
    for text in texts(card):
        assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)
    assert len(encode_payload(payload)) <= MAX_PAYLOAD_BYTES


@settings(max_examples=150, deadline=None)
@given(notice=notices)
def test_untrusted_text_adds_no_link_mention_or_markdown(notice: Notice) -> None:
    assert_safe(teams_payload([notice]))


@settings(max_examples=40, deadline=None)
@given(batch=st.lists(notices, min_size=2, max_size=30))
def test_digests_are_safe_too(batch: list[Notice]) -> None:
    assert_safe(teams_payload(batch))


def test_a_huge_notice_is_cut_to_the_size_limit_and_says_so() -> None:
    wide = "😀" * 5000  # 4 bytes each in UTF-8
    notice = Notice(
        wide,
        Severity.ATTENTION,
        summary=[wide] * 50,
        facts=[(wide, wide)] * 200,
        excerpt="\n".join([wide] * 500),
        links=[("Open", STUDIO)] * 10,
    )
    payload = teams_payload([notice])
    assert len(encode_payload(payload)) <= MAX_PAYLOAD_BYTES
    shown = texts(payload["attachments"][0]["content"])
    assert shown[0].startswith("😀") and len(shown[0]) == 200
    [more] = [text for text in shown if re.fullmatch(r"\d+ more line\(s\) not shown here", text)]
    assert int(more.split()[0]) >= 50 - 5 + 200 - 12, "the lines over the caps and those cut for size"
    assert payload["attachments"][0]["content"]["actions"][0]["url"] == STUDIO


def test_digest_lists_what_fits_and_counts_the_rest() -> None:
    batch = [
        Notice(
            f"Pipeline {i} failed",
            Severity.WARNING if i else Severity.GOOD,
            facts=[("Workspace", "ws-" + "x" * 290)] * 4,
            links=[("Open", STUDIO)],
        )
        for i in range(60)
    ]
    card = digest_card(batch)
    entries = [item for item in card["body"][1:] if item["type"] == "Container"]
    [more] = [text for text in texts(card) if text.startswith("… and")]
    assert len(entries) + int(more.split()[2]) == 60
    assert texts(card)[0] == "60 notices"
    assert card["body"][0]["style"] == "warning"  # the worst of warning and good
    assert len(encode_payload(teams_payload(batch))) <= MAX_PAYLOAD_BYTES
    assert entries[0]["items"][-1] == {
        "type": "ActionSet",
        "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": STUDIO}],
    }
