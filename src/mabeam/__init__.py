"""mabeam: an asyncio actor runtime for multi-agent coordination, in the spirit of Erlang/OTP.

The everyday API is re-exported here; protocols are imported by path
(``from mabeam.protocols.consensus.raft import RaftNode``), the simulator from
``mabeam.sim`` and supervisor calls from ``mabeam.runtime.supervision``.
"""

from ._errors import ActorCrashedError as ActorCrashedError
from ._errors import ActorDeadError as ActorDeadError
from ._errors import ActorError as ActorError
from ._errors import ActorStartError as ActorStartError
from ._errors import AskTimeoutError as AskTimeoutError
from ._errors import CommandFailedError as CommandFailedError
from ._errors import ConfigError as ConfigError
from ._errors import MabeamError as MabeamError
from ._errors import MailboxFullError as MailboxFullError
from ._errors import NameTakenError as NameTakenError
from ._errors import ScenarioError as ScenarioError
from ._errors import SystemClosedError as SystemClosedError
from ._errors import UnregisteredTypeError as UnregisteredTypeError
from ._errors import UnsupportedEventLoopError as UnsupportedEventLoopError
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
from .runtime import ChildStartError as ChildStartError
from .runtime import DeadLetter as DeadLetter
from .runtime import DeferredReply as DeferredReply
from .runtime import Down as Down
from .runtime import DynamicSupervisor as DynamicSupervisor
from .runtime import Exit as Exit
from .runtime import ExitReason as ExitReason
from .runtime import Mailbox as Mailbox
from .runtime import Shutdown as Shutdown
from .runtime import Supervisor as Supervisor
from .runtime import SupervisorError as SupervisorError

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
    "AskTimeoutError",
    "ChildSpec",
    "ChildStartError",
    "CommandFailedError",
    "ConfigError",
    "DeadLetter",
    "DeferredReply",
    "Down",
    "DynamicSupervisor",
    "Exit",
    "ExitReason",
    "MabeamError",
    "Mailbox",
    "MailboxFullError",
    "NameTakenError",
    "ScenarioError",
    "Shutdown",
    "Supervisor",
    "SupervisorError",
    "SystemClosedError",
    "UnregisteredTypeError",
    "UnsupportedEventLoopError",
    "configure_logging",
]
