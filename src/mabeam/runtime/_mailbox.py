"""Mailbox configuration: unbounded by default (as in OTP), or bounded with an explicit policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from .._errors import ConfigError

Overflow: TypeAlias = Literal["backpressure", "drop", "fail"]
OVERFLOW_POLICIES: tuple[Overflow, ...] = ("backpressure", "drop", "fail")


@dataclass(frozen=True, slots=True)
class Mailbox:
    """How many messages an actor may hold, and what happens past that.

    ``capacity=None`` (the default) is unbounded. With a capacity, ``overflow`` says what
    a full mailbox does with one more message:

    - ``"backpressure"``: ``await ref.send(msg)`` (and ``ask``) wait for room;
      ``ref.tell(msg)``, which cannot wait, raises :class:`~mabeam.MailboxFullError`.
    - ``"drop"``: the new message goes to dead letters (an ``ask`` fails at once).
    - ``"fail"``: the sender gets :class:`~mabeam.MailboxFullError`.

    A message that crosses the simulated network meets a full mailbox only on arrival,
    after its sender moved on: then ``fail`` and ``backpressure`` drop it to dead letters.
    """

    capacity: int | None = None
    overflow: Overflow = "backpressure"

    def __post_init__(self) -> None:
        if self.capacity is not None and (
            isinstance(self.capacity, bool)
            or not isinstance(self.capacity, int)
            or self.capacity < 1
        ):
            raise ConfigError(
                "mailbox.capacity", f"must be a whole number >= 1 or None, got {self.capacity!r}"
            )
        if self.overflow not in OVERFLOW_POLICIES:
            raise ConfigError(
                "mailbox.overflow",
                f"unknown policy {self.overflow!r}",
                allowed=", ".join(OVERFLOW_POLICIES),
            )


UNBOUNDED = Mailbox()
