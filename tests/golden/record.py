"""Record (or check) what every scenario prints: the refactor guard.

``python tests/golden/record.py`` runs every scenario of the repository (the test
scenarios, the examples and the docs gallery), each under its own seed and three more,
and writes ``outputs.json``: per run, the ``--json`` report without its wall-clock time
and the SHA-256 and line count of its ``--trace`` JSON lines. ``test_golden.py`` runs
them again and compares byte for byte, so a change under the protocols that moves one
message, one random draw or one instant shows up as a named run that differs.

Record only on a commit whose outputs are known good (before a refactor), never to
make a failing comparison pass.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = Path(__file__).with_name("outputs.json")
EXTRA_SEEDS = (1, 2, 3)


def sources() -> Iterator[tuple[str, bytes]]:
    """(name, TOML document) of every valid scenario in the repository, sorted by name."""
    from mabeam.viz.gallery import GALLERY

    found: dict[str, bytes] = {}
    for path in sorted((ROOT / "tests" / "scenarios").glob("*.toml")):
        if not path.name.startswith("invalid-"):
            found[f"tests/scenarios/{path.name}"] = path.read_bytes()
    for path in sorted((ROOT / "examples").glob("*.toml")):
        found[f"examples/{path.name}"] = path.read_bytes()
    for name, text in sorted(GALLERY.items()):
        found[f"gallery/{name}"] = text.encode()
    yield from found.items()


def run_one(
    name: str, document: bytes, seed: int | None, *, strict: bool = False
) -> dict[str, object]:
    """One run's record: the report as ``--json`` prints it (no wall time) and the trace digest."""
    from mabeam import ScenarioError
    from mabeam.scenario import parse_scenario, run_scenario

    fmt = "json" if name.endswith("+lossy") else "toml"
    try:
        scenario = parse_scenario(document, path=name, fmt=fmt)
        report, network = run_scenario(scenario, seed=seed, path=name, strict=strict)
    except ScenarioError as exc:
        return {"error": str(exc)}
    printed = json.loads(msgspec.json.encode(report))
    del printed["stats"]["wall_ms"]
    assert network.trace is not None
    trace = network.trace.to_jsonl()
    return {
        "report": printed,
        "trace_sha256": hashlib.sha256(trace).hexdigest(),
        "trace_lines": trace.count(b"\n"),
    }


def lossy(document: bytes) -> bytes:
    """The same scenario on a network that loses and duplicates 5% of messages (as JSON)."""
    parsed = tomllib.loads(document.decode())
    network = parsed.setdefault("network", {})
    network["drop_rate"] = 0.05
    network["duplicate_rate"] = 0.05
    return json.dumps(parsed).encode()


def runs() -> Iterator[tuple[str, bytes, int | None]]:
    """Every (name, document, seed override) the record holds."""
    for name, document in sources():
        yield name, document, None
        for seed in EXTRA_SEEDS:
            yield name, document, seed
        for seed in EXTRA_SEEDS:
            yield f"{name}+lossy", lossy(document), seed


def key(name: str, seed: int | None) -> str:
    return name if seed is None else f"{name}@seed={seed}"


def record() -> dict[str, dict[str, object]]:
    return {key(name, seed): run_one(name, doc, seed) for name, doc, seed in runs()}


def main() -> int:
    OUTPUTS.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n")
    sys.stderr.write(f"wrote {OUTPUTS.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    raise SystemExit(main())
