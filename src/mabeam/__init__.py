"""mabeam: an asyncio actor runtime for multi-agent coordination, in the spirit of Erlang/OTP.

The everyday API is re-exported here; protocols are imported by path
(``from mabeam.protocols.consensus.raft import RaftNode``), the simulator from
``mabeam.sim`` and supervisor calls from ``mabeam.runtime.supervision``. Every exception
mabeam raises is exported here (the tree is drawn in :mod:`mabeam._errors`).
"""

from ._errors import ActorCrashedError as ActorCrashedError
from ._errors import ActorDeadError as ActorDeadError
from ._errors import ActorError as ActorError
from ._errors import ActorStartError as ActorStartError
from ._errors import AlreadyStartedError as AlreadyStartedError
from ._errors import AskTimeoutError as AskTimeoutError
from ._errors import ChildStartError as ChildStartError
from ._errors import CommandFailedError as CommandFailedError
from ._errors import CommitTimeoutError as CommitTimeoutError
from ._errors import ConfigError as ConfigError
from ._errors import FinalityTimeoutError as FinalityTimeoutError
from ._errors import InvalidStateError as InvalidStateError
from ._errors import MabeamError as MabeamError
from ._errors import MailboxFullError as MailboxFullError
from ._errors import MembershipChangeError as MembershipChangeError
from ._errors import NameTakenError as NameTakenError
from ._errors import NatsServerError as NatsServerError
from ._errors import NatsServerNotFoundError as NatsServerNotFoundError
from ._errors import NodeDownError as NodeDownError
from ._errors import NotLeaderError as NotLeaderError
from ._errors import NotStartedError as NotStartedError
from ._errors import OrderError as OrderError
from ._errors import ProtocolNotAvailableError as ProtocolNotAvailableError
from ._errors import QuorumTimeoutError as QuorumTimeoutError
from ._errors import RegistryError as RegistryError
from ._errors import RequestTimeoutError as RequestTimeoutError
from ._errors import RunStopped as RunStopped
from ._errors import ScenarioError as ScenarioError
from ._errors import SealError as SealError
from ._errors import SupervisorError as SupervisorError
from ._errors import SystemClosedError as SystemClosedError
from ._errors import UnregisteredTypeError as UnregisteredTypeError
from ._errors import UnsupportedEventLoopError as UnsupportedEventLoopError
from ._errors import VariableError as VariableError
from ._log import configure_logging as configure_logging
from .runtime import KILLED as KILLED
from .runtime import NOPROC as NOPROC
from .runtime import NORMAL as NORMAL
from .runtime import SHUTDOWN as SHUTDOWN
from .runtime import Actor as Actor
from .runtime import ActorContext as ActorContext
from .runtime import ActorRef as ActorRef
from .runtime import ActorSystem as ActorSystem
from .runtime import ChildSpec as ChildSpec
from .runtime import DeadLetter as DeadLetter
from .runtime import DeferredReply as DeferredReply
from .runtime import Down as Down
from .runtime import DynamicSupervisor as DynamicSupervisor
from .runtime import Exit as Exit
from .runtime import ExitReason as ExitReason
from .runtime import Mailbox as Mailbox
from .runtime import Shutdown as Shutdown
from .runtime import Supervisor as Supervisor

__version__ = "0.1.0"

__all__ = [
    "KILLED",
    "NOPROC",
    "NORMAL",
    "SHUTDOWN",
    "Actor",
    "ActorContext",
    "ActorCrashedError",
    "ActorDeadError",
    "ActorError",
    "ActorRef",
    "ActorStartError",
    "ActorSystem",
    "AlreadyStartedError",
    "AskTimeoutError",
    "ChildSpec",
    "ChildStartError",
    "CommandFailedError",
    "CommitTimeoutError",
    "ConfigError",
    "DeadLetter",
    "DeferredReply",
    "Down",
    "DynamicSupervisor",
    "Exit",
    "ExitReason",
    "FinalityTimeoutError",
    "InvalidStateError",
    "MabeamError",
    "Mailbox",
    "MailboxFullError",
    "MembershipChangeError",
    "NameTakenError",
    "NatsServerError",
    "NatsServerNotFoundError",
    "NodeDownError",
    "NotLeaderError",
    "NotStartedError",
    "OrderError",
    "ProtocolNotAvailableError",
    "QuorumTimeoutError",
    "RegistryError",
    "RequestTimeoutError",
    "RunStopped",
    "ScenarioError",
    "SealError",
    "Shutdown",
    "Supervisor",
    "SupervisorError",
    "SystemClosedError",
    "UnregisteredTypeError",
    "UnsupportedEventLoopError",
    "VariableError",
    "configure_logging",
]
