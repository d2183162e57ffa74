"""The example service, driven in-process through httpx's ASGI transport, on virtual time.

asgi-lifespan runs the app's lifespan (the ActorSystem starts and stops with it); the
tests run on mabeam's VirtualEventLoop (the ``virtual_time`` marker from mabeam.testing),
so Raft elections and deadlines take no wall time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from service import create_app

pytestmark = pytest.mark.virtual_time


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(request_timeout=5.0)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
            yield http


async def test_an_auction_runs_among_the_bidder_agents(client: httpx.AsyncClient) -> None:
    response = await client.post("/auctions", json={"item": "temperature"})
    assert response.status_code == 200
    assert response.json() == {"ok": True, "winner": "creative", "payment": 5.0, "error": None}


async def test_bad_auction_options_are_422_naming_the_option(client: httpx.AsyncClient) -> None:
    response = await client.post("/auctions", json={"auction_type": "sealed"})
    assert response.status_code == 422
    assert "auction_type" in response.json()["error"]


async def test_raft_keys_are_written_and_read_through_the_cluster(
    client: httpx.AsyncClient,
) -> None:
    written = await client.put("/kv/colour", json={"value": "blue"})
    assert written.status_code == 200
    assert written.json() == {"key": "colour", "value": "blue", "previous": None}
    read = await client.get("/kv/colour")
    assert read.json() == {"key": "colour", "value": "blue"}


async def test_a_negotiation_reaches_agreement(client: httpx.AsyncClient) -> None:
    response = await client.post("/negotiations", json={"n_steps": 10})
    assert response.json() == {"ok": True, "agreed_value": 8, "step": 7}


async def test_a_request_past_its_deadline_is_504_and_the_system_stays_healthy(
    client: httpx.AsyncClient,
) -> None:
    # Right after start-up no Raft leader is elected yet (that takes an election timeout),
    # so a 1 ms deadline passes: the write is cancelled and the client gets 504.
    late = await client.put("/kv/x", json={"value": 1}, params={"timeout": "0.001"})
    assert late.status_code == 504
    assert late.json() == {"error": "timeout", "timeout_s": 0.001}
    # Every agent is still up, and the next requests are served as usual.
    assert (await client.get("/health")).json() == {"ok": True, "down": []}
    assert (await client.put("/kv/x", json={"value": 2})).status_code == 200
    assert (await client.get("/kv/x")).json() == {"key": "x", "value": 2}
    assert (await client.post("/auctions", json={})).json()["winner"] == "creative"


@pytest.mark.parametrize("timeout", ["soon", "0", "-1", "nan", "inf"])
async def test_a_bad_timeout_is_422(client: httpx.AsyncClient, timeout: str) -> None:
    response = await client.get("/kv/x", params={"timeout": timeout})
    assert response.status_code == 422
    assert "timeout" in response.json()["error"]
