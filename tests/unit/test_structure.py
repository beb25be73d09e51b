"""The shape of the code (issue 9): no import cycles (function-level imports included), no
module over ~400 lines, SQL only in adapters/, use cases and domain never import adapters/,
no `except ImportError` fallbacks."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "jamsos": ROOT / "services" / "jamsos",
    "jamsos_schemas": ROOT / "schemas" / "jamsos_schemas",
}
MAX_LINES = 400
SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
    r"CREATE\s+(TABLE|INDEX|DATABASE)|pg_advisory)\b",
    re.IGNORECASE | re.DOTALL,
)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package, directory in PACKAGES.items():
        for path in directory.rglob("*.py"):
            parts = [package, *path.relative_to(directory).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


@cache
def _tree(name: str) -> ast.Module:
    """The parsed module, once per run (several checks walk each module)."""
    return ast.parse(MODULES[name].read_text("utf-8"))


def _statements(node: ast.AST) -> Iterator[ast.stmt]:
    """Every statement in `node`, at any depth (imports and `except` clauses are statements,
    so there is no need to walk the expressions)."""
    for field in ("body", "orelse", "finalbody", "handlers", "cases"):
        for child in getattr(node, field, ()):
            if isinstance(child, ast.stmt):
                yield child
            yield from _statements(child)


def _imports(name: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The first-party modules `name` imports anywhere in its body (functions included)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in _statements(_tree(name)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                if f"{module}.{alias.name}" in known:  # `from pkg import submodule`
                    out.add(f"{module}.{alias.name}")
                elif module in known:
                    out.add(module)
    out.discard(name)
    return out


@cache
def import_graph() -> dict[str, set[str]]:
    """Module → the first-party modules it imports."""
    return {name: _imports(name, path, MODULES) for name, path in MODULES.items()}


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One import cycle as a path a → … → a, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_structure_finds_the_modules() -> None:
    assert {"jamsos.bootstrap", "jamsos.cli.demo", "jamsos.adapters.invoices"} <= set(MODULES)


def test_import_cycle_check_sees_a_function_level_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_import_graph_counts_imports_inside_functions() -> None:
    graph = import_graph()
    # cli/services.py imports jamsos.docs inside the `asyncapi` command only
    assert "jamsos.docs" in graph["jamsos.cli.services"]


def test_services_have_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


@pytest.mark.parametrize(
    "name", sorted(n for n in MODULES if n.startswith(("jamsos.usecases", "jamsos.domain")))
)
def test_use_cases_and_domain_never_import_adapters(name: str) -> None:
    """They reach PostgreSQL, Kafka and files through the ports (usecases/ports.py)."""
    found = sorted(m for m in import_graph()[name] if m.startswith("jamsos.adapters"))
    assert found == [], f"{name} imports {found}"


def _lines(path: Path) -> int:
    return len(path.read_text("utf-8").splitlines())


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_at_most_400_lines(name: str) -> None:
    assert _lines(MODULES[name]) <= MAX_LINES, f"{name} has {_lines(MODULES[name])} lines"


def _strings(tree: ast.AST) -> Iterator[ast.Constant]:
    """String constants that are not docstrings."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in docstrings:
                continue
            yield node


def test_sql_scan_recognises_sql() -> None:
    assert SQL.search("SELECT status FROM submissions WHERE x = $1")
    assert SQL.search("INSERT INTO outbox (event_id) VALUES ($1)")
    assert not SQL.search("select the rows to publish")


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.startswith("jamsos.adapters.")))
def test_sql_only_in_adapters(name: str) -> None:
    tree = _tree(name)
    found = [f"line {s.lineno}: {s.value[:60]!r}" for s in _strings(tree) if SQL.search(s.value)]
    assert found == [], f"SQL outside adapters/ in {name}: {found}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_import_error_fallback(name: str) -> None:
    tree = _tree(name)
    handlers = [h for node in _statements(tree) if isinstance(node, ast.Try | ast.TryStar)
                for h in node.handlers]  # fmt: skip
    caught = [
        handler.lineno
        for handler in handlers
        if handler.type is not None
        and {"ImportError", "ModuleNotFoundError"}
        & {n.id for n in ast.walk(handler.type) if isinstance(n, ast.Name)}
    ]
    assert caught == [], f"{name} catches ImportError at line(s) {caught}"
