"""``mabeam.protocols.conflict.__all__`` stays honest: sorted, and every name real."""

from __future__ import annotations

import mabeam.protocols.conflict as conflict


def _isort_key(name: str) -> tuple[int, str]:
    if name.isupper():
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


def test_all_is_sorted_and_real() -> None:
    """__all__ is sorted as ruff sorts it, without duplicates, and each name exists."""
    assert conflict.__all__ == sorted(conflict.__all__, key=_isort_key)
    assert len(set(conflict.__all__)) == len(conflict.__all__)
    assert [name for name in conflict.__all__ if not hasattr(conflict, name)] == []
