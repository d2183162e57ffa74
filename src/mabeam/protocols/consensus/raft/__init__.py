"""Raft (Ongaro & Ousterhout, extended paper): a pure node plus its messages and storage.

``RaftNode`` is sans-IO in the style of etcd's raft: feed it messages with ``step`` and time
with ``tick``, then take what it produced with ``ready``. The actor shell lives in
``mabeam.protocols.consensus.raft.actor``.
"""

from .messages import AppendEntries as AppendEntries
from .messages import AppendEntriesResponse as AppendEntriesResponse
from .messages import Entry as Entry
from .messages import InstallSnapshot as InstallSnapshot
from .messages import InstallSnapshotResponse as InstallSnapshotResponse
from .messages import RaftMessage as RaftMessage
from .messages import ReadProbe as ReadProbe
from .messages import ReadProbeAck as ReadProbeAck
from .messages import RequestVote as RequestVote
from .messages import RequestVoteResponse as RequestVoteResponse
from .messages import Snapshot as Snapshot
from .node import NotLeaderError as NotLeaderError
from .node import RaftConfig as RaftConfig
from .node import RaftNode as RaftNode
from .node import ReadState as ReadState
from .node import Ready as Ready
from .node import Role as Role
from .storage import FileStorage as FileStorage
from .storage import HardState as HardState
from .storage import MemoryStorage as MemoryStorage
from .storage import RaftStorage as RaftStorage

__all__ = [
    "AppendEntries",
    "AppendEntriesResponse",
    "Entry",
    "FileStorage",
    "HardState",
    "InstallSnapshot",
    "InstallSnapshotResponse",
    "MemoryStorage",
    "NotLeaderError",
    "RaftConfig",
    "RaftMessage",
    "RaftNode",
    "RaftStorage",
    "ReadProbe",
    "ReadProbeAck",
    "ReadState",
    "Ready",
    "RequestVote",
    "RequestVoteResponse",
    "Role",
    "Snapshot",
]
