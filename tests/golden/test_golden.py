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
