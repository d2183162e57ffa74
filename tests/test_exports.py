"""``__all__`` stays honest: sorted, every name real, every public definition exported.

After anyio's ``tests/test_all_attributes.py`` and httpx's ``test_exported_members.py``.
"""

from __future__ import annotations

import inspect
import types

import pytest

import mabeam
import mabeam.agents
import mabeam.protocols.hierarchy
import mabeam.runtime
import mabeam.variables

MODULES = [
    pytest.param(mabeam, id="mabeam"),
    pytest.param(mabeam.runtime, id="mabeam.runtime"),
    pytest.param(mabeam.agents, id="mabeam.agents"),
    pytest.param(mabeam.protocols.hierarchy, id="mabeam.protocols.hierarchy"),
    pytest.param(mabeam.variables, id="mabeam.variables"),
]


def _isort_key(name: str) -> tuple[int, str]:
    """Constants first, then classes, then functions, each alphabetical (ruff RUF022's order)."""
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


@pytest.mark.parametrize("module", MODULES)
def test_all_is_sorted(module: types.ModuleType) -> None:
    """__all__ is sorted: CONSTANTS, then Classes, then functions, alphabetically in each."""
    assert module.__all__ == sorted(module.__all__, key=_isort_key)
    assert len(set(module.__all__)) == len(module.__all__)


@pytest.mark.parametrize("module", MODULES)
def test_every_name_in_all_exists(module: types.ModuleType) -> None:
    """Each name __all__ lists is an attribute of the module."""
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


@pytest.mark.parametrize("module", MODULES)
def test_every_public_definition_is_in_all(module: types.ModuleType) -> None:
    """Every public class or function of mabeam reachable on the module is listed in __all__."""
    unlisted = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", "").startswith("mabeam")
        and name not in module.__all__
    ]
    assert unlisted == []


def test_everyday_api_is_the_runtimes() -> None:
    """What mabeam re-exports from the runtime is the very same object."""
    for name in mabeam.__all__:
        if hasattr(mabeam.runtime, name):
            assert getattr(mabeam, name) is getattr(mabeam.runtime, name)
