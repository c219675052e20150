"""Reading the rules file: YAML -> the model in rules.py, every mistake named by file, line and field.

YAML anchors and aliases work within bounds no real rules file comes near; they are checked on PyYAML's event
stream before anything is built, so a "billion laughs" file or thousands of nested brackets is a file:line error
in bounded time and memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shared.rules import DEFAULT_CHANNEL, Rules, RulesError
from shared.rules.lint import MetricLookup, cannot_fire, missing_metrics
from shared.rules.messages import explain


def load_rules(path: str | Path, channels: Sequence[str] = (DEFAULT_CHANNEL,)) -> Rules:
    """`channels`: the names routes may use (the channel table's)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise RulesError(f"{path}: cannot read the rules file: {err.strerror or err}") from err
    return parse_rules(text, str(path), channels)


# Bounds that no real rules file comes near, and that keep a hostile one (a "billion laughs" of nested aliases,
# thousands of nested brackets) from taking the app's memory, time or stack: checked on PyYAML's event stream,
# which is read lazily and without recursion, before anything is built.
MAX_TEXT = 1_000_000  # characters
MAX_DEPTH = 32  # nested mappings and lists
MAX_VALUES = 100_000  # scalars, mappings and lists once every alias is expanded


def check_rules(
    path: str | Path,
    now: datetime,
    kinds: Sequence[str],
    channels: Sequence[str] = (DEFAULT_CHANNEL,),
    workspaces: Sequence[str] | None = None,
    metrics: MetricLookup | None = None,
) -> tuple[Rules, list[str]]:
    """`rules check`: the rules (or RulesError) and a `file:line: field: what to fix` warning for each rule
    that cannot fire (shared/rules/lint.py); `metrics`: ask whether each metric exists (--online)."""
    import yaml

    rules = load_rules(path, channels)
    lines = _lines(yaml.compose(Path(path).read_text(), Loader=yaml.SafeLoader))
    findings = cannot_fire(rules, now, kinds, workspaces) + (missing_metrics(rules, metrics) if metrics else [])
    return rules, [f"{path}:{_line_for(lines, found.loc)}: {_field(found.loc)}: {found.message}" for found in findings]


def parse_rules(text: str, source: str = "rules.yaml", channels: Sequence[str] = (DEFAULT_CHANNEL,)) -> Rules:
    import yaml

    try:
        _check_bounds(text, source)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise RulesError(f"{where}: not valid YAML: {getattr(err, 'problem', None) or err}") from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RulesError(f"{source}:1: the rules file must be a mapping (storm_limit:, routes:, ...)")
    try:
        return Rules.model_validate(data, context={"channels": tuple(channels)})
    except ValidationError as err:
        lines = _lines(node)
        problems = [
            f"{source}:{_line_for(lines, error['loc'])}: {_field(error['loc']) or '(top level)'}: "
            f"{explain(error, Rules)}"
            for error in err.errors()
        ]
        raise RulesError("Invalid rules file:\n  " + "\n  ".join(problems)) from None


def _check_bounds(text: str, source: str) -> None:
    """RulesError at the first event past MAX_DEPTH or MAX_VALUES (aliases counted expanded), or for a text over
    MAX_TEXT; a YAMLError is left to the caller."""
    import yaml

    if len(text) > MAX_TEXT:
        raise RulesError(f"{source}:1: the rules file has {len(text):,} characters; at most {MAX_TEXT:,} are read")
    anchored: dict[str, int] = {}  # anchor -> values in its node, expanded
    open_nodes: list[list[Any]] = []  # [anchor, values so far] per open mapping or list
    total = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark else 1
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_nodes) >= MAX_DEPTH:
                raise RulesError(f"{source}:{line}: nested more than {MAX_DEPTH} levels deep")
            open_nodes.append([event.anchor, 1])
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, values = open_nodes.pop()
        elif isinstance(event, yaml.ScalarEvent):
            anchor, values = event.anchor, 1
        elif isinstance(event, yaml.AliasEvent):
            anchor, values = None, anchored.get(event.anchor or "", 1)
        else:  # stream and document start and end
            continue
        if anchor:
            anchored[anchor] = values
        if open_nodes:
            open_nodes[-1][1] += values
        else:
            total += values
        if total + sum(count for _, count in open_nodes) > MAX_VALUES:
            what = f"alias *{event.anchor}" if isinstance(event, yaml.AliasEvent) else "the document"
            raise RulesError(
                f"{source}:{line}: {what} makes more than {MAX_VALUES:,} values once aliases are "
                "expanded; write the values out or use fewer nested aliases"
            )


def _field(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _lines(node: Any, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Path in the document -> 1-based line, from PyYAML's node tree."""
    import yaml

    lines = {path: node.start_mark.line + 1} if node is not None else {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines[(*path, key.value)] = key.start_mark.line + 1
            lines.update({p: line for p, line in _lines(value, (*path, key.value)).items() if p != (*path, key.value)})
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_lines(item, (*path, index)))
    return lines


def _line_for(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int:
    # Pydantic's loc may name a field that is missing (no line of its own): use its nearest parent.
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1
