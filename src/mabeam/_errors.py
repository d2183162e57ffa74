"""The exceptions mabeam raises: the whole public tree is defined here.

Every error is a subclass of :class:`MabeamError`; a builtin in parentheses is a second
base, kept so that ``except TimeoutError`` / ``except ValueError`` code goes on working::

    MabeamError
    ├── ActorError                      something about one actor
    │   ├── ActorDeadError              ask/stop to an actor that is not running
    │   ├── AskTimeoutError (TimeoutError)
    │   │                               no reply within the ask timeout
    │   ├── ActorCrashedError           the handler raised while answering an ask (__cause__)
    │   ├── MailboxFullError            a bounded mailbox refused a message (policy "fail")
    │   ├── NodeDownError               the actor's node is down or unreachable (NATS transport)
    │   └── ActorStartError             on_start raised: the actor never ran (__cause__)
    │       └── ChildStartError         a supervisor's child failed to start (names the spec id)
    ├── SupervisorError                 a supervisor refused a request (unknown child ...)
    ├── RegistryError                   the agent registry refused a request
    ├── VariableError                   a variable that does not exist, or exists already
    ├── NameTakenError                  a registered name is already in use
    ├── SystemClosedError               the ActorSystem is not running
    ├── UnregisteredTypeError (TypeError)
    │                                   a type the codec does not know was to cross a transport
    ├── UnsupportedEventLoopError (RuntimeError)
    │                                   entered outside asyncio (mabeam runs on asyncio)
    ├── NatsServerNotFoundError (FileNotFoundError)
    │                                   no nats-server executable (tests and benchmarks)
    ├── NatsServerError (RuntimeError)  a nats-server did not start or stop as asked
    ├── InvalidStateError (RuntimeError)
    │   │                               the call does not fit the object's state now
    │   ├── NotStartedError             a cluster not started (or attached without a supervisor)
    │   └── AlreadyStartedError         a cluster started twice
    ├── CommandFailedError              a replicated command raised when applied (every replica
    │                                   recorded the same error; the cluster goes on)
    ├── NotLeaderError                  a Raft proposal reached a node that is not the leader
    ├── MembershipChangeError           a Raft membership change the leader cannot make now
    ├── QuorumTimeoutError (TimeoutError)
    │   │                               no quorum answered within the timeout
    │   ├── CommitTimeoutError          Raft: commands not committed and applied
    │   ├── RequestTimeoutError         PBFT: operations not accepted by f + 1 replicas
    │   └── FinalityTimeoutError        chain: a proposal not final on a majority
    ├── SealError (PermissionError)     a keyring asked to seal as a validator it holds no key of
    ├── RunStopped                      a scenario run stopped early (Ctrl-C, time limit)
    └── ConfigError (ValueError)        bad input: names the field and what was allowed
        ├── ScenarioError               a scenario file is invalid (names file and field)
        ├── OrderError                  an order the book refuses
        └── ProtocolNotAvailableError   a known protocol that cannot decide variables yet

"We broke it" and "the peer broke it" are kept apart as h11 does: ``ConfigError``
is the caller's input; ``ActorCrashedError`` is the callee's failure.

The modules that raise these re-export them where they were defined before
(``mabeam.runtime.supervision.ChildStartError``,
``mabeam.protocols.consensus.raft.NotLeaderError`` ...), so every old import path works;
``mabeam`` exports them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .scenario._run import RunStatus
    from .sim import SimNetwork


class MabeamError(Exception):
    """Root of every error mabeam raises."""


class ActorError(MabeamError):
    """An operation on one actor failed; ``actor`` names it."""

    def __init__(self, message: str, *, actor: str) -> None:
        super().__init__(message)
        self.actor = actor


class ActorDeadError(ActorError):
    """The target actor is not running (never started, stopped or crashed)."""

    def __init__(self, actor: str, operation: str) -> None:
        super().__init__(f"cannot {operation}: actor {actor!r} is not running", actor=actor)
        self.operation = operation


class AskTimeoutError(ActorError, TimeoutError):
    """No reply arrived within the ask's timeout."""

    def __init__(self, actor: str, message_type: str, timeout: float) -> None:
        super().__init__(
            f"ask to actor {actor!r} with {message_type} got no reply within {timeout:g}s",
            actor=actor,
        )
        self.message_type = message_type
        self.timeout = timeout


class ActorCrashedError(ActorError):
    """The actor raised while handling an ask; the original exception is ``__cause__``."""

    def __init__(self, actor: str, message_type: str, reason: BaseException) -> None:
        super().__init__(
            f"actor {actor!r} crashed handling {message_type}: {reason!r}", actor=actor
        )
        self.message_type = message_type
        self.reason = reason


class MailboxFullError(ActorError):
    """A bounded mailbox with overflow policy ``fail`` refused a message."""

    def __init__(self, actor: str, capacity: int, message_type: str) -> None:
        super().__init__(
            f"mailbox of actor {actor!r} is full (capacity {capacity}); refused {message_type}",
            actor=actor,
        )
        self.capacity = capacity
        self.message_type = message_type


class NodeDownError(ActorError):
    """The actor's node is down or cannot be reached: an ask to it fails at once.

    ``node`` names the node; ``why`` says how it was found out (its heartbeats stopped,
    it left, this node lost its connection to the NATS server).
    """

    def __init__(self, actor: str, node: str, why: str) -> None:
        super().__init__(f"actor {actor!r} is unreachable: node {node!r} {why}", actor=actor)
        self.node = node
        self.why = why


class ActorStartError(ActorError):
    """``on_start`` raised, so the actor never ran; the original exception is ``__cause__``."""

    def __init__(self, actor: str, reason: BaseException) -> None:
        super().__init__(f"actor {actor!r} failed to start: {reason!r}", actor=actor)
        self.reason = reason


class NameTakenError(MabeamError):
    """A name given to ``spawn`` or ``register`` is already registered."""

    def __init__(self, name: str) -> None:
        super().__init__(f"the name {name!r} is already registered")
        self.name = name


class SystemClosedError(MabeamError):
    """The actor system is not running (not entered yet, or already closed)."""


class UnsupportedEventLoopError(MabeamError, RuntimeError):
    """An :class:`~mabeam.ActorSystem` was entered on something other than asyncio (trio)."""


class NatsServerNotFoundError(MabeamError, FileNotFoundError):
    """No ``nats-server`` executable: neither the wheel's nor one on ``PATH``."""


class NatsServerError(MabeamError, RuntimeError):
    """A ``nats-server`` did not start, or did not stop, as asked."""


class ConfigError(MabeamError, ValueError):
    """Bad input: the message names the field and what was allowed."""

    def __init__(self, field: str, problem: str, *, allowed: Any = None) -> None:
        text = f"{field}: {problem}"
        if allowed is not None:
            text += f" (allowed: {allowed})"
        super().__init__(text)
        self.field = field
        self.problem = problem
        self.allowed = allowed


class ScenarioError(ConfigError):
    """A scenario file is invalid; the message names the file and the field."""

    def __init__(self, path: str, field: str, problem: str, *, allowed: Any = None) -> None:
        super().__init__(field, problem, allowed=allowed)
        self.path = path
        # Rebuild the message so it leads with the file, as the CLI prints it on one line.
        self.args = (f"{path}: {self.args[0]}",)


class CommandFailedError(MabeamError):
    """A replicated command was committed but raised when applied.

    Applying is deterministic, so every replica recorded the same error result and moved
    on; ``error_type`` and ``error_message`` are that result (the exception's class name
    and text). ``outcome`` is the protocol's record of the command, e.g. where it sits in
    the log, when the caller has one.
    """

    def __init__(self, error_type: str, error_message: str, *, outcome: Any = None) -> None:
        text = f"command failed when applied: {error_type}"
        if error_message:
            text += f": {error_message}"
        super().__init__(text)
        self.error_type = error_type
        self.error_message = error_message
        self.outcome = outcome


class ChildStartError(ActorStartError):
    """A supervised child failed to start: OTP's ``{failed_to_start_child, Id, Reason}``.

    An :class:`~mabeam.ActorStartError` that also names the child spec (``child_id``);
    ``actor`` is the actor's label and ``reason`` (also ``__cause__``) what it raised.
    """

    def __init__(self, child_id: str, actor: str, reason: BaseException) -> None:
        ActorError.__init__(
            self,
            f"failed to start child {child_id!r} (actor {actor!r}): {reason!r}",
            actor=actor,
        )
        self.child_id = child_id
        self.reason = reason


class SupervisorError(MabeamError):
    """A supervisor refused a request (unknown child, child running, max_children ...)."""


class RegistryError(MabeamError):
    """The registry refused a request: unknown agent, id taken, agent not running ..."""


class VariableError(MabeamError):
    """A request on a variable that does not exist, or exists already."""


class InvalidStateError(MabeamError, RuntimeError):
    """The call does not fit the object's state now (e.g. a bargaining session that is over).

    A RuntimeError, as these calls raised before they had a mabeam error of their own.
    """


class NotStartedError(InvalidStateError):
    """A cluster was used before it was started (``async with RaftCluster(...)``), or it was
    attached without the supervisor the call needs."""


class AlreadyStartedError(InvalidStateError):
    """A cluster was started while it is running already."""


class NotLeaderError(MabeamError):
    """A proposal reached a node that is not the leader; ``leader_hint`` names the one it knows."""

    def __init__(self, node_id: str, leader_hint: str | None) -> None:
        super().__init__(f"node {node_id!r} is not the leader (leader: {leader_hint!r})")
        self.node_id = node_id
        self.leader_hint = leader_hint


class MembershipChangeError(MabeamError):
    """A membership change the leader cannot make; ``retryable`` if it can later (a change
    is pending, the learner is still catching up, the leader's term has no commit yet)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class QuorumTimeoutError(MabeamError, TimeoutError):
    """A replicated call got no quorum's answer within ``timeout`` seconds (no live majority,
    or more than f replicas faulty). One ``except`` for Raft, PBFT and the chain."""

    def __init__(self, message: str, *, timeout: float) -> None:
        super().__init__(message)
        self.timeout = timeout


class CommitTimeoutError(QuorumTimeoutError):
    """Commands were not committed and applied within the timeout (no live majority?)."""

    def __init__(self, count: int, timeout: float) -> None:
        super().__init__(f"{count} command(s) not committed within {timeout:g}s", timeout=timeout)
        self.count = count


class RequestTimeoutError(QuorumTimeoutError):
    """Operations were not accepted within the timeout (more than f replicas faulty?)."""

    def __init__(self, count: int, timeout: float) -> None:
        super().__init__(f"{count} operation(s) not accepted within {timeout:g}s", timeout=timeout)
        self.count = count


class FinalityTimeoutError(QuorumTimeoutError):
    """A proposal was not final on a majority of validators within the timeout."""

    def __init__(self, tx_id: str, timeout: float) -> None:
        super().__init__(
            f"proposal {tx_id} not final on a majority within {timeout:g}s", timeout=timeout
        )
        self.tx_id = tx_id


class SealError(MabeamError, PermissionError):
    """A seal was asked for a validator whose private key this keyring does not hold."""


class RunStopped(MabeamError):
    """A run ended before its outcome: ``reason`` is ``"interrupted"`` (Ctrl-C) or the
    reason given to :meth:`~mabeam.scenario.RunMonitor.stop` (e.g. ``"time_limit"``).
    ``status`` is where it was; ``network`` holds the trace recorded so far."""

    def __init__(self, reason: str, status: RunStatus | None, network: SimNetwork) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.network = network


class OrderError(ConfigError):
    """An order the book refuses: names the field (side, quantity, price, order_id)."""


class ProtocolNotAvailableError(ConfigError):
    """The protocol is known but cannot decide variables yet (none now: every one of
    :data:`~mabeam.variables.PROTOCOLS` can; kept for callers that catch it)."""


class UnregisteredTypeError(MabeamError, TypeError):
    """A value of a type the codec does not know was to cross a transport (or came in).

    Names the type; register it on the system's codec (``codec.register(cls, tag=...)``).
    """

    def __init__(self, type_name: str, where: str) -> None:
        super().__init__(
            f"{type_name} is not a registered message type ({where}): register it with "
            f"codec.register({type_name}, tag='yourapp.{type_name}') on the system's codec"
        )
        self.type_name = type_name
