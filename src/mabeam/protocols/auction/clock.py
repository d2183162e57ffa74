"""English (ascending) and Dutch (descending) clock auctions: pure state machines.

The shell asks :meth:`EnglishClock.announce` / :meth:`DutchClock.announce` for the next
price, puts it to the bidders, and feeds their answers back with ``step``, which returns
an :class:`~.sealed.Award` when the auction is over and None to go on. Prices are
``round(start ± r * step, 9)``, never a running sum (``PROTOCOLS.md``).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

from ._config import round9
from .sealed import Award

__all__ = ["DutchClock", "EnglishClock"]


class EnglishClock:
    """Ascending clock: p_r = starting_price + r * increment; a bidder that drops is out.

    After each round's answers: 2+ stay → next round; 1 stays → it wins at p_r; none
    stay → at r = 0 ``no_winning_bid``, else whoever has the highest ``max_bid`` among
    those that just dropped together (and answered) wins at p_(r-1) (ties: agent id
    order). At most
    ``max_rounds`` prices: 2+ still in after the last one is ``auction_timeout``.
    """

    def __init__(
        self,
        bidders: Sequence[str],
        *,
        starting_price: float = 0.0,
        increment: float = 0.1,
        max_rounds: int = 1000,
    ) -> None:
        self.active: list[str] = list(bidders)
        self.round = 0
        self.starting_price = starting_price
        self.increment = increment
        self.max_rounds = max_rounds

    def price(self, r: int) -> float:
        """The price of round ``r``."""
        return float(round(self.starting_price + r * self.increment, 9))

    def announce(self) -> tuple[int, float]:
        """The current round and its price, for the bidders in :attr:`active`."""
        return self.round, self.price(self.round)

    def step(self, stayed: Collection[str], max_bids: Mapping[str, float | None]) -> Award | None:
        """Close the round: ``stayed`` answered stay; the rest of :attr:`active` dropped.

        ``max_bids`` has an entry for each bidder that answered drop: the max_bid it
        told, or None if it kept it to itself; a silent bidder (crashed, late) has none.
        When all drop together, the ranking is by max_bid among those that answered:
        each stayed at p_(r-1) and dropped at p_r, so p_(r-1) <= max_bid < p_r; a told
        max_bid outside that range contradicts its own answers and is not believed,
        and like an untold one it counts as p_(r-1), all the auctioneer knows. Nobody
        answered (all crashed, say): ``no_winning_bid``.
        """
        r = self.round
        stayed = set(stayed)  # membership only: the order is that of active
        staying = [agent for agent in self.active if agent in stayed]
        if len(staying) >= 2:
            if r + 1 >= self.max_rounds:
                return Award(None, None, r + 1, "auction_timeout")
            self.active = staying
            self.round = r + 1
            return None
        if len(staying) == 1:
            return Award(staying[0], self.price(r), r + 1)
        answered = [agent for agent in self.active if agent in max_bids]
        if r == 0 or not answered:
            return Award(None, None, r + 1, "no_winning_bid")
        low, high = self.price(r - 1), self.price(r)

        def rank(agent: str) -> tuple[float, str]:
            told = max_bids[agent]
            claim = round9(told) if told is not None and math.isfinite(told) else low
            return (-claim if low <= claim < high else -low, agent)

        return Award(min(answered, key=rank), low, r + 1)


class DutchClock:
    """Descending clock: p_r = starting_price - r * decrement, down to ``reserve_price``.

    The first round with an acceptance ends it: the acceptor with the highest bid wins
    (ties: agent id order) and pays p_r. A price below the reserve, or ``max_rounds``
    prices without an acceptance, ends it with ``no_winning_bid``.
    """

    def __init__(
        self,
        *,
        starting_price: float,
        decrement: float = 0.1,
        reserve_price: float = 0.0,
        max_rounds: int = 1000,
    ) -> None:
        self.round = 0
        self.starting_price = starting_price
        self.decrement = decrement
        self.reserve_price = reserve_price
        self.max_rounds = max_rounds

    def price(self, r: int) -> float:
        """The price of round ``r``."""
        return float(round(self.starting_price - r * self.decrement, 9))

    def announce(self) -> tuple[int, float] | Award:
        """The current round and its price, or the Award ending an auction without a sale."""
        r = self.round
        if r >= self.max_rounds or self.price(r) < round9(self.reserve_price):
            return Award(None, None, r, "no_winning_bid")
        return r, self.price(r)

    def step(self, accepted: Mapping[str, float]) -> Award | None:
        """Close the round: ``accepted`` maps each acceptor to its bid."""
        r = self.round
        if not accepted:
            self.round = r + 1
            return None
        winner = min(accepted, key=lambda agent: (-round9(accepted[agent]), agent))
        return Award(winner, self.price(r), r + 1)
