"""The domain imports no infrastructure and reads no environment (STYLE.md, conventions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import jamsos.domain

DOMAIN = Path(jamsos.domain.__file__).parent
FORBIDDEN = frozenset(
    {"asyncpg", "faststream", "aiokafka", "os", "socket", "subprocess", "asyncio"}
)
MODULES = sorted(DOMAIN.rglob("*.py"))


def imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def mentions_environ(tree: ast.AST) -> bool:
    return any(
        (isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"})
        or (isinstance(node, ast.Name) and node.id in {"environ", "getenv"})
        for node in ast.walk(tree)
    )


def test_domain_purity_finds_domain_modules() -> None:
    assert len(MODULES) > 1


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_domain_module_imports_no_infrastructure(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    assert imported_roots(tree) & FORBIDDEN == set()


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_domain_module_reads_no_environment(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    assert not mentions_environ(tree)
