"""Every scenario prints what it printed when ``outputs.json`` was recorded, byte for byte.

The guard of refactors under the protocols (the envelope seam, the wake path): the
report as ``mabeam run --json`` prints it (wall time aside) and the trace's SHA-256.
"""

from __future__ import annotations

import json

import pytest

from .record import OUTPUTS, key, run_one, runs

RECORDED: dict[str, dict[str, object]] = json.loads(OUTPUTS.read_text())
RUNS = list(runs())


def test_the_record_covers_every_scenario_of_the_repository() -> None:
    assert sorted(RECORDED) == sorted(key(name, seed) for name, _, seed in RUNS)
    assert len(RUNS) > 150


@pytest.mark.parametrize(("name", "document", "seed"), RUNS, ids=[key(n, s) for n, _, s in RUNS])
def test_scenario_output_is_byte_identical(name: str, document: bytes, seed: int | None) -> None:
    assert run_one(name, document, seed) == RECORDED[key(name, seed)]


@pytest.mark.parametrize(("name", "document", "seed"), RUNS, ids=[key(n, s) for n, _, s in RUNS])
def test_scenario_output_is_byte_identical_with_every_message_encoded(
    name: str, document: bytes, seed: int | None
) -> None:
    """Strict codec: every envelope crossing the network is encoded to bytes and decoded;
    the run prints exactly the same (so every message could cross a process boundary)."""
    assert run_one(name, document, seed, strict=True) == RECORDED[key(name, seed)]
