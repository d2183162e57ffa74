"""Bargaining: negotiation steps per second for 2, 5 and 10 agents over 100 steps, on
actors, against NegMAS's SAO mechanism measured in the same run.

Both run the same negotiation: one integer issue 0..100, agents' ideals spread evenly
over it, and every agent a hardliner (mabeam: aspiration 1; NegMAS:
``ToughNegotiator``, which offers its best and accepts only its best), so neither
agrees and both run all 100 steps. A step is one turn of every agent in both
(NegMAS's SAO with ``one_offer_per_step=False``, its default). mabeam's figure is a
whole :func:`~mabeam.protocols.bargaining.negotiate` call on the default asyncio loop:
a Mediator actor asking each NegotiatorAgent actor per turn (with a reply timeout), the
pure session core, spawn and stop of the mediator. NegMAS's is ``SAOMechanism.run()``.
The pure core alone (:func:`run_session`, no actors) is reported for scale.

NegMAS is installed only for the benchmark (``pip install -e .[bench]``); without it
the comparison is reported as not measured. Issue target: faster than NegMAS at every
size (its figures quoted in the issue, from another machine: about 4,400 steps/s with
2 agents, 1,700 with 5, 600 with 10).
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable
from typing import Any

from mabeam import ActorSystem
from mabeam.protocols.bargaining import (
    AspirationStrategy,
    NegotiatorAgent,
    Utility,
    negotiate,
    run_session,
)

from ._common import Json, best_of_rounds, check, progress, ratio, timer, verdict

SIZES = (2, 5, 10)
N_STEPS = 100
OUTCOMES: list[int | float] = list(range(101))
NEGOTIATIONS = 20
"""Negotiations per timed sample (each of N_STEPS steps); --quick runs 2."""


def _utility(i: int, n: int) -> Utility:
    ideal = round(i * 100 / (n - 1))
    return Utility(ideal=ideal, worst=100 if ideal < 50 else 0)


def _strategies(n: int) -> dict[str, AspirationStrategy]:
    return {
        f"a{i}": AspirationStrategy(_utility(i, n), OUTCOMES, strategy="hardliner")
        for i in range(n)
    }


async def _mabeam(n: int, negotiations: int) -> float:
    """Seconds for ``negotiations`` whole negotiations among ``n`` agent actors."""
    async with ActorSystem() as system:
        for name, strategy in _strategies(n).items():
            await system.spawn(NegotiatorAgent, strategy, name=name)
        names = list(_strategies(n))
        start = timer()
        for _ in range(negotiations):
            result = await negotiate(system, names, outcomes=OUTCOMES, n_steps=N_STEPS)
            assert result.steps == N_STEPS
            assert not result.agreement
        return timer() - start


def _core(n: int, negotiations: int) -> float:
    start = timer()
    for _ in range(negotiations):
        outcome = run_session(_strategies(n), OUTCOMES, N_STEPS)
        assert outcome.steps == N_STEPS
    return timer() - start


def _negmas_runner() -> Callable[[int, int], float] | None:
    """A timer of NegMAS SAO negotiations, or None when NegMAS is not installed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from negmas import SAOMechanism, make_issue
            from negmas.preferences import MappingUtilityFunction
            from negmas.sao import ToughNegotiator
    except ImportError:
        return None

    def run(n: int, negotiations: int) -> float:
        seconds = 0.0
        for _ in range(negotiations):
            mechanism = SAOMechanism(issues=[make_issue((0, 100), "price")], n_steps=N_STEPS)
            for i in range(n):
                utility = _utility(i, n)

                def value(outcome: Any, u: Utility = utility) -> float:
                    return u(outcome[0])

                preferences = MappingUtilityFunction(value, outcome_space=mechanism.outcome_space)
                mechanism.add(ToughNegotiator(name=f"a{i}"), preferences=preferences)
            start = timer()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mechanism.run()
            seconds += timer() - start
            assert mechanism.state.step == N_STEPS
            assert mechanism.agreement is None
        return seconds

    return run


def run(quick: bool) -> Json:
    negotiations = 2 if quick else NEGOTIATIONS
    negmas = _negmas_runner()
    if negmas is None:
        progress("bargaining: NegMAS is not installed; the comparison is not measured")
    samples: dict[str, Callable[[], dict[str, float]]] = {}
    for n in SIZES:
        samples[f"mabeam_{n}"] = lambda n=n: {"seconds": asyncio.run(_mabeam(n, negotiations))}
        samples[f"core_{n}"] = lambda n=n: {"seconds": _core(n, negotiations)}
        if negmas is not None:
            samples[f"negmas_{n}"] = lambda n=n, f=negmas: {"seconds": f(n, negotiations)}
    best = best_of_rounds(samples, repeats=1 if quick else 3, label="bargaining")
    steps = negotiations * N_STEPS
    measurements: Json = {}
    checks = []
    for n in SIZES:
        rates = {
            key: round(steps / best[f"{key}_{n}"]["seconds"], 1)
            for key in ("mabeam", "core", "negmas")
            if f"{key}_{n}" in best
        }
        speedup = ratio(rates["mabeam"], rates.get("negmas"))
        checks.append(check(f"{n} agents: mabeam/negmas", speedup, ">=", 1.0))
        measurements[f"agents_{n}"] = {
            "what": f"{negotiations} negotiations x {N_STEPS} steps among {n} agents",
            "steps_per_second": {
                "mabeam_actors": rates["mabeam"],
                "negmas_sao": rates.get("negmas"),
                "mabeam_pure_core": rates["core"],
            },
            "ratios": {
                "meaning": "steps per second over steps per second",
                "mabeam_over_negmas": speedup,
            },
        }
    return {
        "counts": {"negotiations": negotiations, "n_steps": N_STEPS, "sizes": list(SIZES)},
        "negmas": "measured in this run" if negmas is not None else "not installed",
        "measurements": measurements,
        "target": verdict(checks),
    }
