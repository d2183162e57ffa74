"""The actor runtime: actors, refs, mailboxes, ask/tell, supervisors, links, monitors, timers."""

from ._actor import Actor as Actor
from ._context import ActorContext as ActorContext
from ._eager import EagerWakes as EagerWakes
from ._envelope import ASK as ASK
from ._envelope import FAILURE as FAILURE
from ._envelope import REPLY as REPLY
from ._envelope import TELL as TELL
from ._envelope import Address as Address
from ._envelope import Envelope as Envelope
from ._mailbox import Mailbox as Mailbox
from ._ref import DEFAULT_ASK_TIMEOUT as DEFAULT_ASK_TIMEOUT
from ._ref import ActorRef as ActorRef
from ._reply import DeferredReply as DeferredReply
from ._signals import KILLED as KILLED
from ._signals import NOPROC as NOPROC
from ._signals import NORMAL as NORMAL
from ._signals import SHUTDOWN as SHUTDOWN
from ._signals import Down as Down
from ._signals import Exit as Exit
from ._signals import ExitReason as ExitReason
from ._signals import Shutdown as Shutdown
from ._system import ACTOR_NOT_RUNNING as ACTOR_NOT_RUNNING
from ._system import NO_SUCH_NAME as NO_SUCH_NAME
from ._system import ActorSystem as ActorSystem
from ._system import DeadLetter as DeadLetter
from ._system import DeadLetters as DeadLetters
from ._system import Transport as Transport
from ._timers import Timer as Timer
from .supervision import ChildSpec as ChildSpec
from .supervision import ChildStartError as ChildStartError
from .supervision import DynamicSupervisor as DynamicSupervisor
from .supervision import Supervisor as Supervisor
from .supervision import SupervisorError as SupervisorError

__all__ = [
    "ACTOR_NOT_RUNNING",
    "ASK",
    "DEFAULT_ASK_TIMEOUT",
    "FAILURE",
    "KILLED",
    "NOPROC",
    "NORMAL",
    "NO_SUCH_NAME",
    "REPLY",
    "SHUTDOWN",
    "TELL",
    "Actor",
    "ActorContext",
    "ActorRef",
    "ActorSystem",
    "Address",
    "ChildSpec",
    "ChildStartError",
    "DeadLetter",
    "DeadLetters",
    "DeferredReply",
    "Down",
    "DynamicSupervisor",
    "EagerWakes",
    "Envelope",
    "Exit",
    "ExitReason",
    "Mailbox",
    "Shutdown",
    "Supervisor",
    "SupervisorError",
    "Timer",
    "Transport",
]
