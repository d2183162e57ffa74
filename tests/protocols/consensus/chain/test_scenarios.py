"""``algorithm = "blockchain"`` through scenarios (the consensus kind dispatches to the
chain's driver and byzantine factory) and the actor API."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from structlog.testing import capture_logs

from mabeam import ActorSystem, ConfigError
from mabeam.protocols.consensus.chain import ChainCluster, ChainConfig, FinalityTimeoutError
from mabeam.protocols.consensus.chain.actor import ChainClient, GetChainStatus
from mabeam.scenario import _chain, parse_scenario, run_scenario
from mabeam.sim import SimNetwork


def scenario(
    agents: int = 5, *, faults: str = "", extra: str = "", proposals: str = '["deploy"]'
) -> str:
    ids = "".join(f'[[agents]]\nid = "v{i + 1}"\n' for i in range(agents))
    return (
        'name = "chain"\nseed = 11\n[protocol]\nkind = "consensus"\n'
        f'algorithm = "blockchain"\nproposals = {proposals}\n{extra}{ids}{faults}'
    )


def run(document: str, seed: int | None = None) -> tuple[dict[str, Any], bytes]:
    parsed = parse_scenario(document.encode(), path="chain.toml", fmt="toml")
    report, network = run_scenario(parsed, seed=seed, path="chain.toml")
    assert network.trace is not None
    decoded: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(report))
    return decoded, network.trace.to_jsonl()


def test_all_up_the_proposal_is_final_in_the_in_turn_block() -> None:
    """B1: block 1 is v2's (position 1), final on every node at depth 3 + 3 (N = 5)."""
    report, _ = run(scenario())
    assert report["ok"] is True
    result = report["result"]
    assert result["consensus"] == "deploy"
    assert result["height"] == 1
    assert result["finalized"] is True
    assert set(result["nodes"]) == {"v1", "v2", "v3", "v4", "v5"}
    for node in result["nodes"].values():
        assert node["finalized_height"] >= 1
        assert node["head_height"] >= node["finalized_height"] + 6


def test_crashed_proposer_from_the_start() -> None:
    """B2: v2 (in turn at height 1) is down: another validator seals out of turn."""
    faults = '[[faults]]\nat_ms = 0\ncrash = "v2"\n'
    report, _ = run(scenario(faults=faults, proposals='["a", "b"]'))
    assert report["ok"] is True
    assert report["result"]["nodes"]["v2"]["head_height"] == 0


def test_no_majority_up_is_no_quorum() -> None:
    """Three of five down: nothing is final on a majority within timeout_ms: no_quorum."""
    faults = "".join(f'[[faults]]\nat_ms = 0\ncrash = "v{i}"\n' for i in (1, 2, 3))
    report, _ = run(scenario(faults=faults, extra="timeout_ms = 2000\n"))
    assert report["ok"] is False
    assert report["result"] is None
    assert report["error"]["code"] == "no_quorum"
    assert report["stats"]["virtual_ms"] == pytest.approx(2000, abs=1)


def test_replay_is_byte_identical() -> None:
    """B7: the same seed gives the same result and trace, byte for byte; another seed not."""
    faults = (
        '[[faults]]\nat_ms = 50\npartition = [["v1", "v2", "v3"], ["v4", "v5"]]\n'
        "[[faults]]\nat_ms = 400\nheal = true\n"
        '[[faults]]\nat_ms = 0\nbyzantine = "v5"\nbehavior = "equivocate"\n'
    )
    document = scenario(faults=faults, extra="[network]\nlatency_ms = [1, 5]\ndrop_rate = 0.05\n")
    first, trace = run(document)
    second, again = run(document)
    first["stats"].pop("wall_ms")
    second["stats"].pop("wall_ms")
    assert first == second
    assert trace == again
    other, _ = run(document, seed=12)
    assert other["result"]["block_hash"] != first["result"]["block_hash"]


@pytest.mark.parametrize(
    ("behavior", "event"),
    [
        pytest.param("equivocate", None, id="equivocate"),
        pytest.param("wrong_digest", "chain_block_rejected", id="wrong_digest"),
        pytest.param("forge_sender", "chain_block_rejected", id="forge_sender"),
        pytest.param("random", "chain_garbage_dropped", id="random"),
        pytest.param("silent", None, id="silent"),
    ],
)
def test_byzantine_validator_does_not_stop_the_chain(behavior: str, event: str | None) -> None:
    """A byzantine minority (v3, in turn at height 2) cannot stop or split the chain."""
    faults = f'[[faults]]\nat_ms = 0\nbyzantine = "v3"\nbehavior = "{behavior}"\n'
    with capture_logs() as logs:
        report, _ = run(scenario(faults=faults, proposals='["a", "b", "c"]'))
    assert report["ok"] is True
    nodes = report["result"]["nodes"]
    honest = [nodes[n] for n in ("v1", "v2", "v4", "v5")]
    assert min(n["finalized_height"] for n in honest) >= report["result"]["height"]
    if event is not None:
        assert any(entry["event"] == event for entry in logs)


def test_unknown_behavior_is_left_generic() -> None:
    """The chain supplies only its own behaviours; silent and random stay generic."""
    assert _chain.interceptor("v1", "silent", None) is None
    assert _chain.interceptor("v1", "random", None) is None
    interceptor = _chain.interceptor("v1", "equivocate", None)  # no key: no twin
    assert interceptor is not None
    assert interceptor("payload", "v2") == "payload"


@pytest.mark.virtual_time
async def test_partition_then_heal_through_actors() -> None:
    """B4: on N = 5 actors, 3|2: the majority finalizes, the minority's fork loses fork
    choice after healing, and no node's history of final blocks ever changes."""
    network = SimNetwork(seed=3, latency_ms=(1, 4))
    async with ActorSystem("chain", transport=network) as system:
        ids = [f"v{i + 1}" for i in range(5)]
        async with ChainCluster(system, ids, seed=3, network=network) as chain:
            view = chain.view
            replaced: list[tuple[str, int]] = []
            seen: dict[str, dict[int, str]] = {i: {} for i in ids}

            def watch(status: Any) -> None:
                for block in status.newly_final:
                    old = seen[status.id].setdefault(block.height, block.hash)
                    if old != block.hash:
                        replaced.append((status.id, block.height))

            view.listeners.append(watch)
            first = await chain.submit("before", timeout=2.0)
            network.partition([["v1", "v2", "v3"], ["v4", "v5"]])
            during = await chain.submit("during", timeout=3.0)
            assert set(during.nodes) <= {"v1", "v2", "v3"}
            minority = chain.status("v4")
            network.heal()
            after = await chain.submit("after", timeout=3.0)
            await view.wait(
                lambda: all(chain.status(i).finalized_height >= after.height for i in ids), 2.0
            )
            assert not replaced
            heights = {i: view.final_blocks(i) for i in ids}
            for node in ids:
                for height, digest in heights[node].items():
                    assert all(heights[o].get(height, digest) == digest for o in ids)
            assert minority.head_hash not in heights["v4"].values()
            assert heights["v4"][first.height] == first.block_hash
            assert heights["v4"][during.height] == during.block_hash
            ref = system.whereis("v1")
            assert ref is not None
            state = await ref.ask(GetChainStatus(), timeout=1.0)
            assert state.finalized_height >= after.height


@pytest.mark.virtual_time
async def test_api_crash_restart_and_timeouts() -> None:
    """A crashed validator keeps its blocks and catches up once restarted; a proposal that
    cannot be final on a majority times out."""
    async with ActorSystem("chain") as system:
        ids = ["a", "b", "c"]
        async with ChainCluster(system, ids, config=ChainConfig(period_ms=5.0)) as chain:
            await chain.submit(1, timeout=1.0)
            await chain.crash("c")
            height = chain.status("c").head_height
            assert height > 0
            final = await chain.submit(2, timeout=1.0)
            assert final.nodes == ["a", "b"]
            await chain.restart("c")
            await chain.view.wait(lambda: chain.status("c").finalized_height >= final.height, 1.0)
            await chain.crash("b")
            await chain.crash("c")
            with pytest.raises(FinalityTimeoutError):
                await chain.submit(3, timeout=0.5)
            with pytest.raises(ConfigError):
                chain.status("zz")


async def test_api_refuses_bad_arguments() -> None:
    """Empty or duplicate ids, a client named like a validator, a bad depth: ConfigError."""
    async with ActorSystem("chain") as system:
        with pytest.raises(ConfigError, match="node_ids"):
            ChainCluster(system, [])
        with pytest.raises(ConfigError, match="node_ids"):
            ChainCluster(system, ["a", "a"])
        with pytest.raises(ConfigError, match="client_name"):
            ChainCluster(system, ["a"], client_name="a")
        with pytest.raises(ConfigError, match="finality_depth"):
            ChainCluster(system, ["a"], config=ChainConfig(finality_depth=0))
        chain = ChainCluster(system, ["a"])
        with pytest.raises(RuntimeError, match="not started"):
            await chain.submit(1)
        with pytest.raises(RuntimeError, match="supervisor"):
            await chain.crash("a")
        client = await system.spawn(ChainClient, ["a"])
        with pytest.raises(Exception, match="unexpected"):
            await client.ask("nonsense", timeout=1.0)
        async with chain:
            with pytest.raises(RuntimeError, match="running"):
                await chain.start()
            with pytest.raises(ConfigError, match="value"):
                await chain.submit(object())


@pytest.mark.virtual_time
async def test_in_turn_rotation_through_actors() -> None:
    """B1: on actors with everyone up, final block h is sealed by v(h mod N + 1), in turn."""
    network = SimNetwork(seed=5, latency_ms=1.0)
    async with ActorSystem("chain", transport=network) as system:
        ids = [f"v{i + 1}" for i in range(5)]
        async with ChainCluster(system, ids, seed=5, network=network) as chain:
            signers: dict[int, str] = {}

            def watch(status: Any) -> None:
                if status.id == "v1":
                    signers.update({b.height: b.signer for b in status.newly_final})

            chain.view.listeners.append(watch)
            await chain.view.wait(lambda: len(signers) >= 12, 5.0)
            assert [signers[h] for h in range(1, 13)] == [ids[h % 5] for h in range(1, 13)]
