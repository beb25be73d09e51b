"""The policy defaults have one home, data/defaults.yaml (issue 9): the dataclass reads it, and
no literal default reappears in the code that builds a Policy."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from jamsos.domain.policy import Policy, packaged_defaults
from jamsos.settings import load_settings

SERVICES = Path(__file__).resolve().parents[2] / "services" / "jamsos"
BUILDERS = ["domain/policy.py", "settings.py", "config_file.py"]


def test_policy_defaults_are_the_packaged_yaml() -> None:
    policy = Policy()
    for key, value in packaged_defaults().items():
        assert getattr(policy, key) == value, key
    assert set(packaged_defaults()) == {
        f.name for f in Policy.__dataclass_fields__.values() if f.name != "agencies"
    }


def test_settings_without_config_give_the_packaged_policy(tmp_path: Path) -> None:
    policy = load_settings(env={}, cwd=tmp_path).policy
    assert policy == Policy(agencies=policy.agencies)


def test_policy_fields_have_no_literal_default() -> None:
    tree = ast.parse((SERVICES / "domain/policy.py").read_text("utf-8"))
    [cls] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Policy"]
    literal = [
        f.target.id
        for f in cls.body
        if isinstance(f, ast.AnnAssign)
        and isinstance(f.target, ast.Name)
        and f.target.id in packaged_defaults()
        and isinstance(f.value, ast.Constant | ast.Attribute | ast.UnaryOp)
    ]
    assert literal == [], f"Policy fields with a literal default: {literal}"


def _constants(tree: ast.AST) -> list[ast.Constant]:
    """Constants outside enum definitions (CoverageStartRule names its own values)."""
    enums = {
        id(c)
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(getattr(b, "id", "") == "StrEnum" for b in node.bases)
        for c in ast.walk(node)
    }
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and id(n) not in enums]


@pytest.mark.parametrize("module", BUILDERS)
def test_no_policy_default_value_is_written_in_the_code(module: str) -> None:
    values = {v for v in packaged_defaults().values() if not isinstance(v, bool)}
    tree = ast.parse((SERVICES / module).read_text("utf-8"))
    found = [
        f"line {c.lineno}: {c.value!r}"
        for c in _constants(tree)
        if not isinstance(c.value, bool) and c.value in values
    ]
    assert found == [], f"{module} repeats a default of data/defaults.yaml: {found}"
