"""What a sweep is: a scenario, a grid of settings and seeds, expanded into runs.

A setting is a dotted path into the scenario document as written (``network.drop_rate``,
``protocol.n_steps``, ``agents[0].strategy``, or ``agents.seller.strategy`` for the table
in ``agents`` whose ``id`` is ``seller``). Overrides are applied to the raw document
before validation, so a bad value gets the schema's own error naming the field.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec

from .._errors import ConfigError, ScenarioError
from ..scenario import Scenario, parse_scenario

__all__ = ["Run", "Sweep", "apply_overrides", "parse_seeds", "parse_values"]

_SEGMENT = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")
_FORMATS: dict[str, Literal["toml", "json"]] = {".toml": "toml", ".json": "json"}
_SWEEP_KEYS = ("seeds", "grid", "time_limit_s")
MAX_RUNS = 10_000_000
"""The most runs one sweep may expand to (a typo in a range should not hang the machine)."""


@dataclass(frozen=True)
class Run:
    """One run of a sweep: its index, the settings it overrides and its seed."""

    index: int
    params: dict[str, Any]
    seed: int

    @property
    def key(self) -> str:
        """What identifies the run across a resume: its settings and seed, canonically."""
        return msgspec.json.encode([sorted(self.params.items()), self.seed]).decode()


def parse_seeds(spec: str | int | Iterable[int], *, where: str = "--seeds") -> list[int]:
    """``"0..999"`` (inclusive), ``"1,5,9"``, ``"0..9,100..109"``, an int or ints."""
    if isinstance(spec, bool):
        raise ConfigError(where, f"expected seeds, got {spec!r}", allowed="0..999, 1,5,9")
    if isinstance(spec, int):
        return [spec]
    if not isinstance(spec, str):
        seeds = list(spec)
        for i, seed in enumerate(seeds):
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise ConfigError(f"{where}[{i}]", f"expected an integer seed, got {seed!r}")
        return _unique(seeds, where)
    seeds = []
    for part in spec.split(","):
        text = part.strip()
        match = re.fullmatch(r"(-?\d+)\s*\.\.\s*(-?\d+)", text)
        if match:
            low, high = int(match[1]), int(match[2])
            if high < low:
                raise ConfigError(where, f"range {text!r} needs lo <= hi")
            if high - low >= MAX_RUNS:
                raise ConfigError(where, f"range {text!r} has more than {MAX_RUNS} seeds")
            seeds.extend(range(low, high + 1))
        elif re.fullmatch(r"-?\d+", text):
            seeds.append(int(text))
        else:
            problem = f"invalid seeds {spec!r}"
            raise ConfigError(where, problem, allowed="N, LO..HI (inclusive), comma-separated")
    return _unique(seeds, where)


def _unique(seeds: list[int], where: str) -> list[int]:
    if not seeds:
        raise ConfigError(where, "must name at least one seed")
    if len(set(seeds)) != len(seeds):
        twice = next(s for i, s in enumerate(seeds) if s in seeds[:i])
        raise ConfigError(where, f"seed {twice} is listed twice")
    return seeds


def parse_values(text: str) -> list[Any]:
    """``"0,0.1,0.2"`` -> ``[0, 0.1, 0.2]``: commas outside brackets and quotes split; each
    item is a JSON value if it parses as one (``true``, ``[1, 20]``, ``"7"``), else a string.
    """
    items: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in text:
        if char == '"' and (not current or current[-1] != "\\"):
            quoted = not quoted
        elif not quoted and char in "[{":
            depth += 1
        elif not quoted and char in "]}":
            depth -= 1
        if char == "," and depth == 0 and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    values = []
    for item in (i.strip() for i in items):
        try:
            values.append(msgspec.json.decode(item))
        except msgspec.DecodeError:
            values.append(item)
    return values


def apply_overrides(document: dict[str, Any], params: Mapping[str, Any], where: str) -> None:
    """Set each dotted ``key`` of ``params`` in the raw ``document``, in place.

    Missing tables on the way are created (``network.drop_rate`` without ``[network]``);
    a path through something that is not a table or list, or past a list's end, raises
    :class:`ConfigError` naming ``where`` and the key. Unknown field names are left for
    the scenario schema to refuse.
    """
    for key, value in params.items():
        segments = [(name, index) for name, index in _SEGMENT.findall(key)]
        if not segments:
            raise ConfigError(f"{where} {key!r}", "empty setting path")
        node: Any = document
        for position, (name, index) in enumerate(segments):
            last = position == len(segments) - 1
            node = _step(node, name, index, last, value, key, where)


def _step(node: Any, name: str, index: str, last: bool, value: Any, key: str, where: str) -> Any:
    label = f"{where} {key!r}"
    if isinstance(node, list):
        ids = [item.get("id") for item in node if isinstance(item, dict)]
        if index.lstrip("-").isdigit():
            position = int(index)
        elif name and name in ids:
            position = ids.index(name)  # agents.seller: the table whose id is "seller"
        else:
            shown = ", ".join(str(i) for i in ids if i is not None) or f"0..{len(node) - 1}"
            problem = f"no item {name or index!r} in this list"
            raise ConfigError(label, problem, allowed=shown)
        if not -len(node) <= position < len(node):
            raise ConfigError(label, f"index {position} is outside the list (0..{len(node) - 1})")
        if last:
            node[position] = value
            return None
        return node[position]
    if isinstance(node, dict) and name:
        if last:
            node[name] = value
            return None
        return node.setdefault(name, {})
    raise ConfigError(label, f"cannot set {name or index!r}: the path goes through a value")


@dataclass
class Sweep:
    """A scenario swept over a grid of settings and seeds.

    ``scenario``: a scenario file (its ``[sweep]`` table gives the defaults) or the
    scenario as a dict. ``seeds``: ints or a spec as ``--seeds`` takes (default: the
    file's ``[sweep]`` seeds, else the scenario's own seed). ``grid``: setting path ->
    values; its keys replace the file's keys of the same name. ``time_limit``: wall
    seconds per run (None: no limit).
    """

    scenario: str | os.PathLike[str] | Mapping[str, Any]
    seeds: str | int | Iterable[int] | None = None
    grid: Mapping[str, Sequence[Any]] | None = None
    time_limit: float | None = None
    path: str = field(init=False)
    document: dict[str, Any] = field(init=False)
    seed_list: list[int] = field(init=False)
    settings: dict[str, list[Any]] = field(init=False)
    base: Scenario = field(init=False)

    def __post_init__(self) -> None:
        if isinstance(self.scenario, Mapping):
            self.path = "<scenario>"
            data = msgspec.json.encode(self.scenario)
            fmt: Literal["toml", "json"] = "json"
        else:
            self.path = os.fspath(self.scenario)
            suffix = Path(self.path).suffix.lower()
            if suffix not in _FORMATS:
                problem = f"unsupported file extension {suffix!r}" if suffix else "no extension"
                raise ScenarioError(self.path, "<file>", problem, allowed="toml, json")
            fmt = _FORMATS[suffix]
            try:
                data = Path(self.path).read_bytes()
            except OSError as exc:
                raise ScenarioError(self.path, "<file>", f"cannot read: {exc.strerror}") from exc
        # The loader checks the base scenario first, with the file's own format and errors.
        self.base = parse_scenario(data, path=self.path, fmt=fmt)
        text = data.decode("utf-8-sig")
        self.document = msgspec.toml.decode(text) if fmt == "toml" else msgspec.json.decode(text)
        table = self.base.sweep
        for name in table:
            if name not in _SWEEP_KEYS:
                problem = "unknown field"
                raise ScenarioError(self.path, f"sweep.{name}", problem, allowed=_SWEEP_KEYS)
        self.settings = self._grid(table)
        seeds = self.seeds if self.seeds is not None else table.get("seeds", self.base.seed)
        where = "seeds" if self.seeds is not None else "sweep.seeds"
        self.seed_list = parse_seeds(seeds, where=where)
        if self.time_limit is None and "time_limit_s" in table:
            self.time_limit = table["time_limit_s"]
            where = "sweep.time_limit_s"
        else:
            where = "time_limit"
        limit = self.time_limit
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int | float) or not limit > 0
        ):
            raise ConfigError(where, f"must be a number of seconds > 0, got {limit!r}")
        if self.total > MAX_RUNS:
            raise ConfigError("grid", f"{self.total} runs: more than {MAX_RUNS}")
        for params in self.combinations():
            self.scenario_for(params, seed=None)  # every combination is valid before any run

    def _grid(self, table: Mapping[str, Any]) -> dict[str, list[Any]]:
        settings: dict[str, list[Any]] = {}
        file_grid = table.get("grid", {})
        if not isinstance(file_grid, dict):
            raise ScenarioError(self.path, "sweep.grid", "expected a table of setting = [values]")
        for source, grid in (("sweep.grid", file_grid), ("grid", self.grid or {})):
            for key, values in grid.items():
                where = f"{source}.{key}" if source == "sweep.grid" else f"{source}[{key!r}]"
                if isinstance(values, str | bytes) or not isinstance(values, Sequence):
                    raise ConfigError(where, f"expected a list of values, got {values!r}")
                if not values:
                    raise ConfigError(where, "needs at least one value")
                if key in ("seed", "sweep") or key.startswith("sweep."):
                    raise ConfigError(where, f"{key!r} cannot be swept (use seeds)")
                settings[key] = list(values)
        return settings

    @property
    def total(self) -> int:
        """How many runs: combinations times seeds."""
        count = len(self.seed_list)
        for values in self.settings.values():
            count *= len(values)
        return count

    def combinations(self) -> list[dict[str, Any]]:
        """Every combination of settings, the first key varying slowest."""
        keys = list(self.settings)
        return [dict(zip(keys, values, strict=True)) for values in self._product()]

    def _product(self) -> Iterable[tuple[Any, ...]]:
        return itertools.product(*self.settings.values())

    def runs(self) -> list[Run]:
        """Every run, combinations outer and seeds inner, numbered from 0."""
        runs, index = [], 0
        for params in self.combinations():
            for seed in self.seed_list:
                runs.append(Run(index, params, seed))
                index += 1
        return runs

    def document_for(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The raw scenario document with ``params`` applied (a deep copy)."""
        document: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(self.document))
        apply_overrides(document, params, "setting")
        return document

    def scenario_for(self, params: Mapping[str, Any], seed: int | None) -> Scenario:
        """The checked scenario of one combination, as ``mabeam run --seed`` would load it."""
        from ._worker import build_scenario

        return build_scenario(self.document, params, seed, self.path)

    @property
    def fingerprint(self) -> str:
        """A hash of the base scenario: a resume refuses output from another scenario."""
        scenario = {k: v for k, v in self.document.items() if k != "sweep"}
        canonical = msgspec.json.encode(scenario, order="sorted")
        return hashlib.sha256(canonical).hexdigest()
