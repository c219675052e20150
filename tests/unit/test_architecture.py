"""The shape of shared/: each subsystem imports only the ones below it (docs/architecture.md has the table), no
import cycle, pure packages do no I/O, and no file passes 300 lines. Every import counts: at module level, inside
functions (the lazy imports kept for cold start) and under TYPE_CHECKING."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"

# Lowest first. A unit may import units of a lower rank (and itself), never one of its own rank or higher.
RANKS = {
    "core": 0,
    "azure": 1,
    "settings": 1,
    "rules": 2,
    "rules_yaml": 3,
    "routing": 3,
    "silences": 3,
    "detectors": 4,
    "enrich": 5,
    "outbox": 6,
    "channels": 7,
    "scans": 7,
    "webhook": 7,
    "app": 8,
    "cli": 9,
    "entrypoints": 9,
    "__main__": 10,
}
PURE = {"core", "detectors"}  # plain data and decisions: no Azure SDK, no shared.azure
MAX_LINES = 300


def _module(path: Path) -> str:
    parts = path.relative_to(SHARED.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def _imports(path: Path) -> set[str]:
    """Every module `path` imports (absolute names), wherever the import statement is."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            # `from shared.detectors import run_failures` imports the submodule
            found.update(f"{base}.{alias.name}" for alias in node.names if _is_module(f"{base}.{alias.name}"))
    return found


def _is_module(name: str) -> bool:
    path = SHARED.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


FILES = sorted(SHARED.rglob("*.py"))


def _id(path: Path) -> str:
    return str(path.relative_to(SHARED.parent))


GRAPH = {_module(path): {name for name in _imports(path) if name.startswith("shared.")} for path in FILES}


def test_every_unit_has_a_rank():
    units = {_unit(module) for module in GRAPH} - {""}
    assert units <= set(RANKS), f"new subsystem(s) without a place in RANKS: {units - set(RANKS)}"


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_a_unit_imports_only_units_below_it(module):
    unit = _unit(module)
    if not unit:
        return  # shared/__init__.py
    upward = sorted(
        name for name in GRAPH[module] if _unit(name) and _unit(name) != unit and RANKS[_unit(name)] >= RANKS[unit]
    )
    assert not upward, f"{module} ({unit}, rank {RANKS[unit]}) imports {upward}"


@pytest.mark.parametrize("path", [p for p in FILES if _unit(_module(p)) in PURE], ids=_id)
def test_pure_packages_do_no_io(path):
    io = sorted(name for name in _imports(path) if name.split(".")[0] == "azure" or name.startswith("shared.azure"))
    assert not io, f"{path.relative_to(SHARED.parent)} is pure but imports {io}"


def test_no_import_cycle():
    """Between modules (not only units): a cycle would make the import order matter."""
    edges = {module: {name for name in names if name in GRAPH and name != module} for module, names in GRAPH.items()}
    # A package's __init__ is imported by its submodules implicitly; only explicit imports count here.
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for name in sorted(edges[module]):
            if state.get(name) == 1:
                cycle = [*path[path.index(name) :], name]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if name not in state:
                visit(name)
        path.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_no_file_over_300_lines(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_the_checker_sees_lazy_and_type_checking_imports():
    """The test of the test: an upward import hidden in a function or under TYPE_CHECKING is found."""
    assert "shared.app" in GRAPH["shared.cli"]  # cli imports the app inside main() and under TYPE_CHECKING
    assert "shared.webhook.secure" in GRAPH["shared.app"]  # lazily, inside a cached property
