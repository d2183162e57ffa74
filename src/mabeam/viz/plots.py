"""Each protocol's natural picture, drawn with matplotlib (the ``mabeam[plot]`` extra).

:func:`plot` takes a run's report and its trace and picks the picture from the protocol:
English/Dutch price per round with bidders dropping out; sealed bids with the winner and
price; bargaining offers over time and in utility space (Pareto frontier, agreement, Nash
point); call-market supply and demand steps with the clearing price and volume; order-book
depth and trades over time; Raft terms, roles and commit index per node with faults
shaded; PBFT views and sequence numbers; the PoA chain's heights and finality; the
hierarchy as a tree coloured by round latency; any other run as messages over time.

matplotlib is imported here, on first use, never when ``mabeam`` is imported; figures
are drawn on the Agg canvas (no display, no pyplot state).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .._errors import ConfigError
from ._milestones import derive_milestones

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..sim._trace import Trace

FORMATS: Final = ("png", "svg")
_ROLE_COLOURS: Final = {
    "follower": "#9e9e9e",
    "candidate": "#ff9800",
    "leader": "#2e7d32",
    "down": "#c62828",
}


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - the extra is installed in dev
        raise ImportError("plots need matplotlib: pip install 'mabeam[plot]'") from exc
    return matplotlib


def _figure(rows: int = 1, cols: int = 1, *, height: float = 4.0, **kwargs: Any) -> Figure:
    _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9.0, height), layout="constrained")
    FigureCanvasAgg(figure)
    figure.subplots(rows, cols, squeeze=False, **kwargs)
    return figure


def _as_dict(report: Any) -> dict[str, Any]:
    if isinstance(report, dict):
        return report
    import msgspec

    data: dict[str, Any] = msgspec.to_builtins(report)
    return data


def _records(trace: Trace, *events: str, types: tuple[str, ...] = ()) -> list[Any]:
    return [
        r for r in trace.records() if r[1] in events and (not types or type(r[6]).__name__ in types)
    ]


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def _faults(trace: Trace) -> list[tuple[float, str, str]]:
    """(ms, kind, target) of every fault, in order."""
    return [(_ms(r[0]), str(r[6]), r[4]) for r in trace.records() if r[1] == "fault"]


def _shade_faults(
    ax: Axes, trace: Trace, end_ms: float, rows: dict[str, int] | None = None
) -> None:
    """Partitions shaded across the axes; crashes shaded on the node's row (or a line)."""
    partition_from: float | None = None
    down: dict[str, float] = {}
    spans: list[tuple[str, float, float]] = []
    for t, kind, target in _faults(trace):
        if kind == "partition":
            partition_from = t if partition_from is None else partition_from
        elif kind == "heal" and partition_from is not None:
            spans.append(("network", partition_from, t))
            partition_from = None
        elif kind == "crash":
            down.setdefault(target, t)
        elif kind == "restart" and target in down:
            spans.append((target, down.pop(target), t))
        elif kind == "byzantine":
            ax.axvline(t, color="#6a1b9a", linestyle=":", linewidth=1)
    if partition_from is not None:
        spans.append(("network", partition_from, end_ms))
    spans.extend((target, t, end_ms) for target, t in down.items())
    labelled: set[str] = set()
    for target, start, stop in spans:
        label = "partition" if target == "network" else "crashed"
        kwargs: dict[str, Any] = {"label": label} if label not in labelled else {}
        labelled.add(label)
        if target == "network" or rows is None or target not in rows:
            ax.axvspan(start, stop, color="#ffcdd2", alpha=0.35, zorder=0, **kwargs)
        else:
            row = rows[target]
            ax.axvspan(start, stop, ymin=0, ymax=1, color="#ffcdd2", alpha=0.0)
            ax.fill_between(
                [start, stop],
                row - 0.45,
                row + 0.45,
                color="#ef9a9a",
                alpha=0.6,
                zorder=0,
                **kwargs,
            )


def _end_ms(report: dict[str, Any], trace: Trace) -> float:
    records = trace.records()
    last = _ms(records[-1][0]) if records else 0.0
    return max(float(report.get("stats", {}).get("virtual_ms", 0.0)), last, 1e-3)


# ---------------------------------------------------------------------------- auctions


def _clock_auction(report: dict[str, Any], trace: Trace) -> Figure:
    """English / Dutch: the price per round, and each bidder's answers until it drops."""
    result = report.get("result") or {}
    figure = _figure(2, 1, height=6.0, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    top, bottom = figure.axes
    rounds: dict[int, float] = {}
    last_round: dict[str, int] = {}
    answers: dict[str, list[tuple[int, str]]] = {}
    for _now, event, _mid, src, dst, _kind, payload, _note in trace.records():
        name = type(payload).__name__
        if event == "send" and name == "PriceAnnouncement":
            rounds.setdefault(payload.round, payload.price)
        elif event == "deliver" and name == "PriceAnnouncement":
            last_round[dst] = payload.round
        elif event == "send" and name in ("Stay", "Drop", "Decline", "Accept"):
            answers.setdefault(src, []).append((last_round.get(src, 0), name))
    xs = sorted(rounds)
    clock = "dutch" if result.get("auction_type") == "dutch" else "english"
    top.step(
        xs,
        [rounds[x] for x in xs],
        where="post",
        color="#1565c0",
        marker="o",
        markersize=3,
        label=f"{clock} clock price",
    )
    if result.get("payment") is not None:
        top.axhline(
            result["payment"],
            color="#2e7d32",
            linestyle="--",
            label=f"paid {result['payment']:g} by {result.get('winner')}",
        )
    top.set_ylabel("price")
    top.set_title(f"{report.get('scenario', '')}: {clock} auction, price per round")
    top.legend(loc="best", fontsize="small")
    bidders = sorted(answers)
    for row, bidder in enumerate(bidders):
        stays = [r for r, a in answers[bidder] if a in ("Stay", "Decline")]
        bottom.scatter(stays, [row] * len(stays), marker="|", color="#546e7a", s=60)
        for r, answer in answers[bidder]:
            if answer == "Drop":
                bottom.scatter([r], [row], marker="x", color="#c62828", s=60, zorder=3)
                bottom.annotate(
                    f"drops at {rounds.get(r, 0):g}",
                    (r, row),
                    textcoords="offset points",
                    xytext=(5, 5),
                    fontsize="small",
                )
            elif answer == "Accept":
                bottom.scatter([r], [row], marker="*", color="#2e7d32", s=120, zorder=3)
                bottom.annotate(
                    f"accepts {rounds.get(r, 0):g}",
                    (r, row),
                    textcoords="offset points",
                    xytext=(5, 5),
                    fontsize="small",
                )
    bottom.set_yticks(range(len(bidders)), bidders)
    bottom.set_ylim(-0.7, len(bidders) - 0.3)
    bottom.set_xlabel("round")
    bottom.set_ylabel("bidder")
    return figure


def _sealed_auction(report: dict[str, Any], trace: Trace) -> Figure:
    """Sealed bids, the winner highlighted, the price paid."""
    result = report.get("result") or {}
    figure = _figure()
    (ax,) = figure.axes
    bids = {r[3]: r[6].amount for r in _records(trace, "send", types=("Bid",))}
    names = sorted(bids)
    winner = result.get("winner")
    colours = ["#2e7d32" if n == winner else "#90a4ae" for n in names]
    ax.bar(names, [bids[n] for n in names], color=colours)
    for n in names:
        ax.annotate(f"{bids[n]:g}", (n, bids[n]), ha="center", va="bottom", fontsize="small")
    if result.get("payment") is not None:
        ax.axhline(
            result["payment"],
            color="#c62828",
            linestyle="--",
            label=f"{winner} wins, pays {result['payment']:g} ({result.get('payment_rule', '')})",
        )
        ax.legend(loc="best", fontsize="small")
    ax.set_ylabel("bid")
    ax.set_title(f"{report.get('scenario', '')}: sealed bids")
    return figure


# -------------------------------------------------------------------------- bargaining


def _bargaining(report: dict[str, Any], trace: Trace) -> Figure:
    """Offers of each agent over time, and in utility space with the Pareto frontier."""
    result = report.get("result") or {}
    figure = _figure(1, 2, height=4.5)
    over_time, space = figure.axes
    offers = [m for m in derive_milestones(trace) if m.name == "offer"]
    agreement = [m for m in derive_milestones(trace) if m.name == "agreement"]
    agents = sorted({m.node for m in offers})
    for agent in agents:
        mine = [m for m in offers if m.node == agent]
        over_time.plot(
            [_ms(m.t) for m in mine], [m.args["offer"] for m in mine], marker="o", label=agent
        )
    agreed = result.get("agreed_value")
    if agreement and agreed is not None:
        over_time.scatter(
            [_ms(agreement[0].t)],
            [agreed],
            marker="*",
            s=200,
            color="#2e7d32",
            zorder=3,
            label=f"agreement {agreed:g}",
        )
    over_time.set_xlabel("virtual time (ms)")
    over_time.set_ylabel("offer")
    over_time.set_title("offers over time")
    over_time.legend(loc="best", fontsize="small")
    # Utility space: each outcome as the agents' own appraisals put it.
    tables = _appraisal_tables(trace)
    if len(tables) >= 2:
        a, b = sorted(tables)[:2]
        outcomes = [o for o in tables[a] if o in tables[b]]
        space.scatter(
            [tables[a][o] for o in outcomes],
            [tables[b][o] for o in outcomes],
            color="#cfd8dc",
            s=20,
            label="outcomes",
        )
        frontier = [o for o in result.get("pareto_frontier") or [] if o in tables[a]]
        frontier.sort(key=lambda o: tables[a][o])
        space.plot(
            [tables[a][o] for o in frontier],
            [tables[b][o] for o in frontier],
            color="#78909c",
            linestyle="--",
            label="Pareto frontier",
        )
        for agent in agents:
            mine = [m.args["offer"] for m in offers if m.node == agent]
            mine = [o for o in mine if o in tables[a] and o in tables[b]]
            space.plot(
                [tables[a][o] for o in mine],
                [tables[b][o] for o in mine],
                marker="o",
                alpha=0.7,
                label=f"{agent}'s offers",
            )
        nash = result.get("nash_value")
        if nash in tables[a] and nash in tables[b]:
            space.scatter(
                [tables[a][nash]],
                [tables[b][nash]],
                marker="D",
                s=80,
                color="#6a1b9a",
                zorder=3,
                label=f"Nash point {nash:g}",
            )
        if agreed in tables[a] and agreed in tables[b]:
            space.scatter(
                [tables[a][agreed]],
                [tables[b][agreed]],
                marker="*",
                s=220,
                color="#2e7d32",
                zorder=4,
                label=f"agreement {agreed:g}",
            )
        space.set_xlabel(f"utility of {a}")
        space.set_ylabel(f"utility of {b}")
        space.legend(loc="best", fontsize="x-small")
    space.set_title("offers in utility space")
    figure.suptitle(report.get("scenario", ""))
    return figure


def _appraisal_tables(trace: Trace) -> dict[str, dict[Any, float]]:
    from ._milestones import _appraisals

    return _appraisals(trace.records())


# ----------------------------------------------------------------------------- markets


def _call_market(report: dict[str, Any], trace: Trace) -> Figure:
    """Supply and demand steps, the clearing price and the volume."""
    result = report.get("result") or {}
    figure = _figure()
    (ax,) = figure.axes
    buys: list[tuple[float, int]] = []
    sells: list[tuple[float, int]] = []
    for r in _records(trace, "send", types=("Orders",)):
        for order in r[6].orders:
            if order.price is None:
                continue
            (buys if order.side == "buy" else sells).append((float(order.price), order.quantity))
    for orders, colour, label, reverse in (
        (buys, "#1565c0", "demand (bids)", True),
        (sells, "#ef6c00", "supply (asks)", False),
    ):
        orders.sort(reverse=reverse)
        xs, ys, total = [0.0], [], 0
        for price, quantity in orders:
            total += quantity
            xs.append(total)
            ys.append(price)
        if ys:
            ax.stairs(ys, xs, baseline=None, color=colour, linewidth=2, label=label)
    prices = result.get("clearing_price") or {}
    for resource, price in prices.items():
        ax.axhline(
            price, color="#2e7d32", linestyle="--", label=f"clearing price {price:g} ({resource})"
        )
    if result.get("volume") is not None:
        ax.axvline(
            result["volume"], color="#6a1b9a", linestyle=":", label=f"volume {result['volume']}"
        )
    ax.set_xlabel("cumulative quantity")
    ax.set_ylabel("price")
    ax.set_title(f"{report.get('scenario', '')}: call market")
    ax.legend(loc="best", fontsize="small")
    return figure


def _order_book(report: dict[str, Any], trace: Trace) -> Figure:
    """Orders and trades over time, and the resting depth on each side."""
    figure = _figure(2, 1, height=6.0, sharex=True)
    prices, depth = figure.axes
    resting: dict[tuple[str, int], tuple[str, int]] = {}
    times: list[float] = [0.0]
    bid_depth: list[int] = [0]
    ask_depth: list[int] = [0]

    def snapshot(t: float) -> None:
        times.append(t)
        bid_depth.append(sum(q for side, q in resting.values() if side == "buy"))
        ask_depth.append(sum(q for side, q in resting.values() if side == "sell"))

    for now, event, _mid, _src, dst, _kind, payload, _note in trace.records():
        name = type(payload).__name__
        if event == "deliver" and name == "SubmitOrder":
            side = str(payload.side)
            resting[(payload.agent, payload.order_id)] = (side, int(payload.quantity))
            colour = "#1565c0" if side == "buy" else "#ef6c00"
            prices.scatter(
                [_ms(now)],
                [payload.price],
                color=colour,
                marker="^" if side == "buy" else "v",
                s=30,
            )
            snapshot(_ms(now))
        elif event == "send" and name == "Fill":
            key = (dst, payload.order_id)
            if key in resting:
                side, quantity = resting[key]
                left = quantity - payload.quantity
                if left > 0:
                    resting[key] = (side, left)
                else:
                    del resting[key]
            snapshot(_ms(now))
        elif event == "send" and name == "OrderCancelled":
            resting.pop((dst, payload.order_id), None)
            snapshot(_ms(now))
    trades = [m for m in derive_milestones(trace) if m.name == "trade"]
    prices.plot(
        [_ms(m.t) for m in trades],
        [m.args["price"] for m in trades],
        color="#2e7d32",
        marker="*",
        markersize=10,
        label="trades",
    )
    prices.scatter([], [], color="#1565c0", marker="^", label="bid")
    prices.scatter([], [], color="#ef6c00", marker="v", label="ask")
    prices.set_ylabel("price")
    prices.set_title(f"{report.get('scenario', '')}: order book")
    prices.legend(loc="best", fontsize="small")
    depth.step(times, bid_depth, where="post", color="#1565c0", label="bid depth")
    depth.step(times, ask_depth, where="post", color="#ef6c00", label="ask depth")
    depth.set_xlabel("virtual time (ms)")
    depth.set_ylabel("resting quantity")
    depth.legend(loc="best", fontsize="small")
    return figure


# --------------------------------------------------------------------------- consensus


def _raft(report: dict[str, Any], trace: Trace) -> Figure:
    """Roles, terms and commit index per node over time, with faults shaded."""
    end = _end_ms(report, trace)
    nodes = sorted(
        (report.get("result") or {}).get("nodes") or _senders(trace, "AppendEntries", "RequestVote")
    )
    rows = {node: i for i, node in enumerate(nodes)}
    figure = _figure(3, 1, height=7.5, sharex=True)
    roles_ax, term_ax, commit_ax = figure.axes
    role: dict[str, tuple[str, float]] = dict.fromkeys(nodes, ("follower", 0.0))
    bars: dict[str, list[tuple[float, float, str]]] = {n: [] for n in nodes}
    terms: dict[str, list[tuple[float, int]]] = {n: [(0.0, 0)] for n in nodes}
    commits: dict[str, list[tuple[float, int]]] = {n: [(0.0, 0)] for n in nodes}

    def become(node: str, new: str, t: float) -> None:
        old, since = role[node]
        if old != new:
            bars[node].append((since, t - since, old))
            role[node] = (new, t)

    for now, event, _mid, src, dst, _kind, payload, _note in trace.records():
        t = _ms(now)
        name = type(payload).__name__
        if event == "fault" and dst in role:
            if payload == "crash" and _note is None:
                become(dst, "down", t)
            elif payload == "restart" and _note is None:
                become(dst, "follower", t)
            continue
        if event != "send" or src not in role:
            if event == "deliver" and name == "AppendEntries" and dst in commits:
                commits[dst].append((t, payload.leader_commit))
            continue
        term = getattr(payload, "term", None)
        if isinstance(term, int) and term > terms[src][-1][1]:
            terms[src].append((t, term))
        if name == "RequestVote" and not payload.pre_vote:
            become(src, "candidate", t)
        elif name == "AppendEntries":
            become(src, "leader", t)
            commits[src].append((t, payload.leader_commit))
        elif name in ("AppendEntriesResponse",) or (
            name == "RequestVoteResponse" and not payload.pre_vote and payload.granted
        ):
            become(src, "follower", t)
    for node in nodes:
        become(node, "_end", end)
        for start, width, name in bars[node]:
            roles_ax.broken_barh(
                [(start, width)], (rows[node] - 0.4, 0.8), color=_ROLE_COLOURS.get(name, "#ffffff")
            )
        ts, vs = zip(*terms[node], strict=True)
        term_ax.step([*ts, end], [*vs, vs[-1]], where="post", label=node)
        cs, ci = zip(*sorted(commits[node]), strict=True)
        commit_ax.step([*cs, end], [*_running_max(ci), max(ci)], where="post", label=node)
    for name, colour in _ROLE_COLOURS.items():
        roles_ax.bar([0], [0], color=colour, label=name)
    _shade_faults(roles_ax, trace, end)
    _shade_faults(term_ax, trace, end)
    _shade_faults(commit_ax, trace, end)
    roles_ax.set_yticks(range(len(nodes)), nodes)
    roles_ax.set_title(f"{report.get('scenario', '')}: Raft roles per node")
    roles_ax.legend(loc="upper right", fontsize="x-small", ncols=3)
    term_ax.set_ylabel("term")
    term_ax.legend(loc="upper left", fontsize="x-small", ncols=len(nodes))
    commit_ax.set_ylabel("commit index")
    commit_ax.set_xlabel("virtual time (ms)")
    return figure


def _running_max(values: tuple[int, ...]) -> list[int]:
    out: list[int] = []
    for v in values:
        out.append(max(v, out[-1]) if out else v)
    return out


def _senders(trace: Trace, *types: str) -> set[str]:
    return {r[3] for r in _records(trace, "send", "drop", types=types)}


def _pbft(report: dict[str, Any], trace: Trace) -> Figure:
    """Each replica's view and the sequence numbers of its pre-prepares, prepares, commits."""
    end = _end_ms(report, trace)
    figure = _figure(2, 1, height=6.0, sharex=True)
    views_ax, seq_ax = figure.axes
    replicas = sorted((report.get("result") or {}).get("nodes") or _senders(trace, "Prepare"))
    markers = {"PrePrepare": "s", "Prepare": "o", "Commit": "^"}
    views: dict[str, list[tuple[float, int]]] = {r: [(0.0, 0)] for r in replicas}
    for now, event, _mid, src, _dst, _kind, payload, _note in trace.records():
        name = type(payload).__name__
        if event not in ("send", "drop") or src not in views:
            continue
        view = getattr(payload, "view", None)
        phase = name in ("ViewChange", "NewView", *markers)
        if phase and isinstance(view, int) and view > views[src][-1][1]:
            views[src].append((_ms(now), view))
        if name in markers and event == "send":
            seq_ax.scatter(
                [_ms(now)],
                [payload.seq + 0.1 * replicas.index(src)],
                marker=markers[name],
                s=18,
                color=f"C{replicas.index(src)}",
            )
    for i, replica in enumerate(replicas):
        ts, vs = zip(*views[replica], strict=True)
        views_ax.step(
            [*ts, end], [v + 0.03 * i for v in (*vs, vs[-1])], where="post", label=replica
        )
    for m in derive_milestones(trace):
        if m.name == "view_change":
            views_ax.axvline(_ms(m.t), color="#6a1b9a", linestyle=":")
    _shade_faults(views_ax, trace, end)
    for name, marker in markers.items():
        seq_ax.scatter([], [], marker=marker, color="#455a64", label=name)
    views_ax.set_ylabel("view")
    views_ax.set_title(f"{report.get('scenario', '')}: PBFT views and sequence numbers")
    views_ax.legend(loc="best", fontsize="x-small")
    seq_ax.set_ylabel("sequence number")
    seq_ax.set_xlabel("virtual time (ms)")
    seq_ax.legend(loc="best", fontsize="x-small")
    return figure


def _chain(report: dict[str, Any], trace: Trace) -> Figure:
    """Each validator's best known height over time, finality marked, faults shaded."""
    end = _end_ms(report, trace)
    figure = _figure(height=4.5)
    (ax,) = figure.axes
    heights: dict[str, list[tuple[float, int]]] = {}
    for now, event, _mid, _src, dst, _kind, payload, _note in trace.records():
        if event != "deliver":
            continue
        name = type(payload).__name__
        blocks = (
            [payload.block]
            if name == "NewBlock"
            else list(payload.blocks)
            if name == "Blocks"
            else []
        )
        for block in blocks:
            series = heights.setdefault(dst, [(0.0, 0)])
            if block.height > series[-1][1]:
                series.append((_ms(now), block.height))
    for node in sorted(heights):
        ts, hs = zip(*heights[node], strict=True)
        ax.step([*ts, end], [*hs, hs[-1]], where="post", label=node)
    for m in derive_milestones(trace):
        if m.name == "block_finalized":
            ax.axvline(_ms(m.t), color="#2e7d32", linestyle="--")
            ax.annotate(
                f"height {m.args['height']} final",
                (_ms(m.t), 0.5),
                rotation=90,
                fontsize="small",
                color="#2e7d32",
            )
    _shade_faults(ax, trace, end)
    ax.set_xlabel("virtual time (ms)")
    ax.set_ylabel("best known height")
    ax.set_title(f"{report.get('scenario', '')}: proof-of-authority chain")
    ax.legend(loc="best", fontsize="small")
    return figure


# --------------------------------------------------------------------------- hierarchy


def _hierarchy(report: dict[str, Any], trace: Trace) -> Figure:
    """The tree the request travelled, each node coloured by its round latency."""
    children: dict[str, list[str]] = {}
    parent: dict[str, str] = {}
    received: dict[str, float] = {}
    answered: dict[str, float] = {}
    for now, event, _mid, src, dst, _kind, payload, _note in trace.records():
        name = type(payload).__name__
        if name == "Collect" and event == "send" and dst not in parent:
            parent[dst] = src
            children.setdefault(src, []).append(dst)
        elif name == "Collect" and event == "deliver":
            received.setdefault(dst, now)
        elif name == "Partial" and event == "send":
            answered[src] = now
    roots = [n for n in children if n not in parent]
    positions: dict[str, tuple[float, float]] = {}
    leaf = 0

    def place(node: str, depth: int) -> float:
        nonlocal leaf
        kids = children.get(node, [])
        if not kids:
            x = float(leaf)
            leaf += 1
        else:
            xs = [place(k, depth + 1) for k in kids]
            x = sum(xs) / len(xs)
        positions[node] = (x, -float(depth))
        return x

    for root in roots:
        place(root, 0)
    figure = _figure(height=5.0)
    (ax,) = figure.axes
    for child, par in parent.items():
        (x0, y0), (x1, y1) = positions[par], positions[child]
        ax.plot([x0, x1], [y0, y1], color="#b0bec5", zorder=1)
    latency = {n: _ms(answered[n] - received[n]) for n in answered if n in received}
    nodes = [n for n in positions if n in latency]
    missing = [n for n in positions if n not in latency and n != "coordinator"]
    import matplotlib.colors as mcolors

    norm = mcolors.Normalize(vmin=0.0, vmax=max([*latency.values(), 1e-9]))
    points = ax.scatter(
        [positions[n][0] for n in nodes],
        [positions[n][1] for n in nodes],
        c=[latency[n] for n in nodes],
        cmap="viridis",
        norm=norm,
        s=160,
        zorder=2,
        edgecolors="#37474f",
    )
    if missing:
        ax.scatter(
            [positions[n][0] for n in missing],
            [positions[n][1] for n in missing],
            marker="X",
            color="#c62828",
            s=160,
            zorder=2,
            label="no answer",
        )
        ax.legend(loc="upper left", fontsize="small")
    if len(positions) <= 60:
        for node, (x, y) in positions.items():
            ax.annotate(
                node,
                (x, y),
                textcoords="offset points",
                xytext=(0, 10),
                ha="center",
                fontsize="x-small",
            )
    figure.colorbar(points, ax=ax, label="round latency (virtual ms)")
    ax.set_axis_off()
    ax.set_title(f"{report.get('scenario', '')}: hierarchy, coloured by round latency")
    return figure


# ----------------------------------------------------------------------------- generic


def _messages(report: dict[str, Any], trace: Trace) -> Figure:
    """Any run: deliveries and drops per receiver over time, faults marked."""
    end = _end_ms(report, trace)
    records = [r for r in trace.records() if r[1] in ("deliver", "drop")]
    targets = {target for _t, _kind, target in _faults(trace) if target != "network"}
    nodes = sorted({r[4] for r in records} | {r[3] for r in records} | targets)
    rows = {n: i for i, n in enumerate(nodes)}
    figure = _figure(height=max(3.0, min(10.0, 0.3 * len(nodes) + 1.5)))
    (ax,) = figure.axes
    for event, colour, marker in (("deliver", "#1565c0", "|"), ("drop", "#c62828", "x")):
        chosen = [r for r in records if r[1] == event]
        ax.scatter(
            [_ms(r[0]) for r in chosen],
            [rows[r[4]] for r in chosen],
            color=colour,
            marker=marker,
            s=30,
            label=f"{event} ({len(chosen)})",
        )
    _shade_faults(ax, trace, end, rows)
    if len(nodes) <= 40:
        ax.set_yticks(range(len(nodes)), nodes)
    ax.set_xlabel("virtual time (ms)")
    ax.set_ylabel("receiver")
    ax.set_title(f"{report.get('scenario', '')}: messages over time ({report.get('protocol', '')})")
    ax.legend(loc="best", fontsize="small")
    return figure


Plotter = Callable[[dict[str, Any], "Trace"], "Figure"]


def choose(report: Any) -> tuple[str, Plotter]:
    """The picture for this run: ``(name, plotter)``."""
    data = _as_dict(report)
    protocol = data.get("protocol")
    result = data.get("result") if isinstance(data.get("result"), dict) else {}
    assert isinstance(result, dict)
    if protocol == "auction":
        kind = result.get("auction_type")
        if kind in ("english", "dutch"):
            return "clock_auction", _clock_auction
        if kind == "sealed_bid":
            return "sealed_bids", _sealed_auction
    if protocol == "bargaining":
        return "bargaining", _bargaining
    if protocol == "market":
        mechanism = result.get("pricing_mechanism")
        if mechanism == "double_auction":
            return "call_market", _call_market
        if mechanism == "continuous_trading":
            return "order_book", _order_book
    if protocol == "consensus":
        algorithm = result.get("algorithm")
        if algorithm == "raft":
            return "raft", _raft
        if algorithm == "pbft":
            return "pbft", _pbft
        if "block_hash" in result:
            return "chain", _chain
    if protocol == "hierarchy":
        return "hierarchy", _hierarchy
    return "messages", _messages


def plot(report: Any, trace: Trace, path: str | Path | None = None) -> Figure:
    """Draw the run's picture; write it to ``path`` (``.png`` or ``.svg``) when given.

    ``report`` is a :class:`~mabeam.scenario.RunReport` (or its JSON as a dict), ``trace``
    the run's :class:`~mabeam.sim.Trace`. Returns the matplotlib ``Figure``.
    """
    fmt = None
    if path is not None:
        fmt = Path(path).suffix.lstrip(".").lower()
        if fmt not in FORMATS:
            raise ConfigError("path", f"{str(path)!r}: the file name must end in .png or .svg")
    data = _as_dict(report)
    _name, plotter = choose(data)
    figure = plotter(data, trace)
    if path is not None:
        save(figure, path)
    return figure


def save(figure: Figure, path: str | Path) -> None:
    """Write ``figure`` as PNG or SVG (by suffix), with deterministic SVG ids and metadata."""
    target = Path(path)
    fmt = target.suffix.lstrip(".").lower()
    import matplotlib as mpl

    with mpl.rc_context({"svg.hashsalt": "mabeam", "svg.fonttype": "path"}):
        metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {"Software": "mabeam"}
        figure.savefig(target, format=fmt, dpi=100, metadata=metadata)


def to_svg(figure: Figure) -> str:
    """The figure as an SVG document (for the HTML report)."""
    import io

    import matplotlib as mpl

    buffer = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": "mabeam", "svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()
