"""Actors and messages the NATS transport's tests use, importable by node subprocesses."""

from __future__ import annotations

from typing import Any

import msgspec

from mabeam import Actor
from mabeam.codec import Codec
from mabeam.runtime import Down, Exit


class Greeting(msgspec.Struct, frozen=True):
    text: str


class Echo(Actor):
    """Answers an ask with what it got; remembers tells; ``"crash"`` raises."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.told: list[Any] = []

    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise ValueError("asked to crash")
        if message == "hang":
            self.context.reply_later()  # never answered
            return None
        if message == "told":
            return list(self.told)
        if message == "sender":
            sender = self.context.sender
            return None if sender is None else [sender.address.node, sender.address.id]
        if isinstance(message, tuple) and message[:1] == ("reply_to_sender",):
            sender = self.context.sender
            assert sender is not None
            sender.tell(message[1])
            return None
        self.told.append(message)
        if isinstance(message, Greeting):
            return Greeting(self.prefix + message.text)
        return message


class Watcher(Actor):
    """Monitors or links to refs it is told; keeps every Down and Exit it gets."""

    trap_exit = True

    def __init__(self) -> None:
        self.signals: list[Any] = []
        self.got: list[Any] = []

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Down | Exit):
            self.signals.append(message)
            return None
        match message:
            case ("monitor", ref):
                return self.context.monitor(ref)
            case ("demonitor", monitor_id):
                self.context.demonitor(monitor_id)
            case ("link", ref):
                self.context.link(ref)
            case ("tell_name", name, payload):
                self.context.tell(name, payload)
            case ("via", ref, payload):
                ref.tell(payload)
            case "signals":
                return [(type(s).__name__, s.actor.address, s.reason) for s in self.signals]
            case "got":
                return list(self.got)
            case _:
                self.got.append(message)
        return None


def codec() -> Codec:
    made = Codec.default()
    made.register(Greeting, tag="tests.Greeting")
    return made
