"""Python wrapper around tools/kql_check/check.mjs (Microsoft's Kusto.Language analyser).

Typical use from a test::

    from .analyser import analyse, assert_clean

    assert_clean([("failed_runs", build_failed_runs_query(...))])
    errors = analyse([("q", text)])      # {"q": ["3:12: The name 'X' does not ... [KS142]"]}

One call starts one node process for the whole batch, so pass every query at once.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECK_SCRIPT = REPO_ROOT / "tools" / "kql_check" / "check.mjs"
DEFAULT_SCHEMAS = REPO_ROOT / "sandbox" / "la-schemas.json"
NPM_PACKAGE = "@kusto/language-service-next"
NPM_PACKAGE_DIR = REPO_ROOT / "node_modules" / "@kusto" / "language-service-next"
TIMEOUT_S = 120

Queries = Iterable[tuple[str, str]] | Mapping[str, str]


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "Error" or "Warning"
    message: str
    line: int  # 1-based
    column: int  # 1-based
    code: str  # Kusto diagnostic code, e.g. KS142
    start: int  # 0-based character offset in the query text
    length: int
    source: str = "kusto"  # "kusto" (parser/binder), "kusto-analyzer" (best-practice rules), "kql_check" (ours)

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.message} [{self.code}]"


@dataclass(frozen=True)
class QueryReport:
    name: str
    text: str
    diagnostics: list[Diagnostic]
    columns: list[tuple[str, str]] | None  # result schema if the query is tabular
    string_literals: list[str]  # decoded value of every string literal, in order
    operators: list[str]  # query operator syntax kinds, e.g. ["FilterOperator", "ProjectOperator"]
    stats: dict = field(default_factory=dict, compare=False)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "Error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "Warning"]


def _normalise(queries: Queries) -> list[tuple[str, str]]:
    items = list(queries.items()) if isinstance(queries, Mapping) else [tuple(q) for q in queries]
    seen: set[str] = set()
    for name, text in items:
        if not isinstance(name, str) or not isinstance(text, str):
            raise TypeError(f"queries must be (name: str, text: str) pairs, got {(name, text)!r}")
        if name in seen:
            raise ValueError(f"duplicate query name {name!r}")
        seen.add(name)
    return items


def _node() -> str:
    node = os.environ.get("KQL_CHECK_NODE") or shutil.which("node")
    if not node:
        raise RuntimeError(
            "kql_check: `node` was not found on PATH (Node.js >= 18 is needed to run the KQL analyser). "
            "Install Node.js, then run `npm ci` in the repository root."
        )
    return node


def _run(payload: dict) -> dict:
    node = _node()
    if not (NPM_PACKAGE_DIR / "package.json").is_file():
        raise RuntimeError(
            f"kql_check: npm package {NPM_PACKAGE} is not installed (looked in {NPM_PACKAGE_DIR}). "
            f"Run `npm ci` in {REPO_ROOT}."
        )
    try:
        proc = subprocess.run(
            [node, str(CHECK_SCRIPT)],
            check=False,
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=TIMEOUT_S,
            cwd=REPO_ROOT,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"kql_check: analyser timed out after {TIMEOUT_S}s") from exc
    if proc.returncode != 0:
        hint = f" Run `npm ci` in {REPO_ROOT}." if proc.returncode == 3 else ""
        raise RuntimeError(f"kql_check: {CHECK_SCRIPT} failed (exit {proc.returncode}):\n{proc.stderr.strip()}{hint}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"kql_check: unparsable analyser output:\n{proc.stdout[:2000]}\n{proc.stderr}") from exc


def load_schemas(schemas_path: str | os.PathLike = DEFAULT_SCHEMAS) -> dict[str, list[list[str]]]:
    data = json.loads(Path(schemas_path).read_text(encoding="utf-8"))
    return {table: cols for table, cols in data.items() if isinstance(cols, list)}


def analyse_detailed(queries: Queries, schemas_path: str | os.PathLike = DEFAULT_SCHEMAS) -> dict[str, QueryReport]:
    """Analyse every query in one node process; return name -> full report (errors, warnings, schema...)."""
    items = _normalise(queries)
    out = _run({"schemas": load_schemas(schemas_path), "queries": [{"name": n, "text": t} for n, t in items]})
    texts = dict(items)
    reports: dict[str, QueryReport] = {}
    for r in out["results"]:
        reports[r["name"]] = QueryReport(
            name=r["name"],
            text=texts[r["name"]],
            diagnostics=[Diagnostic(**d) for d in r["diagnostics"]],
            columns=[tuple(c) for c in r["columns"]] if r["columns"] is not None else None,
            string_literals=r["string_literals"],
            operators=r["operators"],
            stats=out.get("stats", {}),
        )
    return reports


def analyse(queries: Queries, schemas_path: str | os.PathLike = DEFAULT_SCHEMAS) -> dict[str, list[str]]:
    """Return name -> list of error messages ("line:column: message [code]"); [] means clean.

    Warnings are not included (see analyse_detailed / assert_clean(fail_on_warnings=True)).
    """
    return {name: [str(d) for d in rep.errors] for name, rep in analyse_detailed(queries, schemas_path).items()}


def format_diagnostic(report: QueryReport, diag: Diagnostic) -> str:
    lines = report.text.splitlines() or [""]
    src = lines[diag.line - 1] if 0 < diag.line <= len(lines) else ""
    caret = " " * max(diag.column - 1, 0) + "^" * max(diag.length, 1)
    return (
        f"[{report.name}] {diag.severity} at line {diag.line}, column {diag.column}: {diag.message} ({diag.code})\n"
        f"    {src}\n    {caret}"
    )


def assert_clean(
    queries: Queries, schemas_path: str | os.PathLike = DEFAULT_SCHEMAS, *, fail_on_warnings: bool = False
) -> dict[str, QueryReport]:
    """Fail (AssertionError) listing every diagnostic of every query; return the reports when clean."""
    __tracebackhide__ = True
    reports = analyse_detailed(queries, schemas_path)
    failing = [
        format_diagnostic(rep, d)
        for rep in reports.values()
        for d in (rep.diagnostics if fail_on_warnings else rep.errors)
    ]
    if failing:
        raise AssertionError(f"KQL analyser found {len(failing)} problem(s):\n" + "\n".join(failing))
    return reports


def main(argv: list[str] | None = None) -> int:
    """`python -m tests.kql.analyser FILE.kql ...` (or `-` for stdin): print diagnostics, exit 1 on errors."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("files", nargs="+", help="KQL files; '-' reads stdin")
    parser.add_argument("--schemas", default=str(DEFAULT_SCHEMAS))
    args = parser.parse_args(argv)
    queries = [(f, sys.stdin.read() if f == "-" else Path(f).read_text(encoding="utf-8")) for f in args.files]
    reports = analyse_detailed(queries, args.schemas)
    for rep in reports.values():
        for diag in rep.diagnostics:
            print(format_diagnostic(rep, diag))
        if not rep.diagnostics:
            print(f"[{rep.name}] clean; columns: {', '.join(f'{c}:{t}' for c, t in rep.columns or [])}")
    return 1 if any(rep.errors for rep in reports.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
