"""Every Bicep file parses with tree-sitter-bicep without ERROR or MISSING nodes (no Bicep CLI offline)."""

from __future__ import annotations

import re

import pytest

from .bicep_model import INFRA, bicep_files, load_all, module_file, syntax_errors

FILES = bicep_files()


def test_the_template_and_its_modules_are_there() -> None:
    names = {path.relative_to(INFRA).as_posix() for path in FILES}
    assert "main.bicep" in names
    assert len([name for name in names if name.startswith("app/")]) >= 5, names


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.relative_to(INFRA).as_posix())
def test_bicep_file_parses_without_errors(path) -> None:
    assert syntax_errors(path.read_bytes()) == []


@pytest.mark.parametrize(
    "snippet",
    [
        b"param location string =\n",  # value missing
        b"resource sa 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: 'x'\n",  # unclosed object
        b"var x = [for i in range(0, 3) i]\n",  # for-expression without ':'
        b"module m 'app/x.bicep' = {\n  params: { a: }\n}\n",  # property without a value
    ],
)
def test_a_broken_snippet_is_reported(snippet: bytes) -> None:
    assert syntax_errors(snippet), "the syntax check must be able to fail"


def test_every_module_path_exists() -> None:
    for name, bicep in load_all().items():
        for module in bicep.modules.values():
            assert (INFRA / module_file(module, name)).is_file(), f"{name}: module {module.symbol} -> {module.path}"


def test_every_loaded_text_file_exists() -> None:
    for path in FILES:
        for loaded in re.findall(r"load(?:Text|Json)Content\('([^']+)'\)", path.read_text()):
            assert (path.parent / loaded).is_file(), f"{path.name}: {loaded}"
