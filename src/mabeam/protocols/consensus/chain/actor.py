"""The validator actor shell: a :class:`ValidatorAgent` hosts one pure :class:`Validator`.

Chain messages travel as tells between agent actors addressed by name (a restarted agent
has a new ref, the same name). The shell keeps one ``send_after`` timer armed to
``validator.deadline()``; after every input it takes ``validator.ready()``, sends its
messages, logs what was sealed, made final or rejected, and tells its status to the actor
named ``status_to`` (optional: the cluster's status collector). The
:class:`~.tree.BlockTree` is a ChildSpec argument, so every incarnation of a validator
after a crash-restart keeps its blocks (its "disk"); pending proposals are volatile (the
client resends them).

Log events: ``chain_validator_started``, ``chain_block_sealed`` (node, height, hash,
in_turn, proposals), ``chain_block_final`` (node, height, hash, signer),
``chain_block_rejected`` (node, hash, signer, reason), ``chain_garbage_dropped`` (node,
count).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from ....runtime import Actor
from .._host import CoreHost, StatusView, start_collector
from .block import Keyring
from .messages import Block, Submit, Tx
from .tree import BlockTree
from .validator import ChainConfig, Ready, Validator


class ChainStatus(msgspec.Struct, frozen=True):
    """A validator's state as results report it, plus the blocks just made final."""

    id: str
    head_height: int
    head_hash: str
    finalized_height: int
    finalized_hash: str
    newly_final: tuple[Block, ...] = ()


Observer = Callable[[ChainStatus], None]
"""An application-side listener of statuses (``ChainView.listeners``)."""


class GetChainStatus(msgspec.Struct, frozen=True, tag=True):
    """Ask a validator for its :class:`ChainStatus`."""


class Broadcast(msgspec.Struct, frozen=True, tag=True):
    """To a :class:`ChainClient`: submit this proposal to every validator."""

    tx: Tx


class ValidatorAgent(CoreHost[Validator, Ready]):
    """An agent actor hosting a validator (see the module docstring)."""

    def __init__(
        self,
        node_id: str,
        tree: BlockTree,
        keyring: Keyring,
        config: ChainConfig,
        rng: random.Random,
        status_to: str | None = None,
    ) -> None:
        self.node_id = node_id
        self.tree = tree
        self.keyring = keyring
        self.config = config
        self.rng = rng
        self.status_to = status_to
        self._garbage = 0

    def make_core(self, now: float) -> Validator:
        return Validator(self.node_id, self.tree, self.keyring, self.config, self.rng, now=now)

    def started(self) -> None:
        self.context.log.info(
            "chain_validator_started",
            node=self.node_id,
            head_height=self.tree.head.height,
            finalized_height=self.tree.finalized.height,
        )

    def handle(self, message: Any) -> Any:
        if isinstance(message, GetChainStatus):
            return self.status()
        self.core.step(message, self.now())
        return None

    def status(self, ready: Ready | None = None) -> ChainStatus:
        tree = self.tree
        head, final = tree.head, tree.finalized
        newly_final = () if ready is None else tuple(ready.finalized)
        return ChainStatus(
            self.node_id, head.height, head.hash, final.height, final.hash, newly_final
        )

    def after_ready(self, ready: Ready) -> None:
        log = self.context.log
        for block in ready.sealed:
            log.info(
                "chain_block_sealed",
                node=self.node_id,
                height=block.height,
                hash=block.hash,
                in_turn=self.tree.in_turn(block.height, block.signer),
                proposals=len(block.proposals),
            )
        for rejected in ready.rejected:
            log.info(
                "chain_block_rejected",
                node=self.node_id,
                hash=rejected.hash,
                signer=rejected.signer,
                reason=rejected.reason,
            )
        core = self.core
        if core.garbage != self._garbage:
            log.info("chain_garbage_dropped", node=self.node_id, count=core.garbage)
            self._garbage = core.garbage
        for block in ready.finalized:
            log.debug(
                "chain_block_final",
                node=self.node_id,
                height=block.height,
                hash=block.hash,
                signer=block.signer,
            )

    def marks(self) -> tuple[str, str]:
        tree = self.tree
        return (tree.head.hash, tree.finalized.hash)

    def must_publish(self, ready: Ready) -> bool:
        return bool(ready.finalized)


class ChainClient(Actor):
    """Forwards each :class:`Broadcast` proposal to every validator, as a :class:`Submit`.

    ``status`` (optional) is the cluster's :class:`~.api.ChainView`: the client starts its
    status collector as a child, so it lives as long as the client.
    """

    def __init__(self, validators: Sequence[str], *, status: StatusView[Any] | None = None) -> None:
        self.validators = tuple(validators)
        self.status = status

    async def on_start(self) -> None:
        if self.status is not None:
            await start_collector(self.context, self.status)

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Broadcast):
            submit = Submit(message.tx)
            for validator in self.validators:
                self.context.tell(validator, submit)
            return None
        raise TypeError(f"unexpected message {type(message).__name__}")
