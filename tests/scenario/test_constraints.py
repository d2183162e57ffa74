"""Field constraints are msgspec Meta in the types: one source for decoding, the error
message, the JSON Schema and Structs built in code."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mabeam import ConfigError, ScenarioError
from mabeam.scenario import AgentSpec, NetworkSpec, json_schema, parse_scenario
from mabeam.scenario._schema import ConsensusOptions

HEAD = 'name = "t"\n[protocol]\nkind = "consensus"\nproposals = [1]\n'


def parse(text: str) -> object:
    return parse_scenario(text.encode(), path="c.toml", fmt="toml")


def test_a_bad_table_value_is_named_by_its_key() -> None:
    """msgspec says only `weights[...]`; the message names the key it was."""
    text = HEAD + 'weights = {a = 1, b = -2}\n[[agents]]\nid = "a"\n[[agents]]\nid = "b"\n'
    with pytest.raises(ScenarioError) as caught:
        parse(text)
    assert str(caught.value) == ("c.toml: protocol.weights.b: must be a finite number >= 0, got -2")


@pytest.mark.parametrize(
    ("value", "shown"), [("inf", "inf"), ("nan", "nan"), ("-inf", "-inf"), ("1.5", "1.5")]
)
def test_infinite_and_out_of_range_numbers_are_refused(value: str, shown: str) -> None:
    """TOML's inf and nan are refused where a finite number is asked for."""
    text = HEAD + f'[[agents]]\nid = "a"\nweight = {value}\nreserved = 0.5\n'
    if value == "1.5":
        text = HEAD + '[[agents]]\nid = "a"\nreserved = 1.5\n'
        expected = f"agents[0].reserved: must be a number >= 0 and <= 1, got {shown}"
    else:
        expected = f"agents[0].weight: must be a finite number >= 0, got {shown}"
    with pytest.raises(ScenarioError) as caught:
        parse(text)
    assert str(caught.value) == f"c.toml: {expected}"


def test_structs_built_in_code_meet_the_same_constraints() -> None:
    """Direct construction: the same Meta, the same words, the field path inside."""
    with pytest.raises(ConfigError) as caught:
        ConsensusOptions(proposals=[1], weights={"x": -1.0})
    assert str(caught.value) == "weights.x: must be a finite number >= 0, got -1.0"
    with pytest.raises(ConfigError, match=r"^id: must not be empty$"):
        AgentSpec(id="  ")
    with pytest.raises(ConfigError, match=r"^latency_ms\[1\]: must be a finite number >= 0"):
        NetworkSpec(latency_ms=[1.0, -1.0])
    assert NetworkSpec(latency_ms=[1.0, 2.0]).latency_ms == [1.0, 2.0]


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_non_negative_field_takes_exactly_the_finite_numbers_from_zero(x: float) -> None:
    """drop_rate-like rules come from the Meta: accepted iff finite and >= 0."""
    text = HEAD + f'[[agents]]\nid = "a"\nbid = {_toml(x)}\n'
    if math.isfinite(x) and x >= 0:
        parse(text)
    else:
        with pytest.raises(ScenarioError, match=r"agents\[0\]\.bid: must be a finite number >= 0"):
            parse(text)


def _toml(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(x)


def test_the_json_schema_carries_the_same_constraints() -> None:
    """The JSON Schema shows each Meta: bounds, minimum lengths, the not-blank pattern."""
    import json

    defs = json.loads(json_schema())["$defs"]
    agent = defs["AgentSpec"]["properties"]
    assert agent["reserved"] == {"type": "number", "minimum": 0, "maximum": 1, "default": 0.0}
    assert agent["id"] == {"type": "string", "pattern": "\\S"}
    scenario = defs["Scenario"]["properties"]
    assert scenario["agents"]["minItems"] == 1
    assert defs["ConsensusOptions"]["properties"]["heartbeat_ms"]["minimum"] == 1


def test_the_schema_survives_garbage_collection_in_a_fresh_interpreter() -> None:
    """msgspec 0.23 crashes the interpreter (at garbage collection, so at a random later
    point) when a field's type unions a constrained number with a tuple (msgspec #717):
    ``[lo, hi]`` pairs are lists of two for that reason. Import the schema, build every
    type's decoder and collect, in a subprocess, so a regression fails one test instead of
    killing the whole run."""
    import subprocess
    import sys

    code = (
        "import gc, msgspec, mabeam.scenario as s\n"
        "msgspec.json.schema(s.Scenario)\n"
        "gc.collect()\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stderr[-2000:]
