"""FileStorage: the pluggable store on disk, reopened as a restarted process would."""

from __future__ import annotations

from pathlib import Path

import pytest

from mabeam.protocols.consensus.raft import Entry, FileStorage, HardState, RaftNode
from mabeam.testing.raft import Cluster, log_of_terms, lone_node


def test_file_storage_survives_reopening(tmp_path: Path) -> None:
    """Hard state and entries written by one FileStorage are loaded by the next."""
    storage = FileStorage(tmp_path)
    assert storage.load() == (HardState(), [])
    storage.save_hard_state(HardState(term=3, voted_for="n2"))
    entries = log_of_terms([1, 1, 3])
    storage.append(entries[:2])
    storage.append(entries[2:])
    storage.append([])
    hard, loaded = FileStorage(tmp_path, fsync=False).load()
    assert hard == HardState(term=3, voted_for="n2")
    assert loaded == entries


def test_file_storage_truncates_durably(tmp_path: Path) -> None:
    """truncate_after drops the tail on disk; appends then follow the new last index."""
    storage = FileStorage(tmp_path)
    storage.append(log_of_terms([1, 1, 2, 2]))
    storage.truncate_after(9)  # nothing past the end
    storage.truncate_after(2)
    storage.append([Entry(term=3, index=3, data={"k": [1, 2]})])
    _, loaded = FileStorage(tmp_path).load()
    assert [(e.index, e.term) for e in loaded] == [(1, 1), (2, 1), (3, 3)]
    assert loaded[2].data == {"k": [1, 2]}
    storage.truncate_after(0)
    assert FileStorage(tmp_path).load()[1] == []


def test_file_storage_drops_a_torn_last_frame(tmp_path: Path) -> None:
    """A frame cut short by a crash mid-append is discarded when the log is reopened."""
    storage = FileStorage(tmp_path)
    storage.append(log_of_terms([1, 1]))
    log = tmp_path / "log"
    size = log.stat().st_size
    with log.open("ab") as out:
        out.write(b"\x00\x00\x00\x40partial")
    reopened = FileStorage(tmp_path)
    assert [e.index for e in reopened.load()[1]] == [1, 2]
    assert log.stat().st_size == size
    reopened.append([Entry(term=1, index=3)])
    assert [e.index for e in FileStorage(tmp_path).load()[1]] == [1, 2, 3]


def test_file_storage_rejects_a_gap(tmp_path: Path) -> None:
    """Entries must follow the last index, as with MemoryStorage."""
    with pytest.raises(ValueError, match="does not follow"):
        FileStorage(tmp_path).append([Entry(term=1, index=2)])


def test_a_node_restarted_over_its_files_keeps_its_vote(tmp_path: Path) -> None:
    """A node rebuilt from the directory (a new process) has the term, vote and log."""
    node = lone_node(3, storage=FileStorage(tmp_path))
    node.campaign(0.0)
    node.campaign(1.0)
    restarted = RaftNode("n1", ["n1", "n2", "n3"], FileStorage(tmp_path), node.config, node._rng)
    assert (restarted.term, restarted.voted_for) == (node.term, node.voted_for)


def test_cluster_on_file_storage_survives_full_restarts(tmp_path: Path) -> None:
    """R12 on disk: every node restarts from its directory; committed entries survive."""
    storages = {f"n{i}": FileStorage(tmp_path / f"n{i}", fsync=False) for i in (1, 2, 3)}
    cluster = Cluster(3, seed=5, storages=storages)  # type: ignore[arg-type]
    cluster.one("a", 3)
    for nid in cluster.ids:
        cluster.crash(nid)
        cluster.storages[nid] = FileStorage(tmp_path / nid, fsync=False)  # type: ignore[assignment]
        cluster.restart(nid)
    cluster.one("b", 3)
    cluster.check_logs(complete=True)
    data = [e.data for e in cluster.node("n1").log if e.data is not None]
    assert data == ["a", "b"]
