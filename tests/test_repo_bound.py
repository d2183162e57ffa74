"""No test reaches outside the repository: a bare ``git clone`` runs the whole suite.

Two checks. Statically, every test source is parsed and each path it builds from
``Path(__file__)`` (directly or through a module-level name such as ``REPO``) is followed
through ``.parent``, ``.parents[n]`` and ``/ "..."``: none may climb above the repository
root, and no string literal may spell ``..`` as a path segment. Dynamically, every
``Path`` a test module holds at module level or passes to ``@pytest.mark.parametrize``
(the scenario cases above all) must resolve inside the repository root.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SCENARIOS = TESTS / "scenarios"


def _sources() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


# ------------------------------------------------------------------ static: the source


class _Climb(ast.NodeVisitor):
    """Follows ``Path(__file__)`` expressions; records those that leave the repository.

    A path's position is its number of parts below the repository root (the test file
    itself: its relative path's length); below zero is outside.
    """

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.names: dict[str, int] = {}
        self.escapes: list[tuple[int, str]] = []

    def level(self, node: ast.expr) -> int | None:
        """How many parts below the root ``node`` is, or None if it is no such path."""
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in {"Path", "PurePath"} and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Name) and arg.id == "__file__":
                    return self.depth
                return None
            if isinstance(func, ast.Attribute) and func.attr in {"resolve", "absolute"}:
                return self.level(func.value)
            return None
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            base = self.level(node.value)
            return None if base is None else base - 1
        if isinstance(node, ast.Subscript):
            value = node.value
            index = node.slice
            if (
                isinstance(value, ast.Attribute)
                and value.attr == "parents"
                and isinstance(index, ast.Constant)
                and isinstance(index.value, int)
            ):
                base = self.level(value.value)
                return None if base is None else base - 1 - index.value
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            base = self.level(node.left)
            right = node.right
            if base is None:
                return None
            if isinstance(right, ast.Constant) and isinstance(right.value, str):
                for part in right.value.split("/"):
                    if part == os.pardir:
                        base -= 1
                        self._check(node, base)
                    elif part not in {"", "."}:
                        base += 1
                return base
            return base + 1  # a name or call: at least one part further down
        return None

    def _check(self, node: ast.expr, level: int) -> None:
        if level < 0:
            self.escapes.append((node.lineno, ast.unparse(node)))

    def visit_Assign(self, node: ast.Assign) -> None:
        level = self.level(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name) and level is not None:
                self.names[target.id] = level
        self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.expr):
            level = self.level(node)
            if level is not None:
                self._check(node, level)
        super().generic_visit(node)


def escapes_in(source: str, relative: Path) -> list[str]:
    """Where the test source at ``relative`` (to the repository root) leaves the repository."""
    tree = ast.parse(source)
    climb = _Climb(len(relative.parts))
    climb.visit(tree)
    found = [f"{relative}:{line}: {text}" for line, text in climb.escapes]
    # A ``..`` segment is a path when the string has a separator, or when the string is
    # an operand of ``/`` (``Path(...) / ".."``); a lone ".." elsewhere (a seed range
    # ``f"{lo}..{hi}"``) is not one.
    joined = {
        id(side)
        for node in ast.walk(tree)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
        for side in (node.left, node.right)
    }
    for node in ast.walk(tree):
        text = node.value if isinstance(node, ast.Constant) else None
        if not isinstance(text, str):
            continue
        path = text.replace("\\", "/")
        if os.pardir in path.split("/") and ("/" in path or id(node) in joined):
            found.append(f"{relative}:{node.lineno}: the path segment '..' in {text!r}")
    return sorted(set(found))


def test_no_test_source_builds_a_path_outside_the_repository() -> None:
    """No test file climbs above the repository root from its own location."""
    sources = _sources()
    assert Path(__file__).resolve() in sources
    found = [
        escape
        for path in sources
        for escape in escapes_in(path.read_text(), path.relative_to(ROOT))
    ]
    assert found == [], "test paths leaving the repository:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("where", "line"),
    [
        (
            "tests/test_y.py",
            'REPO = Path(__file__).resolve().parents[1]\nX = REPO.parent / "shared"',
        ),
        ("tests/a/b/test_y.py", 'X = Path(__file__).resolve().parents[3].parent / "shared"'),
        ("tests/a/test_y.py", 'X = Path(__file__).parents[2] / ".." / "shared" / "scenarios"'),
        ("tests/a/test_y.py", 'X = Path(__file__).parent.parent.parent.parent / "x"'),
        ("tests/test_y.py", 'X = "../shared/scenarios/a.toml"'),
        ("tests/test_y.py", 'X = ROOT / ".."'),
    ],
)
def test_the_scan_catches_a_path_leaving_the_repository(where: str, line: str) -> None:
    """The static check is real: each of these, in the test file ``where``, is caught."""
    assert escapes_in(line, Path(where))


def test_the_scan_accepts_paths_inside_the_repository() -> None:
    source = (
        "REPO = Path(__file__).resolve().parents[3]\n"
        'CASES = REPO / "tests" / "scenarios"\n'
        'DEMO = Path(__file__).parents[2] / "scenarios" / "a.toml"\n'
        'SEEDS = f"{low}..{high}"\n'
    )
    assert escapes_in(source, Path("tests/protocols/x/test_y.py")) == []


# ------------------------------------------------------------------ dynamic: the data


def _module_name(path: Path) -> str:
    """The name pytest imports a test file under (rootdir-relative, ``prepend`` mode)."""
    parts = [path.stem]
    folder = path.parent
    while (folder / "__init__.py").exists():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


def _paths(value: Any) -> Iterator[Path]:
    if isinstance(value, Path):
        yield value
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _paths(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _paths(item)
    elif hasattr(value, "values") and hasattr(value, "marks") and hasattr(value, "id"):
        yield from _paths(value.values)  # a pytest.param


def _used_paths(module: ModuleType) -> Iterator[tuple[str, Path]]:
    """Module-level paths, and every path a test function is parametrized with."""
    for name, value in vars(module).items():
        for path in _paths(value):
            yield name, path
        for mark in getattr(value, "pytestmark", []):
            if mark.name == "parametrize":
                for path in _paths(list(mark.args[1:])):
                    yield f"{name}[parametrize]", path


def _load(source: Path) -> ModuleType:
    """The test module at ``source``: imported by name, else (a folder that is not a package,
    such as ``tests/typing``, which may not be named ``typing``) loaded from its file."""
    try:
        return importlib.import_module(_module_name(source))
    except ModuleNotFoundError:
        spec = importlib.util.spec_from_file_location(f"_repo_bound_{source.stem}", source)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


def _data_modules() -> list[Path]:
    return [p for p in _sources() if p.name.startswith("test_") and "Path(" in p.read_text()]


@pytest.mark.parametrize("source", _data_modules(), ids=lambda p: str(p.relative_to(TESTS)))
def test_every_data_path_a_test_uses_is_in_the_repository(source: Path) -> None:
    """Each path a test module holds or is parametrized with resolves inside the repo."""
    module = _load(source)
    outside = [
        f"{name}: {path}"
        for name, path in _used_paths(module)
        if not path.resolve().is_relative_to(ROOT)
    ]
    assert outside == []


def test_the_scenario_cases_are_in_the_repository() -> None:
    """The acceptance cases live in tests/scenarios, each with its expected outcome."""
    cases = sorted(SCENARIOS.glob("*.toml"))
    assert len(cases) >= 14
    for case in cases:
        assert case.with_suffix(".expect.json").is_file(), case.name
