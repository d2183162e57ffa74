"""PBFT (Castro & Liskov, OSDI '99): pure replica and client cores, messages, authentication.

``PbftReplica`` and ``PbftClient`` are sans-IO: feed them with ``step`` / ``tick``, take
their output with ``ready``. The actor shells are in ``.actor``, the library API
(:class:`PbftCluster`) in ``.api``, byzantine behaviours in ``.byzantine``.
"""

from .auth import Keyring as Keyring
from .client import Accepted as Accepted
from .client import PbftClient as PbftClient
from .messages import Checkpoint as Checkpoint
from .messages import Commit as Commit
from .messages import ExecutedBatch as ExecutedBatch
from .messages import Help as Help
from .messages import NewView as NewView
from .messages import PbftMessage as PbftMessage
from .messages import Prepare as Prepare
from .messages import PrePrepare as PrePrepare
from .messages import Reply as Reply
from .messages import ReplyEntry as ReplyEntry
from .messages import Request as Request
from .messages import Status as Status
from .messages import ViewChange as ViewChange
from .replica import PbftConfig as PbftConfig
from .replica import PbftReplica as PbftReplica
from .replica import faults_tolerated as faults_tolerated
from .replica import quorum as quorum
from .storage import PbftStorage as PbftStorage

__all__ = [
    "Accepted",
    "Checkpoint",
    "Commit",
    "ExecutedBatch",
    "Help",
    "Keyring",
    "NewView",
    "PbftClient",
    "PbftConfig",
    "PbftMessage",
    "PbftReplica",
    "PbftStorage",
    "PrePrepare",
    "Prepare",
    "Reply",
    "ReplyEntry",
    "Request",
    "Status",
    "ViewChange",
    "faults_tolerated",
    "quorum",
]
