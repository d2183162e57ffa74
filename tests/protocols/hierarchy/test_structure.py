"""Tree, star and layered parent maps, depths, subtree heights and waits."""

from __future__ import annotations

import pytest

from mabeam import ConfigError
from mabeam.protocols.hierarchy import Structure

IDS = [f"a{i:02d}" for i in range(13)]


def test_tree_parent_is_i_minus_one_floor_divided_by_branching() -> None:
    """Agent i has parent (i - 1) // b; 13 agents with branching 3 are 3 levels deep."""
    tree = Structure.tree(IDS, 3)
    assert tree.parents == (-1, *((i - 1) // 3 for i in range(1, 13)))
    assert tree.depth == 3
    assert tree.root == "a00"
    assert tree.children_of("a01") == ["a04", "a05", "a06"]
    assert tree.parent("a12") == "a03"
    assert tree.parent("a00") is None
    assert tree.heights[0] == 3
    assert tree.heights[1] == 2
    assert tree.heights[12] == 1


@pytest.mark.parametrize(
    ("n", "branching", "depth"),
    [
        pytest.param(1, 3, 1, id="root-only"),
        pytest.param(4, 3, 2, id="one-level"),
        pytest.param(10_000, 10, 5, id="ten-thousand"),
        pytest.param(5, 1, 5, id="chain"),
    ],
)
def test_tree_depth(n: int, branching: int, depth: int) -> None:
    """The depth counts the levels of the configured tree, root = 1."""
    assert Structure.tree([f"x{i}" for i in range(n)], branching).depth == depth


def test_star_every_agent_is_a_child_of_the_root() -> None:
    """A star is two levels: the root and everyone else."""
    star = Structure.star(IDS)
    assert star.children_of("a00") == IDS[1:]
    assert star.depth == 2
    assert Structure.star(["solo"]).depth == 1


def test_layered_agent_j_is_child_of_j_mod_width_of_the_layer_above() -> None:
    """Agent j of layer L+1 hangs under agent j mod |layer L| of layer L, whatever the order."""
    ids = ["r", "b", "a", "y", "x", "z", "w"]
    layered = Structure.layered(ids, [["r"], ["a", "b"], ["x", "y", "z", "w"]])
    assert layered.parent("a") == "r"
    assert layered.parent("b") == "r"
    assert layered.parent("x") == "a"
    assert layered.parent("y") == "b"
    assert layered.parent("z") == "a"
    assert layered.parent("w") == "b"
    assert layered.children_of("a") == ["x", "z"]  # agent order
    assert layered.depth == 3
    assert layered.heights[ids.index("r")] == 3


@pytest.mark.parametrize(
    ("layers", "field"),
    [
        pytest.param([["b"], ["a"]], "layers[0]", id="root-not-first"),
        pytest.param([["a", "b"]], "layers[0]", id="root-not-alone"),
        pytest.param([["a"], ["b", "b"]], "layers[1][1]", id="twice"),
        pytest.param([["a"], ["b", "q"]], "layers[1][1]", id="unknown"),
        pytest.param([["a"], ["b"]], "layers", id="agent-missing"),
        pytest.param([["a"], []], "layers", id="empty-layer"),
    ],
)
def test_invalid_layers_are_refused(layers: list[list[str]], field: str) -> None:
    """Layers must hold every agent once, the root alone first: else a ConfigError naming it."""
    with pytest.raises(ConfigError) as caught:
        Structure.layered(["a", "b", "c"], layers)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"shape": "ring"}, "structure", id="unknown-shape"),
        pytest.param({"shape": "layered"}, "layers", id="layered-without-layers"),
        pytest.param({"shape": "tree", "branching_factor": 0}, "branching_factor", id="b0"),
        pytest.param({"shape": "tree", "branching_factor": 1.5}, "branching_factor", id="b-float"),
        pytest.param({"shape": "tree", "ids": []}, "agents", id="no-agents"),
        pytest.param({"shape": "star", "ids": ["a", "a"]}, "agents[1]", id="duplicate"),
        pytest.param({"shape": "star", "ids": ["a", ""]}, "agents[1]", id="empty-id"),
    ],
)
def test_bad_input_is_a_config_error(kwargs: dict[str, object], field: str) -> None:
    """Unknown shapes, bad branching factors and bad ids name the field."""
    shape = str(kwargs.pop("shape"))
    ids = kwargs.pop("ids", ["a", "b"])
    with pytest.raises(ConfigError) as caught:
        Structure.build(shape, ids, **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_build_dispatches_on_the_shape() -> None:
    """build() gives the same structure as the named builder."""
    assert (
        Structure.build("tree", IDS, branching_factor=2).parents == Structure.tree(IDS, 2).parents
    )
    assert Structure.build("star", IDS).parents == Structure.star(IDS).parents
    layers = [["a00"], IDS[1:]]
    assert Structure.build("layered", IDS, layers=layers).parents == Structure.star(IDS).parents
    assert "depth=2" in repr(Structure.star(IDS))
    assert len(Structure.star(IDS)) == 13


def test_wait_doubles_per_level_of_subtree_height() -> None:
    """A leaf gets the reply timeout; a subtree of height h gets (2**h - 1) times it."""
    tree = Structure.tree(IDS, 3)
    assert tree.wait(12, 0.5) == 0.5
    assert tree.wait(1, 0.5) == 1.5
    assert tree.wait(0, 0.5) == 3.5
