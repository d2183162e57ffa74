"""Workarounds for nats-py that the transport, its tests and its benchmarks share.

:func:`confirm_subscriptions`: in nats-py (seen in 2.16), ``Client.flush()`` writes its
PING straight to the socket while a ``SUB`` from ``subscribe()`` may still wait in the
client's pending buffer for the flusher task; the PONG then comes back before the server
has the subscription, and a request sent at once fails with ``NoRespondersError`` (about
2 in 100 tries on loopback). The same bug was fixed in the older nats.py2 client
(https://github.com/nats-io/nats.py2/pull/24).
"""

from __future__ import annotations

from nats.aio.client import Client


async def confirm_subscriptions(client: Client, timeout: float = 5.0) -> None:
    """Return once the server has every subscription ``client`` made so far.

    A message to an inbox of the client's own goes through the same ordered pending
    buffer as the ``SUB`` commands before it; when it comes back, the server has
    processed them all. Needs the connection's echo (nats-py's default, ``no_echo=False``).
    Raises ``nats.errors.TimeoutError`` when it does not come back within ``timeout``.
    """
    inbox = client.new_inbox()
    echo = await client.subscribe(inbox, max_msgs=1)
    try:
        await client.publish(inbox, b"")
        await echo.next_msg(timeout=timeout)
    finally:
        if not client.is_closed:
            await echo.unsubscribe()
