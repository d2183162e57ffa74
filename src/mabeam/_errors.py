"""The exceptions mabeam raises.

Every error is a subclass of :class:`MabeamError`::

    MabeamError
    ├── ActorError                  something about one actor
    │   ├── ActorDeadError          ask/stop to an actor that is not running
    │   ├── AskTimeoutError         no reply within the ask timeout
    │   ├── ActorCrashedError       the handler raised while answering an ask (__cause__)
    │   ├── MailboxFullError        a bounded mailbox refused a message (policy "fail")
    │   └── ActorStartError         on_start raised: the actor never ran (__cause__)
    │       └── ChildStartError     a supervisor's child failed to start (names the spec id;
    │                               defined in mabeam.runtime.supervision)
    ├── CommandFailedError          a replicated command raised when applied (every replica
    │                               recorded the same error; the cluster goes on)
    ├── NameTakenError              a registered name is already in use
    ├── SystemClosedError           the ActorSystem is not running
    ├── UnsupportedEventLoopError   entered outside asyncio (mabeam runs on asyncio)
    └── ConfigError (ValueError)    bad input: names the field and what was allowed
        └── ScenarioError           a scenario file is invalid (names file and field)

"We broke it" and "the peer broke it" are kept apart as h11 does: ``ConfigError``
is the caller's input; ``ActorCrashedError`` is the callee's failure.
"""

from __future__ import annotations

from typing import Any


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
