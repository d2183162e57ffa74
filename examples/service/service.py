"""An ASGI service that owns an ActorSystem: the "drive mabeam from application code" case.

The app's lifespan starts one :class:`~mabeam.ActorSystem` (with a Raft key-value cluster,
bidders and two negotiators) and stops it when the server stops; request handlers ask
agents. Every handler runs under a deadline (``?timeout=SECONDS``, default
``request_timeout``): past it the work is cancelled and the client gets ``504``, and the
system goes on serving the next request.

Run it: ``pip install 'mabeam[service]'`` then ``uvicorn service:app`` in this folder.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mabeam import ActorSystem, ConfigError
from mabeam.protocols.auction import BidderAgent, run_auction
from mabeam.protocols.bargaining import AspirationStrategy, NegotiatorAgent, Utility, negotiate
from mabeam.protocols.consensus import RaftCluster

BIDDERS = {"coder": 5.0, "creative": 8.0, "reviewer": 3.0}
"""The bidder agents the service starts, with their bids."""
OUTCOMES = list(range(11))
"""What the seller and the buyer negotiate over (a price from 0 to 10)."""


def create_app(*, request_timeout: float = 5.0, seed: int = 7) -> Starlette:
    """The service: ``request_timeout`` (s) is the default deadline of every request."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        # Leaving this block (server shutdown) stops every actor, in reverse order.
        async with (
            ActorSystem(name="service") as system,
            RaftCluster(system, ["n1", "n2", "n3"], seed=seed) as kv,
        ):
            for name, bid in BIDDERS.items():
                await system.spawn(BidderAgent, name, bid=bid, name=name)
            seller = AspirationStrategy(Utility(ideal=10, worst=0), OUTCOMES, strategy="boulware")
            buyer = AspirationStrategy(Utility(ideal=0, worst=10), OUTCOMES, strategy="conceder")
            await system.spawn(NegotiatorAgent, seller, name="seller")
            await system.spawn(NegotiatorAgent, buyer, name="buyer")
            yield {"system": system, "kv": kv}  # request.state.system, request.state.kv

    async def within(request: Request, work: Callable[[], Awaitable[Any]]) -> JSONResponse:
        """Run ``work`` under the request's deadline: 504 when it passes, 422 on bad input."""
        try:
            timeout = float(request.query_params.get("timeout", request_timeout))
        except ValueError:
            return JSONResponse({"error": "timeout must be a number of seconds"}, 422)
        if not (math.isfinite(timeout) and timeout > 0):
            return JSONResponse({"error": "timeout must be a positive number of seconds"}, 422)
        try:
            with anyio.fail_after(timeout):  # cancels `work` (and the asks inside it)
                return JSONResponse(await work())
        except TimeoutError:
            return JSONResponse({"error": "timeout", "timeout_s": timeout}, 504)
        except ConfigError as exc:
            return JSONResponse({"error": str(exc)}, 422)

    async def auction(request: Request) -> JSONResponse:
        body = await request.json()
        system: ActorSystem = request.state.system

        async def work() -> dict[str, Any]:
            result = await run_auction(
                system,
                str(body.get("item", "item")),
                list(body.get("bidders", list(BIDDERS))),
                auction_type=body.get("auction_type", "sealed_bid"),
                payment_rule=body.get("payment_rule", "second_price"),
            )
            return {
                "ok": result.ok,
                "winner": result.winner,
                "payment": result.payment,
                "error": result.error,
            }

        return await within(request, work)

    async def read_key(request: Request) -> JSONResponse:
        kv: RaftCluster = request.state.kv
        key = request.path_params["key"]

        async def work() -> dict[str, Any]:
            return {"key": key, "value": await kv.get(key)}  # linearizable: through the log

        return await within(request, work)

    async def write_key(request: Request) -> JSONResponse:
        kv: RaftCluster = request.state.kv
        key = request.path_params["key"]
        body = await request.json()

        async def work() -> dict[str, Any]:
            previous = await kv.set(key, body.get("value"))  # committed by a majority
            return {"key": key, "value": body.get("value"), "previous": previous}

        return await within(request, work)

    async def negotiation(request: Request) -> JSONResponse:
        system: ActorSystem = request.state.system
        body = await request.json()

        async def work() -> dict[str, Any]:
            result = await negotiate(
                system, ["seller", "buyer"], outcomes=OUTCOMES, n_steps=int(body.get("n_steps", 10))
            )
            agreed = result.error is None
            return {"ok": agreed, "agreed_value": result.agreed_value, "step": result.step}

        return await within(request, work)

    async def health(request: Request) -> JSONResponse:
        system: ActorSystem = request.state.system
        names = ["n1", "n2", "n3", *BIDDERS, "seller", "buyer"]
        down = [name for name in names if system.whereis(name) is None]
        return JSONResponse({"ok": not down, "down": down}, 200 if not down else 503)

    return Starlette(
        routes=[
            Route("/auctions", auction, methods=["POST"]),
            Route("/kv/{key}", read_key, methods=["GET"]),
            Route("/kv/{key}", write_key, methods=["PUT"]),
            Route("/negotiations", negotiation, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


app = create_app()
"""The app for an ASGI server: ``uvicorn service:app``."""
