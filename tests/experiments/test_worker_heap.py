"""A chunk in a worker keeps the process's existing objects out of the garbage
collector's way (``gc.freeze``) and gives them back after; the caller's process (the
serial executor) and a process that froze objects itself are left as they are."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mabeam.experiments import Sweep, run_sweep
from mabeam.experiments._worker import Chunk, heap_frozen, run_chunk

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bargaining-sweep.toml"
DOCUMENT = Sweep(EXAMPLE).document
CHUNK: Chunk = [(0, {}, 0), (1, {}, 1)]


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    assert gc.get_freeze_count() == 0
    yield
    gc.unfreeze()  # whatever a failing test left frozen


@pytest.fixture
def frozen_during_collections() -> Iterator[list[int]]:
    """The freeze count at the start of every collection, by the collector's own hook."""
    seen: list[int] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(gc.get_freeze_count())

    gc.callbacks.append(record)
    yield seen
    gc.callbacks.remove(record)


def test_the_heap_is_frozen_while_the_context_is_open_and_given_back_after() -> None:
    held = [object() for _ in range(1000)]  # objects the process holds already
    with heap_frozen():
        assert gc.get_freeze_count() >= len(held)
    assert gc.get_freeze_count() == 0


def test_overlapping_chunks_share_one_freeze_until_the_last_ends() -> None:
    first_in = threading.Event()
    second_in = threading.Event()
    first_out = threading.Event()
    counts: dict[str, int] = {}

    def first() -> None:
        with heap_frozen():
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second() -> None:
        first_in.wait(10)
        with heap_frozen():
            second_in.set()
            first_out.wait(10)
            counts["after the first ended"] = gc.get_freeze_count()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert counts["after the first ended"] > 0  # still frozen for the second chunk
    assert gc.get_freeze_count() == 0


def test_a_process_that_froze_objects_itself_keeps_its_freeze() -> None:
    gc.freeze()
    own = gc.get_freeze_count()
    with heap_frozen():
        assert gc.get_freeze_count() == own  # nothing more frozen
    assert gc.get_freeze_count() == own  # and nothing unfrozen


def test_an_exception_in_the_chunk_unfreezes() -> None:
    with pytest.raises(RuntimeError), heap_frozen():
        raise RuntimeError("run failed")
    assert gc.get_freeze_count() == 0


def test_a_worker_chunk_runs_with_the_heap_frozen(frozen_during_collections: list[int]) -> None:
    rows = run_chunk(DOCUMENT, str(EXAMPLE), CHUNK, None)
    assert [row["status"] for row in rows] == ["ok", "ok"]
    assert frozen_during_collections  # runs make garbage: the collector ran
    assert min(frozen_during_collections) > 0
    assert gc.get_freeze_count() == 0


def test_the_serial_executor_leaves_the_callers_collector_alone(
    frozen_during_collections: list[int],
) -> None:
    result = run_sweep(Sweep(EXAMPLE, seeds="0..1"), executor="serial")
    assert result.failed == 0
    assert frozen_during_collections
    assert set(frozen_during_collections) == {0}
