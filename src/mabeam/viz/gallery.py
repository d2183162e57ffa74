"""Small scenarios, one per picture, that the docs' images and the tests are made from.

``python -m mabeam.viz.gallery DIR`` runs each and writes ``DIR/<name>.svg`` (its plot),
plus a timeline, a Mermaid diagram and a report of the Raft run (and a screenshot of the
report where chromium is installed): the docs' pictures are generated, never hand-drawn.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

GALLERY: dict[str, str] = {
    "english": """
name = "english auction"
seed = 1
[protocol]
kind = "auction"
auction_type = "english"
increment = 1.0
[network]
latency_ms = [1, 4]
[[agents]]
id = "a"
value = "A"
max_bid = 10.0
[[agents]]
id = "b"
value = "B"
max_bid = 7.0
[[agents]]
id = "c"
value = "C"
max_bid = 4.0
""",
    "dutch": """
name = "dutch auction"
seed = 1
[protocol]
kind = "auction"
auction_type = "dutch"
starting_price = 12.0
decrement = 1.0
[network]
latency_ms = [1, 4]
[[agents]]
id = "a"
value = "A"
max_bid = 10.0
[[agents]]
id = "b"
value = "B"
max_bid = 7.0
[[agents]]
id = "c"
value = "C"
max_bid = 4.0
""",
    "sealed": """
name = "sealed-bid second price"
seed = 1
[protocol]
kind = "auction"
auction_type = "sealed_bid"
payment_rule = "second_price"
[network]
latency_ms = [1, 4]
[[agents]]
id = "a"
value = "A"
bid = 10.0
[[agents]]
id = "b"
value = "B"
bid = 7.0
[[agents]]
id = "c"
value = "C"
bid = 4.0
[[agents]]
id = "d"
value = "D"
bid = 8.5
""",
    "bargaining": """
name = "alternating offers"
seed = 3
[protocol]
kind = "bargaining"
outcome_range = [0, 10]
n_steps = 10
[network]
latency_ms = [1, 3]
[[agents]]
id = "seller"
utility = {ideal = 10, worst = 0}
strategy = "boulware"
[[agents]]
id = "buyer"
utility = {ideal = 0, worst = 10}
strategy = "conceder"
""",
    "call_market": """
name = "call market"
seed = 3
[protocol]
kind = "market"
pricing_mechanism = "double_auction"
pricing = "uniform"
{}
""".format(
        "\n".join(
            f'[[agents]]\nid = "{side[0]}{i}"\n'
            f'orders = [{{side = "{side}", resource = "cpu", price = {price}}}]'
            for side, prices in (("buy", (10, 9, 8, 6, 4)), ("sell", (3, 5, 7, 8, 11)))
            for i, price in enumerate(prices, 1)
        )
    ),
    "order_book": """
name = "continuous order book"
seed = 3
[protocol]
kind = "market"
pricing_mechanism = "continuous_trading"
[network]
latency_ms = [1, 3]
{}
""".format(
        "\n".join(
            f'[[agents]]\nid = "{side[0]}{i}"\n'
            f'orders = [{{side = "{side}", resource = "cpu", price = {price}, at_ms = {at}}}]'
            for side, rows in (
                ("buy", ((10, 0), (9, 5), (8, 12), (6, 20), (7, 30))),
                ("sell", ((11, 2), (9, 8), (7, 15), (8, 25), (6, 35))),
            )
            for i, (price, at) in enumerate(rows, 1)
        )
    ),
    "raft": """
name = "raft with a leader crash"
seed = 11
[protocol]
kind = "consensus"
algorithm = "raft"
proposals = [{temperature = 0.7}, {temperature = 0.8}]
[network]
latency_ms = [2, 8]
[[agents]]
id = "n1"
[[agents]]
id = "n2"
[[agents]]
id = "n3"
[[agents]]
id = "n4"
[[agents]]
id = "n5"
[[faults]]
at_ms = 400
crash = "@leader"
""",
    "pbft": """
name = "pbft with a silent primary"
seed = 5
[protocol]
kind = "consensus"
algorithm = "pbft"
proposals = [{temperature = 0.7}, {temperature = 0.8}]
[network]
latency_ms = [1, 5]
[[agents]]
id = "r0"
[[agents]]
id = "r1"
[[agents]]
id = "r2"
[[agents]]
id = "r3"
[[faults]]
at_ms = 0
byzantine = "r0"
behavior = "silent"
""",
    "hierarchy": """
name = "hierarchy of 13"
seed = 3
[protocol]
kind = "hierarchy"
structure = "tree"
branching_factor = 3
reply_timeout_ms = 100
[network]
latency_ms = [1, 9]
{}
[[faults]]
at_ms = 0
crash = "a05"
""".format("\n".join(f'[[agents]]\nid = "a{i:02d}"\nvalue = {i + 1}' for i in range(13))),
    "chain": """
name = "a proof-of-authority chain split 2|2, then healed"
seed = 3
[protocol]
kind = "consensus"
algorithm = "blockchain"
proposals = [{temperature = 0.7}, {temperature = 0.8}]
[network]
latency_ms = [1, 5]
drop_rate = 0.05
[[agents]]
id = "r0"
[[agents]]
id = "r1"
[[agents]]
id = "r2"
[[agents]]
id = "r3"
[[faults]]
at_ms = 50
partition = [["r0","r1"],["r2","r3"]]
[[faults]]
at_ms = 400
heal = true
""",
}
"""Scenario documents (TOML) by picture name."""


def run(name: str) -> tuple[Any, Any]:
    """Run one gallery scenario: ``(report, network)``."""
    from ..scenario import parse_scenario, run_scenario

    return run_scenario(parse_scenario(GALLERY[name].encode(), path=f"{name}.toml", fmt="toml"))


def write_gallery(directory: str | Path) -> list[Path]:
    """Write every picture of the docs into ``directory``; returns the files written.

    ``<name>.svg`` for each scenario's plot, ``raft.mmd`` (its Mermaid diagram),
    ``raft-sequence.svg`` (the same diagram drawn), ``raft-timeline.json`` (its Trace Event
    Format timeline) and ``raft-report.html``;
    with Debian's chromium installed, also ``raft-report.png``, a screenshot of the report.
    """
    from .plots import plot
    from .report import report
    from .sequence import sequence_svg
    from .timeline import write_timeline

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in GALLERY:
        run_report, network = run(name)
        plot(run_report, network.trace, target / f"{name}.svg")
        written.append(target / f"{name}.svg")
        if name == "raft":
            (target / "raft.mmd").write_text(network.trace.to_mermaid())
            (target / "raft-sequence.svg").write_text(sequence_svg(network.trace))
            write_timeline(network.trace, target / "raft-timeline.json", name=run_report.scenario)
            report(run_report, network.trace, target / "raft-report.html")
            written += [target / "raft.mmd", target / "raft-sequence.svg"]
            written.append(target / "raft-timeline.json")
            written.append(target / "raft-report.html")
            shot = _screenshot(target / "raft-report.html", target / "raft-report.png")
            if shot is not None:
                written.append(shot)
    return written


def _screenshot(page: Path, out: Path) -> Path | None:
    import shutil
    import subprocess
    import tempfile

    chromium = shutil.which("chromium")
    if chromium is None:
        return None
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                f"--user-data-dir={profile}",
                "--window-size=1000,1500",
                f"--screenshot={out.resolve()}",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            check=True,
            timeout=120,
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m mabeam.viz.gallery [DIR]`` (default ``docs/images``)."""
    args = sys.argv[1:] if argv is None else argv
    for path in write_gallery(args[0] if args else "docs/images"):
        sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
