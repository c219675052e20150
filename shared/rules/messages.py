"""Validation errors of the rules file in the reader's words: did-you-mean for unknown keys and values, the
ISO 8601 form for a duration written `5m`. Pure: pydantic's error dicts and the model in, one sentence out."""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Mapping
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

_SHORT_DURATION = re.compile(r"^\s*(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?)\s*$", re.I)
_QUOTED = re.compile(r"'([^']*)'")


def did_you_mean(given: str, choices: list[str]) -> str:
    """` did you mean 'x'?` (case ignored), or the choices when none is close."""
    if not choices:
        return "check the name"
    lowered = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(given.lower(), list(lowered), n=1, cutoff=0.6)
    if close:
        return f"did you mean {lowered[close[0]]!r}?"
    return f"use one of {', '.join(choices)}"


def iso_hint(given: Any) -> str | None:
    """`5m` -> `PT5M`; None when `given` is not a number with a unit."""
    match = _SHORT_DURATION.match(str(given))
    if not match:
        return None
    number, unit = match[1], match[2][0].upper()
    return f"P{number}D" if unit == "D" else f"PT{number}{unit}"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in (Union, types.UnionType, list, dict) or get_args(annotation):
        return [model for arg in get_args(annotation) for model in _models_in(arg)]
    return []


def _model_at(root: type[BaseModel], path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model whose fields are valid at `path` (list indexes skipped), or None (a mapping of free keys)."""
    model: type[BaseModel] | None = root
    for part in path:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(str(part))
        found = _models_in(field.annotation) if field else []
        model = found[0] if found else None
    return model


def explain(error: Mapping[str, Any], root: type[BaseModel]) -> str:
    """pydantic's message for one error, or a better one when we know what was meant."""
    kind, loc, given = error["type"], error["loc"], error.get("input")
    if kind == "extra_forbidden" and loc:
        model = _model_at(root, loc[:-1])
        if model is not None:
            return f"unknown key {loc[-1]!r}: {did_you_mean(str(loc[-1]), list(model.model_fields))}"
    if kind == "literal_error" and isinstance(given, str):
        choices = _QUOTED.findall(str(error.get("ctx", {}).get("expected", "")))
        if choices:
            return f"{given!r} is not one of {', '.join(choices)}: {did_you_mean(given, choices)}"
    if kind.startswith("time_delta"):
        hint = iso_hint(given)
        if hint:
            return f"{given!r} is not an ISO 8601 duration: use {hint} (PT30S, PT5M, PT1H, P1D)"
        return f"{given!r} is not an ISO 8601 duration such as PT30S, PT5M, PT1H or P1D"
    return str(error["msg"])
