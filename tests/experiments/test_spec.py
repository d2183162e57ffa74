"""Sweep definitions: seeds, values, settings paths, the [sweep] table and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mabeam import ConfigError, ScenarioError
from mabeam.cli import main
from mabeam.experiments import Sweep, parse_seeds, parse_values
from mabeam.experiments._spec import apply_overrides

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "bargaining-sweep.toml"


@given(st.integers(-1000, 1000), st.integers(0, 300))
def test_seed_ranges_are_inclusive(low: int, width: int) -> None:
    """``LO..HI`` is every seed from LO to HI, both included (0..999 is 1,000 seeds)."""
    assert parse_seeds(f"{low}..{low + width}") == list(range(low, low + width + 1))


def test_seed_specs() -> None:
    assert len(parse_seeds("0..999")) == 1000
    assert parse_seeds("1, 5,9") == [1, 5, 9]
    assert parse_seeds("0..2,10..11") == [0, 1, 2, 10, 11]
    assert parse_seeds(7) == [7]
    assert parse_seeds(range(3)) == [0, 1, 2]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("5..1", "needs lo <= hi"),
        ("a..b", "invalid seeds"),
        ("1,2,1", "seed 1 is listed twice"),
        ("", "invalid seeds"),
        ([1, "2"], r"--seeds\[1\]: expected an integer seed"),
    ],
)
def test_bad_seeds_name_the_option(spec: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_seeds(spec)  # type: ignore[arg-type]
    assert str(info.value).startswith("--seeds")


def test_values_split_on_top_level_commas_and_parse_as_json() -> None:
    assert parse_values("0,0.1,0.2") == [0, 0.1, 0.2]
    assert parse_values("boulware, conceder") == ["boulware", "conceder"]
    assert parse_values("[1,20],[1, 50]") == [[1, 20], [1, 50]]
    assert parse_values('"a,b",true,null') == ["a,b", True, None]


def test_overrides_follow_paths_ids_and_indexes() -> None:
    document = {"agents": [{"id": "seller"}, {"id": "buyer"}], "protocol": {"kind": "x"}}
    apply_overrides(
        document,
        {"agents.seller.strategy": "boulware", "agents[1].reserved": 0.5, "network.drop_rate": 0},
        "--set",
    )
    assert document["agents"] == [
        {"id": "seller", "strategy": "boulware"},
        {"id": "buyer", "reserved": 0.5},
    ]
    assert document["network"] == {"drop_rate": 0}  # the missing table is created
    with pytest.raises(ConfigError, match=r"'agents.nobody.x': no item 'nobody'.*seller, buyer"):
        apply_overrides(document, {"agents.nobody.x": 1}, "--set")
    with pytest.raises(ConfigError, match="index 5 is outside the list"):
        apply_overrides(document, {"agents[5].x": 1}, "--set")
    with pytest.raises(ConfigError, match="goes through a value"):
        apply_overrides(document, {"protocol.kind.x": 1}, "--set")


def test_the_sweep_table_gives_seeds_and_grid() -> None:
    sweep = Sweep(EXAMPLE)
    assert sweep.settings == {
        "agents.seller.strategy": ["boulware", "conceder"],
        "network.drop_rate": [0.0, 0.1, 0.2],
    }
    assert sweep.seed_list == list(range(100))
    assert sweep.total == 600
    runs = sweep.runs()
    assert [r.index for r in runs] == list(range(600))
    assert runs[101].params == {"agents.seller.strategy": "boulware", "network.drop_rate": 0.1}
    assert runs[101].seed == 1


def test_arguments_replace_the_files_settings() -> None:
    sweep = Sweep(EXAMPLE, seeds="3..4", grid={"network.drop_rate": [0.5]}, time_limit=2)
    assert sweep.settings["network.drop_rate"] == [0.5]
    assert sweep.settings["agents.seller.strategy"] == ["boulware", "conceder"]
    assert (sweep.seed_list, sweep.total, sweep.time_limit) == ([3, 4], 4, 2)


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"network.drop_rate": [0, 2]}, r"network\.drop_rate: must be a number >= 0 and <= 1"),
        ({"network.drop_rat": [0]}, r"network\.drop_rat: unknown field \(allowed: latency_ms"),
        ({"agents.seller.strategy": ["sly"]}, r"agents\[0\]\.strategy: invalid value 'sly'"),
        ({"protocol.n_steps": ["ten"]}, r"protocol\.n_steps: expected int, got str"),
    ],
)
def test_every_combination_is_checked_by_the_schema_before_any_run(
    grid: dict[str, list[object]], message: str
) -> None:
    """A bad value gets the loader's own error, naming the file and the field."""
    with pytest.raises(ScenarioError, match=message) as info:
        Sweep(EXAMPLE, seeds=[0], grid=grid)
    assert str(info.value).startswith(str(EXAMPLE))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[sweep]\nbogus = 1", r"sweep\.bogus: unknown field \(allowed: .*seeds"),
        ('[sweep]\nseeds = "x"', "sweep.seeds: invalid seeds 'x'"),
        ("[sweep]\ntime_limit_s = 0", r"sweep\.time_limit_s: must be a number of seconds > 0"),
        (
            "[sweep.grid]\n'network.drop_rate' = 0.1",
            r"sweep\.grid\.network\.drop_rate: expected a list",
        ),
        ("[sweep.grid]\nseed = [1, 2]", "'seed' cannot be swept"),
    ],
)
def test_bad_sweep_tables_name_the_field(tmp_path: Path, table: str, message: str) -> None:
    text = EXAMPLE.read_text().split("\n[sweep]\n")[0] + "\n" + table + "\n"
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        Sweep(path)


def test_mabeam_run_accepts_and_ignores_the_sweep_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(EXAMPLE), "--json"]) == 0
    assert '"seed":1' in capsys.readouterr().out


def test_a_scenario_dict_can_be_swept() -> None:
    document = {
        "name": "d",
        "protocol": {"kind": "ping"},
        "agents": [{"id": "a1"}, {"id": "a2"}],
    }
    sweep = Sweep(document, seeds="0..1", grid={"network.drop_rate": [0, 0.5]})
    assert sweep.total == 4
    assert sweep.scenario_for({"network.drop_rate": 0.5}, 9).network.drop_rate == 0.5
