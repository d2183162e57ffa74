"""An agent that takes part in deciding variables and keeps their latest values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import ConfigError
from ..protocols.auction import BidderAgent
from ..protocols.bargaining.actor import appraise, take_turn
from ..protocols.bargaining.messages import Appraisal, Appraise, TakeTurn, TurnTaken
from ..protocols.bargaining.strategies import AspirationStrategy, exponent_of
from ..protocols.conflict.messages import BargainingJoined, JoinBargaining
from .messages import Preference, Propose, VariableChanged


class VariableAgent(BidderAgent):
    """Wants ``preferences[variable]``; bids ``bid`` for it in auctions; hears changes.

    Answers :class:`Propose` with its preference and ``weight`` (voting, compromise,
    bargaining), the auction messages as a :class:`~mabeam.protocols.auction.BidderAgent`
    whose value is its preference for the auctioned variable, and a bargaining session
    (the conflict module's ``JoinBargaining``, then ``TakeTurn`` / ``Appraise``) with
    its ``strategy`` (``boulware``, ``linear``, ``conceder``, ``hardliner``), ``reserved``
    utility and ``exponent``; it keeps each :class:`VariableChanged` in ``values``
    (override :meth:`on_change` to react).
    """

    def __init__(
        self,
        agent_id: str,
        preferences: Mapping[str, Any] | None = None,
        *,
        weight: float = 1.0,
        bid: float | None = None,
        max_bid: float | None = None,
        strategy: str = "linear",
        reserved: float = 0.0,
        exponent: float | None = None,
    ) -> None:
        super().__init__(agent_id, bid=bid, max_bid=max_bid)
        exponent_of(strategy, exponent)  # a ConfigError now, not a silent agent later
        if isinstance(reserved, bool) or not isinstance(reserved, int | float):
            raise ConfigError("reserved", f"must be a number in [0, 1], got {reserved!r}")
        if not 0.0 <= reserved <= 1.0:
            raise ConfigError("reserved", f"must be a number in [0, 1], got {reserved!r}")
        self.preferences = dict(preferences or {})
        self.weight = weight
        self.strategy = strategy
        self.reserved = float(reserved)
        self.exponent = exponent
        # session -> (variable, its strategy); a new session on a variable replaces the
        # last one on it (a session without agreement never sends Appraise, its end).
        self._bargains: dict[str, tuple[str, AspirationStrategy]] = {}
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
        if isinstance(message, JoinBargaining):
            issue = message.variable_id
            for session in [s for s, (v, _) in self._bargains.items() if v == issue]:
                del self._bargains[session]
            strategy = AspirationStrategy(
                message.utility,
                message.outcomes,
                strategy=self.strategy,
                reserved=self.reserved,
                exponent=self.exponent,
            )
            self._bargains[message.session] = (issue, strategy)
            return BargainingJoined(agent=self.agent_id, session=message.session)
        if isinstance(message, TakeTurn):
            bargain = self._bargains.get(message.session)
            if bargain is None:
                return TurnTaken(step=message.step)  # not in this session: silent
            return await take_turn(bargain[1], message)
        if isinstance(message, Appraise):
            bargain = self._bargains.pop(message.session, None)  # the session's last message
            if bargain is None:
                return Appraisal(utilities=None)
            return appraise(bargain[1], message)
        variable = getattr(message, "variable", None)
        self.value = self.preferences.get(variable) if isinstance(variable, str) else None
        return await super().receive(message)
