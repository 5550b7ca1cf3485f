"""alerting/ imports only the standard library and itself (style.md practice 15; issue 4 acceptance 8)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "alerting"
MODULES = sorted(PACKAGE.glob("*.py"))
# Standard-library modules that would still break the pure core's promise: no clock, no I/O.
FORBIDDEN_STDLIB = frozenset(
    {"time", "socket", "subprocess", "threading", "asyncio", "os", "random", "sqlite3"}
)


def imported_roots(source: str) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                roots.add(".")  # relative import: banned by the team's ruff config too
            elif node.module is not None:
                roots.add(node.module.split(".")[0])
    return roots


def test_the_package_has_modules() -> None:
    assert len(MODULES) > 10


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_only_stdlib_and_alerting_imports(module: Path) -> None:
    roots = imported_roots(module.read_text(encoding="utf-8"))
    foreign = {r for r in roots if r != "alerting" and r != "__future__" and r not in sys.stdlib_module_names}
    assert not foreign, f"{module.name} imports {sorted(foreign)}: alerting/ is standard library only"
    impure = roots & FORBIDDEN_STDLIB
    assert not impure, f"{module.name} imports {sorted(impure)}: alerting/ reads no clock and does no I/O"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_no_clock_reads(module: Path) -> None:
    source = module.read_text(encoding="utf-8")
    for call in ("datetime.now(", "datetime.utcnow(", "date.today(", "time.time(", "monotonic("):
        assert call not in source, f"{module.name} reads the clock ({call}); pass `now` in"


def test_the_checker_catches_foreign_and_relative_imports() -> None:
    assert imported_roots("import redis\nfrom fastapi import FastAPI\nfrom . import x\nimport os.path") == {
        "redis",
        "fastapi",
        ".",
        "os",
    }
