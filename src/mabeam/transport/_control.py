"""What nodes tell each other besides actors' messages: control messages and heartbeats.

Control messages (stop, links, monitors, remote spawn) travel as envelopes on the same
subject as actors' messages, addressed to the node itself (id 0, no name); their payloads
are the Structs below, registered on the system's codec under ``transport.<Name>``. The
node that sends one is the subject's last token (checked against the envelope), so an
actor id in them is always an actor of the sending node or of the receiving one.

Heartbeats are :class:`Beat` values, MessagePack-encoded with a typed msgspec decoder (no
codec registry needed: nothing but this Struct can come out of them).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec


class Monitor(msgspec.Struct, frozen=True):
    """The sender's actor ``watcher`` monitors this node's actor ``target``.

    ``watcher`` 0 is the sender's ``ref.stop()`` waiting for the exit (no actor watches).
    """

    watcher: int
    target: int
    monitor: int


class Demonitor(msgspec.Struct, frozen=True):
    """The sender's monitor ``monitor`` is off."""

    monitor: int


class RemoteDown(msgspec.Struct, frozen=True):
    """The sender's actor ``target`` exited: the receiver's ``watcher`` gets ``Down``."""

    watcher: int
    target: int
    target_name: str | None
    monitor: int
    reason: Any


class Link(msgspec.Struct, frozen=True):
    """The sender's actor ``origin`` links to this node's actor ``target``."""

    origin: int
    target: int


class Unlink(msgspec.Struct, frozen=True):
    """The sender's actor ``origin`` unlinks from this node's actor ``target``."""

    origin: int
    target: int


class RemoteExit(msgspec.Struct, frozen=True):
    """The sender's actor ``origin`` exited (or was not running): an exit signal to ``target``."""

    origin: int
    origin_name: str | None
    target: int
    reason: Any


class Stop(msgspec.Struct, frozen=True):
    """Stop this node's actor ``target`` after the messages in its mailbox (``ref.stop()``)."""

    target: int
    reason: Any


class Spawn(msgspec.Struct, frozen=True):
    """Start an actor of class ``actor_class`` (``module:QualName``) here: an ask, answered
    with the new actor's ref or the error."""

    actor_class: str
    args: Any
    kwargs: Any
    name: str | None


CONTROL: Final = (Monitor, Demonitor, RemoteDown, Link, Unlink, RemoteExit, Stop, Spawn)
"""Every control message type (registered on the codec as ``transport.<Name>``)."""

BEAT: Final = 0
"""A node's periodic heartbeat."""
HELLO: Final = 1
"""A node that just (re)connected: the others answer at once with a heartbeat."""
BYE: Final = 2
"""A node that is leaving: the others take it as down at once."""


class Beat(msgspec.Struct, frozen=True, array_like=True):
    """A heartbeat: who, which incarnation, and its registered names (name -> actor id)."""

    kind: int
    node: str
    incarnation: int
    names: dict[str, int]
