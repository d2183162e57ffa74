"""The results as tables (polars): one row per run, and a summary per combination.

polars, because one well-kept library does all of it: a typed table built from the
rows, CSV and Parquet writers (no pyarrow needed), and group-by aggregations with
quantiles for the summary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

try:
    import polars as pl
except ModuleNotFoundError as missing:  # pragma: no cover - the dev extra installs it
    raise ModuleNotFoundError(
        "mabeam's experiment tables need polars: pip install 'mabeam[experiments]'",
        name=missing.name,
    ) from None

from .._errors import ConfigError

__all__ = ["PERCENTILES", "flatten", "plot", "results_frame", "summary_frame"]

PERCENTILES = (0.05, 0.5, 0.95)
"""The percentiles of each numeric field in the summary (p5, p50, p95)."""
FIXED = ("run", "seed", "status", "exit_code", "error_code", "error", "elapsed_ms")


def flatten(value: Any, prefix: str, into: dict[str, Any]) -> None:
    """Scalar fields of nested tables as ``prefix.a.b``; lists are left out."""
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(item, f"{prefix}.{key}", into)
    elif value is None or isinstance(value, bool | int | float | str):
        into[prefix] = value


def _fields(row: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if row.get("report"):
        report = msgspec.json.decode(row["report"])
        flatten(report.get("result"), "result", fields)
        flatten(report.get("stats"), "stats", fields)
        fields.pop("result", None)  # a scalar result
        if not isinstance(report.get("result"), dict | None):
            fields["result.value"] = report["result"]
    return fields


def _column(values: list[Any]) -> pl.Series | list[Any]:
    present = [v for v in values if v is not None]
    if not present:
        return pl.Series(values, dtype=pl.String)
    if all(isinstance(v, bool) for v in present):
        return pl.Series(values, dtype=pl.Boolean)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pl.Series(values, dtype=pl.Int64)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pl.Series([None if v is None else float(v) for v in values], dtype=pl.Float64)
    return pl.Series(
        [v if v is None or isinstance(v, str) else msgspec.json.encode(v).decode() for v in values],
        dtype=pl.String,
    )


def results_frame(rows: Sequence[Mapping[str, Any]], params: Sequence[str]) -> pl.DataFrame:
    """One row per run: ``run``, the settings, ``seed``, status, errors, then the report's
    scalar ``result.*`` and ``stats.*`` fields (a setting's list value as JSON text)."""
    flat = [_fields(row) for row in rows]
    extra = list(dict.fromkeys(key for fields in flat for key in fields))
    columns: dict[str, Any] = {"run": [row["run"] for row in rows]}
    for key in params:
        columns[key] = [row["params"].get(key) for row in rows]
    for key in FIXED[1:]:
        columns[key] = [row.get(key) for row in rows]
    for key in extra:
        columns[key] = [fields.get(key) for fields in flat]
    return pl.DataFrame({name: _column(values) for name, values in columns.items()})


def _metrics(frame: pl.DataFrame, params: Iterable[str]) -> list[str]:
    skip = {*params, "run", "seed", "exit_code", "status", "error_code", "error"}
    return [
        name
        for name, dtype in frame.schema.items()
        if name not in skip and (dtype.is_numeric() or dtype == pl.Boolean)
    ]


def summary_frame(frame: pl.DataFrame, params: Sequence[str]) -> pl.DataFrame:
    """Per combination of settings: ``count``, ``ok_rate``, ``failed`` (errors and
    timeouts), and per field the rate (true/false fields) or ``mean`` and percentiles."""
    status = pl.col("status")
    aggregations: list[pl.Expr] = [
        pl.len().alias("count"),
        (status == "ok").mean().alias("ok_rate"),
        status.is_in(["error", "timeout", "invalid"]).sum().alias("failed"),
    ]
    for name in _metrics(frame, params):
        column = pl.col(name)
        if frame.schema[name] == pl.Boolean:
            aggregations.append(column.cast(pl.Float64).mean().alias(f"{name}.rate"))
            continue
        aggregations.append(column.mean().alias(f"{name}.mean"))
        for q in PERCENTILES:
            label = f"{name}.p{round(q * 100)}"
            aggregations.append(column.quantile(q, interpolation="linear").alias(label))
    if not params:
        return frame.select(aggregations)
    return frame.group_by(list(params), maintain_order=True).agg(aggregations)


def plot(frame: pl.DataFrame, params: Sequence[str], field: str, against: str, path: Path) -> Path:
    """Plot the mean (and p5-p95 band) of ``field`` against the setting ``against``, one
    line per combination of the other settings; PNG at ``path`` (matplotlib, Agg)."""
    if against not in params:
        raise ConfigError("against", f"{against!r} is not a swept setting", allowed=params)
    if field not in frame.columns or not frame.schema[field].is_numeric():
        numeric = [n for n, t in frame.schema.items() if t.is_numeric() and n not in params]
        raise ConfigError("field", f"{field!r} is not a numeric column", allowed=numeric)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - the dev extra installs it
        raise ConfigError("plot", "needs matplotlib: pip install 'mabeam[plot]'") from exc
    others = [p for p in params if p != against]
    keys = [*others, against]
    stats = (
        frame.group_by(keys, maintain_order=True)
        .agg(
            pl.col(field).mean().alias("mean"),
            pl.col(field).quantile(0.05, interpolation="linear").alias("low"),
            pl.col(field).quantile(0.95, interpolation="linear").alias("high"),
        )
        .sort(keys, maintain_order=True)
    )
    xs_all = list(dict.fromkeys(stats[against].to_list()))
    numeric_x = all(isinstance(x, int | float) for x in xs_all)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    groups = stats.partition_by(others, maintain_order=True) if others else [stats]
    for group in groups:
        xs = group[against].to_list()
        positions = xs if numeric_x else [xs_all.index(x) for x in xs]
        label = ", ".join(f"{k}={group[k][0]}" for k in others) or field
        axes.plot(positions, group["mean"].to_list(), marker="o", label=label)
        axes.fill_between(positions, group["low"].to_list(), group["high"].to_list(), alpha=0.15)
    if not numeric_x:
        axes.set_xticks(range(len(xs_all)), [str(x) for x in xs_all])
    axes.set_xlabel(against)
    axes.set_ylabel(f"{field} (mean, p5-p95)")
    axes.legend(fontsize="small")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
