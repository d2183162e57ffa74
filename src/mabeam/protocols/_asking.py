"""How a coordinator asks its agents: the answer, or None for an agent that gave none.

An ask needs the actor running now: nobody under the name is no answer at once, as a
crash or a late answer is (what the protocols count as absent).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._errors import ActorError
from ..runtime import ActorContext

__all__ = ["ask_agents"]


async def ask_agents(
    context: ActorContext, agents: Sequence[str], message: Any, timeout: float | None
) -> list[Any]:
    """Ask ``message`` of every agent at once (``ActorContext.ask_all``); each answer in
    the order of ``agents``, or None: not running, crashed on it, or too late."""
    answers = await context.ask_all(agents, message, timeout=timeout)
    return [None if isinstance(a, ActorError | TimeoutError) else a for a in answers]
