"""An agent that takes part in deciding variables and keeps their latest values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..protocols.auction import BidderAgent
from .messages import Preference, Propose, VariableChanged


class VariableAgent(BidderAgent):
    """Wants ``preferences[variable]``; bids ``bid`` for it in auctions; hears changes.

    Answers :class:`Propose` with its preference and ``weight`` (voting, compromise),
    the auction messages as a :class:`~mabeam.protocols.auction.BidderAgent` whose
    value is its preference for the auctioned variable, and keeps each
    :class:`VariableChanged` in ``values`` (override :meth:`on_change` to react).
    """

    def __init__(
        self,
        agent_id: str,
        preferences: Mapping[str, Any] | None = None,
        *,
        weight: float = 1.0,
        bid: float | None = None,
        max_bid: float | None = None,
    ) -> None:
        super().__init__(agent_id, bid=bid, max_bid=max_bid)
        self.preferences = dict(preferences or {})
        self.weight = weight
        self.values: dict[str, Any] = {}
        self.changes: list[VariableChanged] = []

    async def on_change(self, change: VariableChanged) -> None:
        """Called for each change of a subscribed variable (after ``values`` is updated)."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, VariableChanged):
            self.values[message.variable] = message.value
            self.changes.append(message)
            await self.on_change(message)
            return None
        if isinstance(message, Propose):
            value = self.preferences.get(message.variable)
            return Preference(agent=self.agent_id, value=value, weight=self.weight)
        variable = getattr(message, "variable", None)
        self.value = self.preferences.get(variable) if isinstance(variable, str) else None
        return await super().receive(message)
