"""Azure's resource type definitions (the data the Bicep compiler validates a resource body with), and a check
of the Bicep model's resource bodies against them.

The definitions are vendored in tests/infra/bicep-types/ (provenance and refresh: its README.md), trimmed to
the (resource type, API version) pairs infra/ uses. The check reports what `bicep build` would: an unknown
type or API version, a scope the type cannot be deployed at, a property key that does not exist (or is not
spelled in its canonical case), a required property left out, a read-only property written, and a literal
value the type does not allow. Computed values (references, calls, interpolations, ternaries) are the
compiler's to type-check and are not inspected; the items of a for-expression are.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .bicep_model import Expr, ForExpr, Resource

TYPES_DIR = Path(__file__).resolve().parent / "bicep-types"

# Flags on an ObjectType property, and the scope bits of a ResourceType (bicep-types format).
REQUIRED, READ_ONLY = 1, 2
SCOPE_BITS = {"tenant": 1, "managementGroup": 2, "subscription": 4, "resourceGroup": 8}
EXTENSION_SCOPE = 16
# Keys of a resource declaration that belong to the Bicep language, not to the resource's ARM body.
LANGUAGE_KEYS = {"parent", "scope", "dependsOn"}


@dataclass(frozen=True)
class ResourceTypeDef:
    name: str
    nodes: list[dict[str, Any]]
    body: dict[str, Any]
    readable_scopes: int
    writable_scopes: int
    source: Path


def _index(ref: dict[str, str]) -> int:
    return int(ref["$ref"].rsplit("/", 1)[1])


@functools.cache
def resource_types(root: Path = TYPES_DIR) -> dict[str, ResourceTypeDef]:
    """Every ResourceType in the types.json files under root, keyed by lower-cased 'Type@version'."""
    found: dict[str, ResourceTypeDef] = {}
    for path in sorted(root.rglob("types.json")):
        nodes = json.loads(path.read_text())
        for node in nodes:
            if node["$type"] == "ResourceType":
                found[node["name"].lower()] = ResourceTypeDef(
                    node["name"],
                    nodes,
                    nodes[_index(node["body"])],
                    node.get("readableScopes", 0),
                    node.get("writableScopes", 0),
                    path,
                )
    return found


def check_resource(resource: Resource, target_scope: str, declared_in: str, local_symbols: set[str]) -> list[str]:
    """Problems with one resource declaration, each as '<file>:<line>: <resource>: <problem>'."""
    where = f"{declared_in}:{resource.line}: {resource.symbol}"
    definition = resource_types().get(resource.type.lower())
    if definition is None:
        prefix = resource.type_name.lower() + "@"
        known = sorted(d.name for d in resource_types().values() if d.name.lower().startswith(prefix))
        hint = f" (vendored: {', '.join(known)})" if known else ""
        return [
            f"{where}: unknown resource type or API version {resource.type}{hint}; "
            "if it is real, refresh tests/infra/bicep-types (see its README)"
        ]
    problems = [f"{where}: {problem}" for problem in _scope_problems(resource, definition, target_scope, local_symbols)]
    if not resource.existing:  # an `existing` reference only names the resource
        checker = _Checker(definition.nodes)
        checker.object("", resource.body, definition.body, top_level=True)
        problems += [f"{where}: {problem}" for problem in checker.problems]
    return problems


def _scope_problems(resource: Resource, definition: ResourceTypeDef, target_scope: str, local_symbols: set[str]):
    scope = resource.body.get("scope")
    if scope is None:
        bit, scope_name = SCOPE_BITS.get(target_scope, 0), target_scope
    elif isinstance(scope, Expr) and scope.text in local_symbols:
        bit, scope_name = EXTENSION_SCOPE, f"an extension of {scope.text}"
    else:
        return []  # a scope function (subscription(), resourceGroup(...)): the compiler's to check
    allowed = definition.readable_scopes if resource.existing else definition.writable_scopes
    if not allowed & bit:
        return [f"{definition.name} cannot be {'read' if resource.existing else 'deployed'} at {scope_name} scope"]
    return []


class _Checker:
    def __init__(self, nodes: list[dict[str, Any]]) -> None:
        self.nodes = nodes
        self.problems: list[str] = []

    def node(self, ref: dict[str, str]) -> dict[str, Any]:
        return self.nodes[_index(ref)]

    def value(self, path: str, value: Any, type_node: dict[str, Any]) -> None:
        kind = type_node["$type"]
        if isinstance(value, ForExpr):
            if kind == "ArrayType":
                self.value(f"{path}[*]", value.item, self.node(type_node["itemType"]))
            return
        if isinstance(value, Expr) or kind == "AnyType":
            return
        check = {
            "ObjectType": self.object,
            "DiscriminatedObjectType": self.object,
            "ArrayType": self._array,
            "UnionType": self._union,
            "StringLiteralType": self._literal,
            "StringType": self._string,
            "IntegerType": self._integer,
            "BooleanType": self._boolean,
        }.get(kind)
        if check is not None:
            check(path, value, type_node)

    def object(self, path: str, value: Any, type_node: dict[str, Any], top_level: bool = False) -> None:
        if not isinstance(value, dict):
            self.problems.append(f"{path or 'body'}: expected an object, got {value!r}")
            return
        properties, check_required = self._properties(path, value, type_node)
        canonical = {name.lower(): name for name in properties}
        additional = type_node.get("additionalProperties")
        for key, item in value.items():
            if top_level and key in LANGUAGE_KEYS:
                continue
            name = canonical.get(key.lower())
            where = f"{path}.{key}" if path else key
            if name is None:
                if additional is not None:
                    self.value(where, item, self.node(additional))
                else:
                    close = difflib.get_close_matches(key, list(properties), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    self.problems.append(f"{where}: no such property in {type_node.get('name', 'this object')}{hint}")
                continue
            if name != key:
                self.problems.append(f"{where}: write it as {name!r} (the type's own spelling)")
            flags = properties[name].get("flags", 0)
            if flags & READ_ONLY:
                self.problems.append(f"{where}: read-only, set by Azure; it must not be written")
                continue
            self.value(where, item, self.node(properties[name]["type"]))
        if check_required:
            written = {key.lower() for key in value}
            for name, prop in properties.items():
                flags = prop.get("flags", 0)
                if flags & REQUIRED and not flags & READ_ONLY and name.lower() not in written:
                    self.problems.append(f"{path + '.' if path else ''}{name}: required, but not set")

    def _properties(self, path: str, value: dict[str, Any], type_node: dict[str, Any]):
        """The properties an object may have, and whether its required ones can be checked."""
        if type_node["$type"] == "ObjectType":
            return type_node.get("properties", {}), True
        properties = dict(type_node.get("baseProperties", {}))
        discriminator = type_node["discriminator"]
        elements = {name: self.node(ref) for name, ref in type_node["elements"].items()}
        chosen = next((v for k, v in value.items() if k.lower() == discriminator.lower()), None)
        if isinstance(chosen, str) and chosen in elements:
            properties.update(elements[chosen].get("properties", {}))
            return properties, True
        if chosen is None or isinstance(chosen, str):
            where = f"{path}.{discriminator}" if path else discriminator
            got = "not set" if chosen is None else f"{chosen!r}"
            self.problems.append(f"{where}: {got}; expected one of {', '.join(sorted(elements))}")
        for element in elements.values():  # computed discriminator: any element's keys may appear
            properties.update(element.get("properties", {}))
        return properties, False

    def _array(self, path: str, value: Any, type_node: dict[str, Any]) -> None:
        if not isinstance(value, list):
            self.problems.append(f"{path}: expected an array, got {value!r}")
            return
        item_type = self.node(type_node["itemType"])
        for i, item in enumerate(value):
            self.value(f"{path}[{i}]", item, item_type)

    def _union(self, path: str, value: Any, type_node: dict[str, Any]) -> None:
        attempts = []
        for ref in type_node["elements"]:
            trial = _Checker(self.nodes)
            trial.value(path, value, self.node(ref))
            if not trial.problems:
                return
            attempts.append(trial.problems)
        literals = [self.node(ref)["value"] for ref in type_node["elements"] if "value" in self.node(ref)]
        if literals and isinstance(value, str):
            self.problems.append(f"{path}: {value!r} is not allowed; expected one of {', '.join(map(repr, literals))}")
        else:
            self.problems.extend(min(attempts, key=len))

    def _literal(self, path: str, value: Any, type_node: dict[str, Any]) -> None:
        if value != type_node["value"]:
            self.problems.append(f"{path}: {value!r} is not allowed; expected {type_node['value']!r}")

    def _string(self, path: str, value: Any, type_node: dict[str, Any]) -> None:
        if not isinstance(value, str):
            self.problems.append(f"{path}: expected a string, got {value!r}")
            return
        if len(value) < type_node.get("minLength", 0) or len(value) > type_node.get("maxLength", len(value)):
            self.problems.append(f"{path}: {value!r} has the wrong length")
        pattern = type_node.get("pattern")
        if pattern and not _matches(pattern, value):
            self.problems.append(f"{path}: {value!r} does not match {pattern}")

    def _integer(self, path: str, value: Any, type_node: dict[str, Any]) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            self.problems.append(f"{path}: expected an integer, got {value!r}")
        elif not type_node.get("minValue", value) <= value <= type_node.get("maxValue", value):
            self.problems.append(f"{path}: {value} is out of range")

    def _boolean(self, path: str, value: Any, type_node: dict[str, Any]) -> None:
        if not isinstance(value, bool):
            self.problems.append(f"{path}: expected true or false, got {value!r}")


def _matches(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error:  # a pattern in a regex dialect Python does not read: the compiler's to check
        return True


# ---------- refresh: trim the full definitions to the types infra/ uses ----------


def trim(nodes: list[dict[str, Any]], type_names: set[str]) -> list[dict[str, Any]]:
    """The ResourceType nodes named in type_names (lower-cased 'Type@version') and every node they reach,
    in their original order, with each {"$ref": "#/N"} renumbered. Node contents are otherwise unchanged."""
    keep: set[int] = set()
    pending = [
        i for i, node in enumerate(nodes) if node["$type"] == "ResourceType" and node["name"].lower() in type_names
    ]
    while pending:
        i = pending.pop()
        if i not in keep:
            keep.add(i)
            pending.extend(_refs(nodes[i]))
    order = sorted(keep)
    renumber = {old: new for new, old in enumerate(order)}
    return [_renumbered(nodes[i], renumber) for i in order]


def _refs(value: Any) -> list[int]:
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            return [_index(value)]
        return [ref for item in value.values() for ref in _refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return []


def _renumbered(value: Any, renumber: dict[int, int]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            return {"$ref": f"#/{renumber[_index(value)]}"}
        return {key: _renumbered(item, renumber) for key, item in value.items()}
    if isinstance(value, list):
        return [_renumbered(item, renumber) for item in value]
    return value
