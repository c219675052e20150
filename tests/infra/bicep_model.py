"""A small read-only model of the Bicep files, built from the tree-sitter-bicep syntax tree.

Literals become Python values (dict, list, str, int, bool, None); anything computed (a reference, a call,
an interpolated string, a for-expression, a ternary) becomes an `Expr` holding its source text, so tests
can assert on the shape of the templates without a Bicep compiler. A for-expression is a `ForExpr`, which also
keeps the value of one item (its body), so that item can be checked like a literal.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tree_sitter_bicep
from tree_sitter import Language, Node, Parser

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"

if str(REPO) not in sys.path:  # so `import shared.settings` works however pytest was started
    sys.path.insert(0, str(REPO))


@functools.cache
def parser() -> Parser:
    return Parser(Language(tree_sitter_bicep.language()))


def parse(source: bytes) -> Node:
    return parser().parse(source).root_node


def syntax_errors(source: bytes) -> list[str]:
    """Every ERROR or MISSING node, as 'line:col: text'."""
    problems: list[str] = []
    stack = [parse(source)]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            line, col = node.start_point
            text = source[node.start_byte : node.end_byte].decode(errors="replace")[:60]
            kind = "missing" if node.is_missing else "error"
            problems.append(f"{line + 1}:{col + 1}: {kind} near {text!r}")
        stack.extend(node.children)
    return problems


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@dataclass(frozen=True)
class Expr:
    """A non-literal Bicep expression, kept as source text."""

    text: str


@dataclass(frozen=True)
class ForExpr(Expr):
    """`[for x in xs: <item>]` (optionally `: if (...) <item>`): the source text and the item's value."""

    item: Any = None


@dataclass
class Resource:
    symbol: str
    type: str  # 'Microsoft.X/y@api-version'
    existing: bool
    condition: str | None  # source of the `if (...)` condition
    loop: str | None  # source of the `for ... in ...:` header
    body: dict[str, Any]
    line: int = 0  # 1-based line of the declaration

    @property
    def type_name(self) -> str:
        return self.type.split("@", 1)[0]

    @property
    def api_version(self) -> str:
        return self.type.split("@", 1)[1]


@dataclass
class Module:
    symbol: str
    path: str
    condition: str | None
    loop: str | None
    body: dict[str, Any]

    @property
    def params(self) -> dict[str, Any]:
        return self.body.get("params", {})


@dataclass
class Param:
    name: str
    type: str
    default: Any = None
    has_default: bool = False
    decorators: dict[str, list[Any]] = field(default_factory=dict)


@dataclass
class BicepFile:
    path: Path
    target_scope: str = "resourceGroup"
    params: dict[str, Param] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    modules: dict[str, Module] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    def resources_of_type(self, type_name: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.type_name.lower() == type_name.lower()]


class _Reader:
    def __init__(self, source: bytes) -> None:
        self.source = source

    def text(self, node: Node) -> str:
        return self.source[node.start_byte : node.end_byte].decode()

    def value(self, node: Node) -> Any:
        literals = {
            "object": self._object,
            "array": lambda n: [self.value(item) for item in _named(n)],
            "string": self._string,
            "number": lambda n: int(self.text(n)),
            "boolean": lambda n: self.text(n) == "true",
            "null": lambda n: None,
            "multiline_string": lambda n: self.text(n)[3:-3],
        }
        if node.type == "for_statement":
            item = _named(node)[-1]
            if item.type == "if_statement":
                item = _named(item)[-1]
            return ForExpr(self.text(node), self.value(item))
        convert = literals.get(node.type)
        return convert(node) if convert else Expr(self.text(node))

    def _object(self, node: Node) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for prop in _named(node):
            if prop.type != "object_property":
                continue
            key_node, value_node = _named(prop)[0], _named(prop)[-1]
            key = self.value(key_node) if key_node.type == "string" else self.text(key_node)
            result[key if isinstance(key, str) else self.text(key_node)] = self.value(value_node)
        return result

    def _string(self, node: Node) -> str | Expr:
        parts = _named(node)
        if all(part.type in ("string_content", "escape_sequence") for part in parts):
            return "".join(self._string_part(part) for part in parts)
        return Expr(self.text(node))

    def _string_part(self, node: Node) -> str:
        raw = self.text(node)
        if node.type == "escape_sequence":
            return {"\\'": "'", "\\\\": "\\", "\\n": "\n", "\\r": "\r", "\\t": "\t", "\\$": "$"}.get(raw, raw)
        return raw

    def body(self, node: Node) -> tuple[dict[str, Any], str | None, str | None]:
        """The object of a resource/module declaration, unwrapping `if (...)` and `[for ...: ...]`."""
        condition = loop = None
        if node.type == "for_statement":
            inner = _named(node)[-1]
            loop = self.text(node)[: inner.start_byte - node.start_byte].strip()
            node = inner
        if node.type == "if_statement":
            condition = self.text(_named(node)[0])
            node = _named(node)[-1]
        return (self.value(node) if node.type == "object" else {}), condition, loop


def _named(node: Node) -> list[Node]:
    return [child for child in node.named_children if child.type != "comment"]


def load(path: Path) -> BicepFile:
    source = path.read_bytes()
    reader = _Reader(source)
    model = BicepFile(path=path)
    pending_decorators: dict[str, list[Any]] = {}
    for node in _named(parse(source)):
        kind = node.type
        children = _named(node)
        if kind == "decorators":
            for decorator in _named(node):
                call = _named(decorator)[0]
                name_node = _named(call)[0]
                args = _named(call)[1] if len(_named(call)) > 1 else None
                values = [reader.value(arg) for arg in _named(args)] if args is not None else []
                pending_decorators[reader.text(name_node)] = values
            continue
        if kind == "target_scope_assignment":
            model.target_scope = reader.value(children[0])
        elif kind == "parameter_declaration":
            name = reader.text(children[0])
            param = Param(name=name, type=reader.text(children[1]), decorators=pending_decorators)
            if len(children) > 2:
                param.default, param.has_default = reader.value(children[2]), True
            model.params[name] = param
        elif kind == "variable_declaration":
            model.variables[reader.text(children[0])] = reader.value(children[-1])
        elif kind == "resource_declaration":
            symbol = reader.text(children[0])
            body, condition, loop = reader.body(children[-1])
            model.resources[symbol] = Resource(
                symbol=symbol,
                type=reader.value(children[1]),
                existing="existing" in reader.text(node).split("=", 1)[0].split(),
                condition=condition,
                loop=loop,
                body=body,
                line=node.start_point[0] + 1,
            )
        elif kind == "module_declaration":
            symbol = reader.text(children[0])
            body, condition, loop = reader.body(children[-1])
            model.modules[symbol] = Module(
                symbol=symbol, path=reader.value(children[1]), condition=condition, loop=loop, body=body
            )
        elif kind == "output_declaration":
            model.outputs[reader.text(children[0])] = reader.value(children[-1])
        pending_decorators = {}
    return model


@functools.cache
def load_all() -> dict[str, BicepFile]:
    """Every infra/**/*.bicep, keyed by its path relative to infra/ ('main.bicep', 'app/storage.bicep')."""
    return {path.relative_to(INFRA).as_posix(): load(path) for path in bicep_files()}


def module_file(module: Module, declared_in: str) -> str:
    """The infra-relative path of the file a module declaration points at."""
    base = Path(declared_in).parent
    return (base / module.path).as_posix()
