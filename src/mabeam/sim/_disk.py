"""Disk faults for storages that persist: writes are durable only once synced.

:class:`SimDisk` wraps a storage with Raft's interface (``load``, ``save_hard_state``,
``append``, ``truncate_after``; see :class:`~mabeam.protocols.consensus.raft.storage.
RaftStorage`) the way FoundationDB's simulator wraps files: every write reaches the
running process at once (``load`` sees it), but it is only *durable* once synced.

- ``sync="always"`` (default): every write is synced before the call returns, as
  ``FileStorage(fsync=True)`` promises; a power loss loses nothing.
- ``sync="manual"``: writes wait in order until :meth:`SimDisk.sync`, as with
  ``FileStorage(fsync=False)`` or a disk that acknowledges before it persists.

:meth:`SimDisk.power_loss` is the fault: the unsynced writes are lost, all of them or
(``keep="prefix"``) all but a seeded random prefix of them (a disk that wrote some of its
cache in order). The process must be crashed with it (a restart then loads what
survived). ``factory`` builds an empty storage of the wrapped kind; the disk keeps the
synced writes and rebuilds the storage from them after a power loss. A ``network`` given
gets the fault in its trace (kind ``disk_loss``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Literal

from .._errors import ConfigError

Sync = Literal["always", "manual"]
Keep = Literal["none", "prefix"]


class SimDisk:
    """A storage whose unsynced writes a power loss takes away (see the module docstring)."""

    def __init__(
        self,
        factory: Callable[[], Any],
        *,
        sync: Sync = "always",
        rng: random.Random | None = None,
        name: str = "disk",
        network: Any = None,
    ) -> None:
        if sync not in ("always", "manual"):
            raise ConfigError("sync", f"must be 'always' or 'manual', got {sync!r}")
        self._factory = factory
        self.sync_mode: Sync = sync
        self.rng = rng if rng is not None else random.Random(0)
        self.name = name
        self.network = network
        self._storage = factory()
        self._synced: list[tuple[str, tuple[Any, ...]]] = []
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        self.lost = 0
        """Writes lost to power losses so far."""

    # ------------------------------------------------------------------ the storage

    def load(self) -> Any:
        return self._storage.load()

    def save_hard_state(self, *args: Any) -> None:
        self._write("save_hard_state", args)

    def append(self, *args: Any) -> None:
        self._write("append", args)

    def truncate_after(self, *args: Any) -> None:
        self._write("truncate_after", args)

    def __getattr__(self, name: str) -> Any:
        # Reads the wrapped storage offers beyond the protocol (hard_state, entries, ...).
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._storage, name)

    def _write(self, method: str, args: tuple[Any, ...]) -> None:
        if method == "append":
            args = (list(args[0]), *args[1:])  # the caller may reuse its list
        getattr(self._storage, method)(*args)
        if self.sync_mode == "always":
            self._synced.append((method, args))
        else:
            self._pending.append((method, args))

    # ------------------------------------------------------------------ faults

    @property
    def unsynced(self) -> int:
        """Writes not yet durable."""
        return len(self._pending)

    def sync(self) -> None:
        """Make every write so far durable (fsync)."""
        self._synced.extend(self._pending)
        self._pending.clear()

    def power_loss(self, keep: Keep = "none") -> int:
        """Lose the unsynced writes (``prefix``: a seeded random prefix survives).

        Returns how many writes were lost. Crash the process that used the disk too.
        """
        if keep not in ("none", "prefix"):
            raise ConfigError("keep", f"must be 'none' or 'prefix', got {keep!r}")
        pending = self._pending
        kept = self.rng.randint(0, len(pending)) if keep == "prefix" and pending else 0
        self._synced.extend(pending[:kept])
        lost = len(pending) - kept
        self._pending = []
        self.lost += lost
        storage = self._factory()
        for method, args in self._synced:
            getattr(storage, method)(*args)
        self._storage = storage
        if self.network is not None:
            self.network.note_fault("disk_loss", self.name, f"lost {lost} unsynced writes")
        return lost
