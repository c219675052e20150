"""Render sample Teams cards to a PNG, to look at them: Microsoft's Adaptive Cards renderer (npm `adaptivecards`,
the one the HTML clients use) in headless Chromium. Not a test: what Teams shows differs in fonts and spacing.

    python -m sandbox.teams_preview --out docs/teams-card.png     # needs `chromium` (apt-get install chromium)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from shared.channels.teams.card import Notice, Severity, digest_card, notice_card

REPO = Path(__file__).resolve().parents[1]
LIBRARY = REPO / "node_modules" / "adaptivecards" / "dist" / "adaptivecards.min.js"
STUDIO = "https://ml.azure.com/runs/{}?wsid=/subscriptions/0000/resourcegroups/rg-ml/workspaces/ws-churn-prod"
# Close to Teams' light theme: its font and its container colours.
HOST_CONFIG = {
    "fontFamily": "'Segoe UI', 'Helvetica Neue', 'DejaVu Sans', sans-serif",
    "containerStyles": {
        "default": {"backgroundColor": "#FFFFFF"},
        "emphasis": {"backgroundColor": "#F5F5F5"},
        "attention": {"backgroundColor": "#FCF4F6"},
        "warning": {"backgroundColor": "#FBF6D9"},
        "good": {"backgroundColor": "#E7F2DA"},
    },
    "actions": {"maxActions": 6, "actionsOrientation": "horizontal", "buttonSpacing": 8},
}

FAILURE = Notice(
    title="Pipeline failed: churn-model-training in ws-churn-prod",
    severity=Severity.ATTENTION,
    summary=["Root cause: step train failed first (exit code 1); 2 steps downstream were cancelled."],
    facts=[
        ("Workspace", "ws-churn-prod"),
        ("Pipeline run", "churn_run_0412"),
        ("Experiment", "churn-model"),
        ("Failed at", "2026-04-12 03:17 UTC"),
        ("Root-cause step", "train (gpu-cluster)"),
        ("Downstream", "evaluate, register: cancelled"),
    ],
    excerpt='Traceback (most recent call last):\n  File "train.py", line 88, in <module>\n    model.fit(X, y)\n'
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n"
    "[see https://evil.example.net](https://evil.example.net) <at>everyone</at>",
    links=[
        ("Open the pipeline run", STUDIO.format("churn_run_0412")),
        ("Open step train", STUDIO.format("train_1")),
        ("Runbook", "https://wiki.example.net/runbooks/churn"),
    ],
)
DIGEST = [
    FAILURE,
    Notice(
        "Compute deleted: gpu-cluster in ws-churn-prod",
        Severity.WARNING,
        ["alice@contoso.com deleted it; 3 pipeline runs failed since."],
        [("Operation", "Microsoft.MachineLearningServices/workspaces/computes/delete")],
    ),
    Notice(
        "Resolved: drift score of churn-features back under 0.3",
        Severity.GOOD,
        facts=[("Rule", "churn-drift"), ("Last value", "0.21")],
    ),
]

PAGE = """<!doctype html><html><head><meta charset="utf-8"><script src="{library}"></script>
<style>body{{margin:0;background:#EBEBEB;display:flex;gap:24px;padding:24px;align-items:flex-start}}
.card{{width:560px;background:#fff;border-radius:6px;box-shadow:0 1px 4px rgba(0,0,0,.2);overflow:hidden}}</style>
</head><body><script>
const hostConfig = new AdaptiveCards.HostConfig({host_config});
for (const json of {cards}) {{
  const card = new AdaptiveCards.AdaptiveCard();
  card.hostConfig = hostConfig;
  card.parse(json);
  const box = document.createElement("div");
  box.className = "card";
  box.appendChild(card.render());
  document.body.appendChild(box);
}}
</script></body></html>"""


def render(out: Path, width: int = 1200, height: int = 560) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium is not installed (apt-get install chromium)")
    if not LIBRARY.exists():
        sys.exit(f"{LIBRARY} is missing: run `npm ci`")
    cards = [notice_card(FAILURE), digest_card(DIGEST)]
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "cards.html"
        page.write_text(
            PAGE.format(library=LIBRARY.as_uri(), host_config=json.dumps(HOST_CONFIG), cards=json.dumps(cards))
        )
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={tmp}/profile",
                f"--window-size={width},{height}",
                f"--screenshot={out.resolve()}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/teams-card.png"))
    render(parser.parse_args().out)


if __name__ == "__main__":
    main()
