"""The proof-of-authority chain for application code: submit proposals, read final blocks.

::

    async with ActorSystem() as system:
        async with ChainCluster(system, ["v1", "v2", "v3"], seed=7) as chain:
            final = await chain.submit({"any": "value"}, timeout=5.0)
            final.height, final.block_hash, final.nodes     # final on a majority
            blocks = chain.view.final_blocks("v1")          # {height: hash} final on v1

Each validator is a :class:`~.actor.ValidatorAgent` under a one-for-one supervisor (a
crashed one is restarted with its :class:`~.tree.BlockTree`), registered under its id; a
:class:`~.actor.ChainClient` actor (``client_name``) hands every proposal to every
validator, again every ``resend_ms`` until it is final on a majority. On a
:class:`~mabeam.sim.SimNetwork`, pass it as ``network``: the validators and the client
become network nodes (the client, like a scenario's coordinator, is never partitioned).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from ...._errors import ConfigError, NotStartedError
from ...._errors import FinalityTimeoutError as FinalityTimeoutError
from ....runtime import ActorRef, ActorSystem
from ....runtime.supervision import restart_child, terminate_child
from .._cluster import ActorSpec, ClusterLifecycle
from .._host import StatusView
from .actor import Broadcast, ChainClient, ChainStatus, ValidatorAgent
from .block import Keyring, encodable
from .messages import Tx
from .tree import BlockTree
from .validator import ChainConfig

_EPSILON_S = 1e-9


class Finalized(msgspec.Struct, frozen=True):
    """A proposal final on a majority: its id, its block, the validators holding it final."""

    tx_id: str
    height: int
    block_hash: str
    nodes: list[str]


class ChainView(StatusView[ChainStatus]):
    """What every validator reported (through the chain's status collector): its status,
    its final blocks, where proposals sit. ``listeners`` are called with every report,
    after it is recorded (tests check invariants there)."""

    def __init__(
        self,
        node_ids: Sequence[str],
        system: ActorSystem | None = None,
        collector: str = "chain-client.status",
    ) -> None:
        super().__init__(node_ids, system, collector)
        self.finals: dict[str, dict[int, str]] = {i: {} for i in self.node_ids}
        self.located: dict[str, dict[str, tuple[int, str]]] = {}
        """tx id -> {validator: (height, hash) of the final block holding it}."""

    def record(self, status: ChainStatus) -> None:
        """Keep the status and the blocks it made final."""
        self.statuses[status.id] = status
        finals = self.finals.setdefault(status.id, {})
        for block in status.newly_final:
            finals[block.height] = block.hash
            for tx in block.proposals:
                self.located.setdefault(tx.id, {})[status.id] = (block.height, block.hash)

    def final_blocks(self, node_id: str) -> dict[int, str]:
        """{height: hash} of every block ``node_id`` reported final."""
        return dict(self.finals.get(node_id, {}))

    def final_on_majority(self, tx_id: str) -> Finalized | None:
        """Where ``tx_id`` is final on a majority of validators, if it is."""
        where = self.located.get(tx_id)
        if not where:
            return None
        quorum = len(self.node_ids) // 2 + 1
        for location in sorted(set(where.values())):
            nodes = [n for n in self.node_ids if where.get(n) == location]
            if len(nodes) >= quorum:
                return Finalized(tx_id, location[0], location[1], nodes)
        return None


class ChainCluster(ClusterLifecycle):
    """Validators and a client (see the module docstring).

    ``seed`` drives the validators' random wiggles and, unless ``keyring`` is given, their
    signing keys. ``resend_ms`` (default: ``10 * period_ms``) is how long a proposal waits
    before the client hands it out again (a validator may have been down).
    """

    _noun = "chain"

    def __init__(
        self,
        system: ActorSystem,
        node_ids: Sequence[str],
        *,
        config: ChainConfig | None = None,
        seed: int | str = 0,
        keyring: Keyring | None = None,
        client_name: str = "chain-client",
        network: Any = None,
        resend_ms: float | None = None,
    ) -> None:
        ids = list(node_ids)
        if not ids:
            raise ConfigError("node_ids", "needs at least one validator")
        if len(set(ids)) != len(ids) or not all(isinstance(i, str) and i for i in ids):
            raise ConfigError("node_ids", f"must be unique non-empty strings, got {ids!r}")
        if client_name in ids:
            raise ConfigError("client_name", f"{client_name!r} is also a validator id")
        self.system = system
        self.node_ids = ids
        self.config = config if config is not None else ChainConfig()
        depth = self.config.finality_depth
        if depth is not None and depth < 1:
            raise ConfigError("finality_depth", f"must be >= 1, got {depth!r}")
        self.keyring = keyring if keyring is not None else Keyring.from_seed(seed, ids)
        self.trees = {i: BlockTree(ids, depth) for i in ids}
        self.client_name = client_name
        self.network = network
        self.resend_ms = resend_ms if resend_ms is not None else 10.0 * self.config.period_ms
        self.view = ChainView(ids, system, f"{client_name}.status")
        self._rngs = {i: random.Random(f"{seed}:chain:{i}") for i in ids}
        self._next_seq = 1

    # ------------------------------------------------------------------ set-up

    def agent_spec(
        self, node_id: str
    ) -> tuple[type[ValidatorAgent], tuple[Any, ...], dict[str, Any]]:
        """(class, args, kwargs) of validator ``node_id``: for a supervisor's ChildSpec."""
        args = (
            node_id,
            self.trees[node_id],
            self.keyring,
            self.config,
            self._rngs[node_id],
            self.view.collector,
        )
        return ValidatorAgent, args, {}

    def client_spec(self) -> tuple[type[ChainClient], tuple[Any, ...], dict[str, Any]]:
        """(class, args, kwargs) of the client actor."""
        return ChainClient, (self.node_ids,), {"status": self.view}

    def _members(self) -> tuple[Sequence[str], Callable[[str], ActorSpec]]:
        return self.node_ids, self.agent_spec

    # ------------------------------------------------------------------ proposals

    async def submit(self, value: Any, *, timeout: float | None = None) -> Finalized:
        """Put ``value`` on the chain; return once its block is final on a majority."""
        client = self._require_client()
        tx = Tx(f"{self.client_name}:{self._next_seq}", value)
        if not encodable(tx):
            raise ConfigError("value", f"cannot be encoded into a block: {value!r}")
        self._next_seq += 1
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        view = self.view
        while True:
            wait = self.resend_ms / 1000.0
            if deadline is not None:
                left = deadline - loop.time()
                if left < _EPSILON_S:  # float rounding: now + left may equal now
                    assert timeout is not None
                    raise FinalityTimeoutError(tx.id, timeout)
                wait = min(wait, left)
            client.tell(Broadcast(tx))
            try:
                await view.wait(lambda: view.final_on_majority(tx.id) is not None, wait)
            except TimeoutError:
                continue
            final = view.final_on_majority(tx.id)
            assert final is not None
            return final

    def _require_client(self) -> ActorRef:
        if self._client is None:
            raise NotStartedError("the chain is not started (use `async with ChainCluster(...)`)")
        return self._client

    # ------------------------------------------------------------------ validators

    def status(self, node_id: str) -> ChainStatus:
        """A validator's head and final block, read from its tree (also while it is down)."""
        tree = self.trees.get(node_id)
        if tree is None:
            raise ConfigError("node_id", f"{node_id!r} is not a validator", allowed=self.node_ids)
        head, final = tree.head, tree.finalized
        return ChainStatus(node_id, head.height, head.hash, final.height, final.hash)

    async def crash(self, node_id: str) -> None:
        """Stop a validator at once (pending proposals lost, blocks kept)."""
        await terminate_child(self._require_supervisor(), node_id)

    async def restart(self, node_id: str) -> None:
        """Start a crashed validator again with its blocks."""
        await restart_child(self._require_supervisor(), node_id)

    def _require_supervisor(self) -> ActorRef:
        if self._supervisor is None:
            raise NotStartedError("the chain has no supervisor (not started, or attached without)")
        return self._supervisor
