"""The worker lets workflow runs share the `workflows` modules, and every project module
they import, instead of importing them afresh for each run (worker.WORKFLOW_RUNNER).
That is safe only while those modules hold no state a run could change and the next
run would see."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import MutableMapping, MutableSequence, MutableSet
from pathlib import Path
from types import ModuleType

import pytest

from worker import WORKFLOW_RUNNER

ROOT = Path(__file__).resolve().parents[2]
SHARED_PACKAGE = "workflows"


def imported_names(path: Path) -> set[str]:
    """Absolute module names a source file imports, submodules named in `from x import y`
    included."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def project_file(name: str) -> Path | None:
    """The module's source file when it is one of ours (under the repository, not a
    dependency), else None."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    path = Path(spec.origin).resolve()
    if not path.is_relative_to(ROOT) or ".venv" in path.relative_to(ROOT).parts:
        return None
    return path


def shared_modules() -> list[str]:
    """The workflows package and every project module it imports, transitively."""
    package = ROOT / SHARED_PACKAGE
    pending = [f"{SHARED_PACKAGE}.{path.stem}" for path in package.glob("*.py")]
    pending.append(SHARED_PACKAGE)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        path = project_file(name)
        if name in seen or path is None:
            continue
        seen.add(name)
        pending.extend(imported_names(path))
    return sorted(seen)


def mutable_globals(module: ModuleType) -> list[str]:
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("__")
        and isinstance(value, (MutableMapping, MutableSequence, MutableSet, bytearray))
    ]


def global_statements(module: ModuleType) -> list[int]:
    tree = ast.parse(Path(module.__file__ or "").read_text())
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Global)]


def test_the_shared_modules_reach_beyond_the_workflows_package() -> None:
    modules = shared_modules()
    assert "workflows.server" in modules
    assert "core.lifecycle" in modules  # imported by workflows, so shared as well
    assert "worker" not in modules and not any(m.startswith("tests") for m in modules)


@pytest.mark.parametrize("name", shared_modules())
def test_a_shared_module_holds_no_mutable_state(name: str) -> None:
    module = importlib.import_module(name)
    assert mutable_globals(module) == [], f"{name}: make these immutable"
    assert global_statements(module) == [], f"{name}: `global` at these lines"


def test_the_check_finds_a_mutable_global_and_a_global_statement(tmp_path: Path) -> None:
    source = "SEEN = []\n\ndef count():\n    global SEEN\n    SEEN = SEEN + [1]\n"
    path = tmp_path / "stateful.py"
    path.write_text(source)
    module = ModuleType("stateful")
    module.__file__ = str(path)
    exec(compile(source, str(path), "exec"), vars(module))
    assert mutable_globals(module) == ["SEEN"]
    assert global_statements(module) == [4]


def test_the_worker_shares_exactly_the_workflows_package_across_runs() -> None:
    restrictions = WORKFLOW_RUNNER.restrictions
    assert SHARED_PACKAGE in restrictions.passthrough_modules
    assert not restrictions.passthrough_all_modules
