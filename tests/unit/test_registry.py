"""The detector registry is the one list: every scan it names has its timer function in function_app.py (on its
schedule setting, running that scan), every kind has its view, and a scan's setting is in the settings contract."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from shared import detectors
from shared.app import ALL_SETTINGS
from shared.channels.email.render import _environment
from shared.detectors.base import Shape

FUNCTION_APP = Path(__file__).resolve().parents[2] / "function_app.py"


def _timer_functions() -> dict[str, tuple[str, list[str]]]:
    """function name -> (its schedule expression, the string arguments of the calls in its body)."""
    found = {}
    for node in ast.parse(FUNCTION_APP.read_text()).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Call) and getattr(decorator.func, "attr", "") == "timer_trigger":
                [schedule] = [kw.value.value for kw in decorator.keywords if kw.arg == "schedule"]
                calls = [
                    arg.value
                    for call in ast.walk(node)
                    if isinstance(call, ast.Call)
                    for arg in call.args
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                ]
                found[node.name] = (schedule, calls)
    return found


@pytest.mark.parametrize("spec", [s for s in detectors.DETECTORS if s.scan], ids=lambda s: s.kind)
def test_each_scan_has_its_timer_function(spec):
    schedule, calls = _timer_functions()[spec.function]
    assert schedule == f"%{spec.schedule_setting}%"
    assert spec.scan in calls
    assert spec.schedule_setting in ALL_SETTINGS


@pytest.mark.parametrize("spec", detectors.DETECTORS, ids=lambda s: s.kind)
def test_each_kind_is_unique_and_has_its_email_templates(spec):
    assert [s.kind for s in detectors.DETECTORS].count(spec.kind) == 1
    assert spec.shape is Shape.NONE or spec.scan
    for autoescape, suffix in ((True, "html"), (False, "txt")):
        _environment(autoescape).get_template(f"{spec.templates}.{suffix}.j2")


def test_the_cli_offers_the_registrys_scans(capsys):
    from shared import cli

    assert detectors.scan_names() == ["run-failures", "compute-changes", "metrics", "stuck-runs", "schedules"]
    for name in detectors.scan_names():
        assert cli._parser().parse_args(["scan", name]).name == name
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["scan", "stuck-schedules"])
    assert "invalid choice: 'stuck-schedules'" in capsys.readouterr().err
