"""``ping``: the simplest protocol, proving the simulator end to end.

A coordinator asks every agent once, concurrently, and reports which answered
within ``reply_timeout`` and which did not — each a sorted list of agent ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from ..runtime import Actor
from ._asking import ask_agents


class Ping(msgspec.Struct, frozen=True, tag=True):
    """Are you there?"""


class Pong(msgspec.Struct, frozen=True, tag=True):
    """Yes: ``agent`` is the answering agent's id."""

    agent: str


class RunPing(msgspec.Struct, frozen=True, tag=True):
    """Application → coordinator: ping every agent now."""


class PingResult(msgspec.Struct, frozen=True):
    """Agent ids that answered in time and that did not, each sorted."""

    answered: list[str]
    unanswered: list[str]


class PingAgent(Actor):
    """Answers a Ping with a Pong naming itself."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Ping):
            return Pong(agent=self.agent_id)
        raise TypeError(f"unexpected message {type(message).__name__}")


class PingCoordinator(Actor):
    """Pings each agent (found by name) once and sorts them into answered / unanswered."""

    def __init__(self, agent_ids: Sequence[str], reply_timeout: float) -> None:
        self.agent_ids = list(agent_ids)
        self.reply_timeout = reply_timeout

    async def receive(self, message: Any) -> Any:
        if not isinstance(message, RunPing):
            raise TypeError(f"unexpected message {type(message).__name__}")
        replies = await ask_agents(self.context, self.agent_ids, Ping(), self.reply_timeout)
        answers = [
            isinstance(reply, Pong) and reply.agent == agent
            for agent, reply in zip(self.agent_ids, replies, strict=True)
        ]
        answered = sorted(a for a, ok in zip(self.agent_ids, answers, strict=True) if ok)
        unanswered = sorted(a for a, ok in zip(self.agent_ids, answers, strict=True) if not ok)
        return PingResult(answered=answered, unanswered=unanswered)
