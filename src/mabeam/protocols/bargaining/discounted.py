"""Two players splitting a pie with discounting: the Rubinstein check on the session core.

The outcome ``v`` on a grid of [0, 1] is the first mover's share, the second gets
``1 - v``; an agreement after ``k`` offers is worth ``delta_i ** k`` times the share to
player i. Rubinstein (1982): with infinitely many rounds the unique subgame-perfect
agreement is immediate and gives the first mover ``(1 - delta2) / (1 - delta1 * delta2)``.

:func:`proposer_shares` solves the finite game by backward induction on the grid (one
offer per turn, so ``2 * n_steps`` offers in a :class:`~.session.Session`, the last one
never answered): in the last round the proposer keeps everything; before that the
proposer keeps the most the responder accepts, which is a share of at least
``delta_responder`` times what the responder would keep as the next proposer.
:class:`SubgamePerfect` plays those thresholds through the ordinary ``respond`` /
``propose`` interface, so :func:`bargain_discounted` drives the very session core the
mediator runs; as the horizon and grid grow, the agreed share tends to Rubinstein's.
"""

from __future__ import annotations

import math

from ..._errors import ConfigError
from .session import SessionOutcome, run_session
from .strategies import Number, round9


def rubinstein_share(delta1: float, delta2: float) -> float:
    """The first mover's subgame-perfect share of the infinite game."""
    return (1.0 - delta2) / (1.0 - delta1 * delta2)


def _check(delta: float, name: str) -> None:
    if not (isinstance(delta, (int, float)) and 0.0 <= delta < 1.0):
        raise ConfigError(name, f"must be a number in [0, 1), got {delta!r}")


def proposer_shares(delta1: float, delta2: float, rounds: int, grid: int) -> list[float]:
    """``shares[k]``: what the proposer of round ``k`` keeps (player 1 proposes even rounds).

    Shares are multiples of ``1 / grid``; the responder accepts when what it is offered
    is at least (rounded to 9 places) what it would keep next round, discounted once.
    """
    _check(delta1, "delta1")
    _check(delta2, "delta2")
    shares = [0.0] * rounds
    shares[-1] = 1.0
    for k in range(rounds - 2, -1, -1):
        responder = delta2 if k % 2 == 0 else delta1
        needed = round9(responder * shares[k + 1])
        # The largest grid share s with 1 - s >= needed.
        s = math.floor(round9((1.0 - needed) * grid)) / grid
        shares[k] = s
    return shares


class SubgamePerfect:
    """Player 1 (``first``) or 2 of the finite discounted game, as a session strategy.

    The round comes from the relative time: at step ``s`` player 1 makes offer ``2s``
    and answers offer ``2s - 1``, player 2 makes offer ``2s + 1`` and answers ``2s``.
    """

    def __init__(self, first: bool, delta: float, shares: list[float], n_steps: int) -> None:
        self.first, self.delta, self.shares, self.n_steps = first, delta, shares, n_steps

    def _step(self, t: float) -> int:
        return round(t * (self.n_steps + 1)) - 1

    def _own(self, value: Number) -> float:
        return float(value) if self.first else round9(1.0 - float(value))

    def respond(self, offer: Number, t: float) -> bool:
        k = 2 * self._step(t) - (1 if self.first else 0)  # the round of the offer answered
        if k + 1 >= len(self.shares):
            return True  # nothing better is left: any offer beats disagreement
        return round9(self._own(offer)) >= round9(self.delta * self.shares[k + 1])

    def propose(self, t: float) -> Number:
        k = 2 * self._step(t) + (0 if self.first else 1)
        keep = self.shares[k] if k < len(self.shares) else 1.0  # an offer nobody answers
        return round9(keep) if self.first else round9(1.0 - keep)


def bargain_discounted(
    delta1: float, delta2: float, *, n_steps: int = 100, grid: int = 10_000
) -> SessionOutcome:
    """Play the discounted game on the session core with subgame-perfect players.

    The outcome's ``agreed_value`` is player 1's share (agreed at step 0).
    """
    rounds = 2 * n_steps - 1  # the last offer answered is player 1's in the last step
    shares = proposer_shares(delta1, delta2, rounds, grid)
    outcomes = [round9(i / grid) for i in range(grid + 1)]
    players = {
        "first": SubgamePerfect(True, delta1, shares, n_steps),
        "second": SubgamePerfect(False, delta2, shares, n_steps),
    }
    return run_session(players, outcomes, n_steps)
