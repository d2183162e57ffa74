"""Hierarchy shapes: who is whose parent in a tree, a star or layers (PROTOCOLS.md).

A :class:`Structure` is plain, immutable configuration shared by every agent of one
hierarchy: the agent ids in agent order, each one's parent and children (by index), the
height of each subtree (a leaf is 1) and the depth of the whole (root = level 1). The
root is always the first agent.

- ``tree``: agent i (i >= 1) has parent (i - 1) // branching_factor;
- ``star``: every agent is a child of the root;
- ``layered``: agent j of layer L+1 is a child of agent j mod |layer L| of layer L; the
  layers hold every agent exactly once and the first holds only the root.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeAlias

from ..._errors import ConfigError

Shape: TypeAlias = Literal["tree", "star", "layered"]
SHAPES: tuple[Shape, ...] = ("tree", "star", "layered")
MAX_WAIT_HEIGHT = 16
"""Waits double with the subtree's height up to this one, then grow linearly (see
:meth:`Structure.wait`)."""


class Structure:
    """Parents, children, subtree heights and depth of one hierarchy, by agent index."""

    __slots__ = ("children", "depth", "heights", "ids", "index", "parents", "shape")

    def __init__(self, shape: Shape, ids: Sequence[str], parents: Sequence[int]) -> None:
        self.shape = shape
        self.ids: tuple[str, ...] = tuple(ids)
        self.parents: tuple[int, ...] = tuple(parents)
        self.index: dict[str, int] = {agent: i for i, agent in enumerate(self.ids)}
        children: list[list[int]] = [[] for _ in self.ids]
        for child, parent in enumerate(self.parents):
            if parent >= 0:
                children[parent].append(child)
        self.children: tuple[tuple[int, ...], ...] = tuple(tuple(c) for c in children)
        # Breadth first from the root: parents before children, whatever the agent order.
        order = [0] if self.ids else []
        levels = [1] * len(self.ids)
        for node in order:
            for child in children[node]:
                levels[child] = levels[node] + 1
                order.append(child)
        heights = [1] * len(self.ids)
        for node in reversed(order[1:]):
            parent = self.parents[node]
            heights[parent] = max(heights[parent], heights[node] + 1)
        self.heights: tuple[int, ...] = tuple(heights)
        self.depth = max(levels, default=0)

    # ---------------------------------------------------------------- builders

    @classmethod
    def tree(cls, ids: Sequence[str], branching_factor: int = 3) -> Structure:
        """Agent i (i >= 1) is a child of agent (i - 1) // branching_factor."""
        _check_ids(ids)
        if isinstance(branching_factor, bool) or not isinstance(branching_factor, int):
            raise ConfigError("branching_factor", f"must be an integer, got {branching_factor!r}")
        if branching_factor < 1:
            raise ConfigError("branching_factor", f"must be >= 1, got {branching_factor}")
        return cls("tree", ids, [-1] + [(i - 1) // branching_factor for i in range(1, len(ids))])

    @classmethod
    def star(cls, ids: Sequence[str]) -> Structure:
        """Every agent but the first is a child of the first."""
        _check_ids(ids)
        return cls("star", ids, [-1] + [0] * (len(ids) - 1))

    @classmethod
    def layered(cls, ids: Sequence[str], layers: Sequence[Sequence[str]]) -> Structure:
        """Agent j of layer L+1 is a child of agent j mod |layer L| of layer L.

        The layers must hold every agent of ``ids`` exactly once, the first agent alone
        in the first layer; agent order stays that of ``ids``.
        """
        _check_ids(ids)
        if not layers or any(not layer for layer in layers):
            raise ConfigError("layers", "must be a non-empty list of non-empty layers")
        if list(layers[0]) != [ids[0]]:
            raise ConfigError("layers[0]", f"must hold only the root, the first agent {ids[0]!r}")
        known = set(ids)
        parent_of: dict[str, str | None] = {}
        for depth, layer in enumerate(layers):
            for j, agent in enumerate(layer):
                where = f"layers[{depth}][{j}]"
                if agent not in known:
                    raise ConfigError(where, f"unknown agent {agent!r}")
                if agent in parent_of:
                    raise ConfigError(where, f"agent {agent!r} is listed twice")
                above = layers[depth - 1] if depth else None
                parent_of[agent] = None if above is None else above[j % len(above)]
        missing = [agent for agent in ids if agent not in parent_of]
        if missing:
            raise ConfigError("layers", f"agents in no layer: {', '.join(missing)}")
        index = {agent: i for i, agent in enumerate(ids)}
        parents = [-1 if parent_of[a] is None else index[str(parent_of[a])] for a in ids]
        return cls("layered", ids, parents)

    @classmethod
    def build(
        cls,
        shape: str,
        ids: Sequence[str],
        *,
        branching_factor: int = 3,
        layers: Sequence[Sequence[str]] | None = None,
    ) -> Structure:
        """The structure named ``shape`` (``tree``, ``star`` or ``layered``)."""
        if shape == "tree":
            return cls.tree(ids, branching_factor)
        if shape == "star":
            return cls.star(ids)
        if shape == "layered":
            if layers is None:
                raise ConfigError("layers", "required with structure 'layered'")
            return cls.layered(ids, layers)
        raise ConfigError("structure", f"unknown structure {shape!r}", allowed=", ".join(SHAPES))

    # ---------------------------------------------------------------- queries

    @property
    def root(self) -> str:
        """The root's agent id (the first agent)."""
        return self.ids[0]

    def __len__(self) -> int:
        return len(self.ids)

    def parent(self, agent: str) -> str | None:
        """The parent's id, or None for the root."""
        parent = self.parents[self.index[agent]]
        return None if parent < 0 else self.ids[parent]

    def children_of(self, agent: str) -> list[str]:
        """The children's ids, in agent order."""
        return [self.ids[c] for c in self.children[self.index[agent]]]

    def wait(self, node: int, reply_timeout: float) -> float:
        """How long a parent waits for ``node``'s answer: ``reply_timeout * (2**h - 1)``.

        ``h`` is the height of the node's subtree (a leaf: 1, so a leaf gets exactly
        ``reply_timeout``). A live node whose descendants are down needs, in the worst
        case, the wait of a dead child, then of a dead grandchild, ... down to a leaf:
        ``reply_timeout * (2**h - h - 1)``; the wait leaves ``h * reply_timeout`` more
        for the hops. So a dead node at any depth is detected, and bypassed, before any
        ancestor gives up on a live node above it.

        Above :data:`MAX_WAIT_HEIGHT` the wait grows by ``2**MAX_WAIT_HEIGHT`` timeouts a
        level instead of doubling, so a chain thousands of agents deep waits a bounded
        time (doubling would be years of virtual time by height 30, past what a float
        clock resolves to the nanosecond, and an overflow by height 1024). The guarantee
        above then holds for subtrees up to that height (65,536 agents at branching 2);
        higher, a live agent is waited for past one dead generation below it, not two.
        """
        height = self.heights[node]
        if height <= MAX_WAIT_HEIGHT:
            return reply_timeout * float(2**height - 1)
        steps = 2**MAX_WAIT_HEIGHT - 1 + (height - MAX_WAIT_HEIGHT) * 2**MAX_WAIT_HEIGHT
        return reply_timeout * float(steps)

    def __repr__(self) -> str:
        return f"<Structure {self.shape} agents={len(self.ids)} depth={self.depth}>"


def _check_ids(ids: Sequence[str]) -> None:
    if not ids:
        raise ConfigError("agents", "a hierarchy needs at least one agent")
    seen: set[str] = set()
    for i, agent in enumerate(ids):
        if not isinstance(agent, str) or not agent:
            raise ConfigError(f"agents[{i}]", f"must be a non-empty string, got {agent!r}")
        if agent in seen:
            raise ConfigError(f"agents[{i}]", f"duplicate agent id {agent!r}")
        seen.add(agent)
