"""The validator actor shell: a :class:`ValidatorAgent` hosts one pure :class:`Validator`.

Chain messages travel as tells between agent actors addressed by name (a restarted agent
has a new ref, the same name). The shell keeps one ``send_after`` timer armed to
``validator.deadline()``; after every input it takes ``validator.ready()``, sends its
messages, logs what was sealed, made final or rejected, and reports its status to an
optional observer. The :class:`~.tree.BlockTree` is a ChildSpec argument, so every
incarnation of a validator after a crash-restart keeps its blocks (its "disk"); pending
proposals are volatile (the client resends them).

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

from ....runtime import Actor, Timer
from .block import Keyring
from .messages import Block, Submit, Tx
from .tree import BlockTree
from .validator import ChainConfig, Validator


class ChainStatus(msgspec.Struct, frozen=True):
    """A validator's state as results report it, plus the blocks just made final."""

    id: str
    head_height: int
    head_hash: str
    finalized_height: int
    finalized_hash: str
    newly_final: tuple[Block, ...] = ()


Observer = Callable[[ChainStatus], None]


class GetChainStatus(msgspec.Struct, frozen=True, tag=True):
    """Ask a validator for its :class:`ChainStatus`."""


class Broadcast(msgspec.Struct, frozen=True, tag=True):
    """To a :class:`ChainClient`: submit this proposal to every validator."""

    tx: Tx


class _Tick(msgspec.Struct, frozen=True, tag=True):
    """The validator's sealing timer fired."""


_TICK = _Tick()
_EPSILON_MS = 1e-6


class ValidatorAgent(Actor):
    """An agent actor hosting a validator (see the module docstring)."""

    def __init__(
        self,
        node_id: str,
        tree: BlockTree,
        keyring: Keyring,
        config: ChainConfig,
        rng: random.Random,
        observer: Observer | None = None,
    ) -> None:
        self.node_id = node_id
        self.tree = tree
        self.keyring = keyring
        self.config = config
        self.rng = rng
        self.observer = observer
        self._timer: Timer | None = None
        self._armed_at = float("inf")
        self._garbage = 0
        self._last: tuple[str, str] | None = None
        self.core: Validator

    async def on_start(self) -> None:
        self.core = Validator(
            self.node_id, self.tree, self.keyring, self.config, self.rng, now=self._now()
        )
        self.context.log.info(
            "chain_validator_started",
            node=self.node_id,
            head_height=self.tree.head.height,
            finalized_height=self.tree.finalized.height,
        )
        self._after_input()

    def _now(self) -> float:
        return self.context.time() * 1000.0

    async def receive(self, message: Any) -> Any:
        core = self.core
        if isinstance(message, _Tick):
            now = self._now()
            if self._timer is not None and not self._timer.active:
                # The armed timer fired: its time has come even if ms -> s -> ms rounding
                # puts "now" a hair before it.
                if self._armed_at - _EPSILON_MS <= now < self._armed_at:
                    now = self._armed_at
                self._timer = None
                self._armed_at = float("inf")
            core.tick(now)
        elif isinstance(message, GetChainStatus):
            return self.status()
        else:
            core.step(message, self._now())
        self._after_input()
        return None

    def status(self, newly_final: tuple[Block, ...] = ()) -> ChainStatus:
        tree = self.tree
        head, final = tree.head, tree.finalized
        return ChainStatus(
            self.node_id, head.height, head.hash, final.height, final.hash, newly_final
        )

    def _after_input(self) -> None:
        core = self.core
        ready = core.ready()
        log = self.context.log
        tell = self.context.tell
        for block in ready.sealed:
            log.info(
                "chain_block_sealed",
                node=self.node_id,
                height=block.height,
                hash=block.hash,
                in_turn=self.tree.in_turn(block.height, block.signer),
                proposals=len(block.proposals),
            )
        for out in ready.messages:
            tell(out.dst, out.message)
        for rejected in ready.rejected:
            log.info(
                "chain_block_rejected",
                node=self.node_id,
                hash=rejected.hash,
                signer=rejected.signer,
                reason=rejected.reason,
            )
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
        self._arm(core.deadline())
        self._report(tuple(ready.finalized))

    def _arm(self, deadline: float) -> None:
        if deadline == float("inf"):
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
                self._armed_at = deadline
            return
        if self._timer is not None and self._armed_at <= deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._armed_at = deadline
        self._timer = self.context.send_after(max(0.0, deadline - self._now()) / 1000.0, _TICK)

    def _report(self, newly_final: tuple[Block, ...]) -> None:
        tree = self.tree
        key = (tree.head.hash, tree.finalized.hash)
        if key == self._last and not newly_final:
            return
        self._last = key
        if self.observer is not None:
            self.observer(self.status(newly_final))


class ChainClient(Actor):
    """Forwards each :class:`Broadcast` proposal to every validator, as a :class:`Submit`."""

    def __init__(self, validators: Sequence[str]) -> None:
        self.validators = tuple(validators)

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Broadcast):
            submit = Submit(message.tx)
            for validator in self.validators:
                self.context.tell(validator, submit)
            return None
        raise TypeError(f"unexpected message {type(message).__name__}")
