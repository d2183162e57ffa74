"""Loading scenario files: decode TOML or JSON into a checked :class:`Scenario`.

:func:`load_scenario` reads a file (format by extension), :func:`parse_scenario`
decodes bytes. Decoding is msgspec's; every way a document can be wrong (bad
UTF-8, a syntax error, a wrong type, an unknown field or enum value, a value out
of range, a rule of ``SCENARIOS.md`` / ``PROTOCOLS.md`` broken) ends in one
:class:`~mabeam.ScenarioError` whose one-line message names the file, the field
as a dotted path with indexes, and what was expected::

    run.toml: protocol.auction_type: invalid value 'sealed' (allowed: sealed_bid, ...)
    run.toml: agents[1].bid: must be a finite number >= 0, got -1.0

Rules inside one Struct are the schema's (:mod:`._schema`); the rules that span
Structs (agent ids referenced elsewhere, a protocol's demands on the agents) are
:class:`Rules` and each kind's ``check`` (:mod:`._kind`), run after a successful decode.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, NoReturn, Union, get_args, get_origin

import msgspec

from .._errors import ConfigError, ScenarioError
from ._kind import kind_named, protocol_kind
from ._kinds import KINDS
from ._schema import (
    _DECODING,
    _FLOAT_MAX,
    BARGAINING_STRATEGIES,
    ConflictOptions,
    Scenario,
)

__all__ = ["load_scenario", "parse_scenario"]

_JSON_DECODER = msgspec.json.Decoder(Scenario)
_FORMATS: dict[str, Literal["toml", "json"]] = {".toml": "toml", ".json": "json"}
_QUOTED = re.compile(r"`([^`]*)`")
_SEGMENT = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")
_DOCUMENT = "<document>"


def load_scenario(path: str | os.PathLike[str], *, seed: int | None = None) -> Scenario:
    """Read and check the scenario file at ``path``; ``seed`` overrides the file's seed.

    The format follows the extension (``.toml`` or ``.json``). Raises
    :class:`ScenarioError` for an unreadable file, another extension or an
    invalid scenario.
    """
    name = os.fspath(path)
    suffix = Path(name).suffix.lower()
    fmt = _FORMATS.get(suffix)
    if fmt is None:
        problem = f"unsupported file extension {suffix!r}" if suffix else "no file extension"
        raise _error(name, "<file>", problem, ", ".join(_FORMATS))
    try:
        data = Path(name).read_bytes()
    except OSError as exc:
        raise _error(name, "<file>", f"cannot read: {exc.strerror or exc}") from exc
    scenario = parse_scenario(data, path=name, fmt=fmt)
    if seed is not None:
        scenario = msgspec.structs.replace(scenario, seed=seed)
    return scenario


def parse_scenario(data: bytes, *, path: str, fmt: Literal["toml", "json"]) -> Scenario:
    """Decode and check a scenario document; ``path`` only names it in error messages."""
    if fmt not in ("toml", "json"):
        raise _error(path, "<file>", f"unknown format {fmt!r}", "toml, json")
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (bad byte at offset {exc.start})"
        raise _error(path, _DOCUMENT, problem) from exc
    decoding = _DECODING.set(True)  # msgspec checks the constraints: no second pass
    try:
        if fmt == "toml":
            scenario = msgspec.toml.decode(text, type=Scenario)
        else:
            scenario = _JSON_DECODER.decode(text)
    except msgspec.ValidationError as exc:
        raise _translate(path, exc, _plain(text, fmt)) from exc
    except msgspec.DecodeError as exc:
        raise _error(path, _DOCUMENT, f"invalid {fmt.upper()}: {_tidy(str(exc))}") from exc
    except RecursionError as exc:
        raise _error(path, _DOCUMENT, "nested too deeply") from exc
    finally:
        _DECODING.reset(decoding)
    Rules(scenario, path).check()
    return scenario


# ---------------------------------------------------------------- msgspec errors


def _translate(
    path: str, exc: msgspec.ValidationError, plain: Any, root: Any = Scenario
) -> ScenarioError:
    """Turn msgspec's ``"<message> - at `$.a[0].b`"`` into a ScenarioError on ``a[0].b``.

    msgspec reports errors as text only, so the field path is read off that text; what
    was allowed comes from the schema's types at that path (a ``Literal``'s values, a
    Struct's fields, a ``msgspec.Meta`` constraint) and the offending value from the
    document.
    """
    message, _, at = str(exc).partition(" - at `$")
    field = at.rstrip("`").lstrip(".")
    if "[...]" in field:  # a table's key: msgspec does not say which one
        field = _fill_keys(field, plain, root)
    cause = exc.__cause__
    if isinstance(cause, ConfigError):  # raised by a Struct's __post_init__
        field = _join(field, cause.field) or _DOCUMENT
        return _error(path, field, cause.problem, cause.allowed)
    allowed: str | None = None
    kind, value = _lookup(field, plain, root, raw=True)
    if message.startswith(("Object missing required field", "Object contains unknown field")):
        parent, name = field, _QUOTED.search(message)
        field = _join(field, name[1] if name else "?")
        if message.startswith("Object missing"):
            problem, allowed = "missing required field", _allowed(_lookup(field, plain, root))
        else:
            problem, allowed = "unknown field", _field_names(_lookup(parent, plain, root))
    elif message.startswith(("Invalid value ", "Invalid enum value ")):
        problem = "invalid value " + message.split(" value ", 1)[1]
        allowed = _allowed(_resolve(kind, value))
    elif (found := _meta(kind, value)) is not None and _broken(message):
        meta, base = found
        problem = describe(meta, base)
        if value is not None and meta.min_length is None and meta.pattern is None:
            problem += f", got {value!r}"
    else:
        problem, allowed = _tidy(message), _allowed(_resolve(kind, value))
    if field == "protocol.kind":
        allowed = ", ".join(kind.name for kind in KINDS)
        problem = problem.replace("invalid value", "unknown protocol kind")
    return _error(path, field or _DOCUMENT, problem, allowed)


def field_error(exc: msgspec.ValidationError, root: Any, plain: Any) -> ConfigError:
    """The ConfigError for a Struct of type ``root`` built in code (``plain``: its fields)."""
    error = _translate("", exc, plain, root)
    return ConfigError(error.field, error.problem, allowed=error.allowed)


def _broken(message: str) -> bool:
    """Whether msgspec's message is about a constraint (a bound, a length, a pattern)."""
    return message == "Number out of range" or (
        message.startswith("Expected `") and any(op in message for op in ("<", ">", "regex"))
    )


def _meta(kind: Any, value: Any) -> tuple[msgspec.Meta, Any] | None:
    """The ``msgspec.Meta`` on the member of ``kind`` that ``value`` was decoded as, and
    the type it constrains."""
    if get_origin(kind) is Annotated:
        base, *extras = get_args(kind)
        metas = [m for m in extras if isinstance(m, msgspec.Meta)]
        return (metas[0], base) if metas and _fits(base, value) else _meta(base, value)
    if get_origin(kind) in (Union, UnionType):
        return next((m for m in (_meta(k, value) for k in get_args(kind)) if m), None)
    return None


def _fits(kind: Any, value: Any) -> bool:
    origin = get_origin(kind) or kind
    if origin is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(origin, type) and isinstance(value, origin)


def describe(meta: msgspec.Meta, base: Any) -> str:
    """What a ``msgspec.Meta`` constraint asks, in words: ``must be a finite number >= 0``."""
    if meta.min_length is not None and meta.min_length == meta.max_length:
        return f"must be a list of length {meta.min_length}"
    if meta.min_length is not None or meta.pattern is not None:
        return "must not be empty"
    bounds = [f">= {meta.ge:g}"] if meta.ge is not None and meta.ge != -_FLOAT_MAX else []
    bounds += [f"> {meta.gt:g}"] if meta.gt is not None else []
    bounds += [f"<= {meta.le:g}"] if meta.le is not None and meta.le != _FLOAT_MAX else []
    if base is int:
        noun = "an integer"
    elif _FLOAT_MAX in (meta.le, -(meta.ge or 0.0)):
        noun = "a finite number"
    else:
        noun = "a number"
    return "must be " + " ".join([noun, " and ".join(bounds)]).strip()


def _fill_keys(field: str, plain: Any, root: Any) -> str:
    """Put the key of the offending table entry where msgspec wrote ``[...]``: the first
    entry whose value the table's value type refuses (msgspec itself decides)."""
    done, _, rest = field.partition("[...]")
    kind, table = _lookup(done, plain, root, raw=True)
    kind = _resolve(kind, table)
    key = "?"
    if isinstance(table, dict) and get_origin(kind) is dict:
        value_type = get_args(kind)[1]
        for candidate, value in table.items():
            try:
                msgspec.convert(value, value_type)
            except msgspec.ValidationError:
                key = str(candidate)
                break
    field = f"{done}.{key}{rest}"
    return _fill_keys(field, plain, root) if "[...]" in rest else field


def _plain(text: str, fmt: str) -> Any:
    """The document as plain data, to follow a path through it (None if unreadable)."""
    try:
        return msgspec.toml.decode(text) if fmt == "toml" else msgspec.json.decode(text)
    except (msgspec.DecodeError, RecursionError):
        return None


def _lookup(field: str, plain: Any, root: Any = Scenario, *, raw: bool = False) -> Any:
    """The schema's type annotation at a dotted ``field`` path (None if there is none).

    ``plain`` is the document, followed along to pick the protocol Struct by ``kind``.
    With ``raw``: the annotation as written (``Annotated`` and unions kept) and the
    document's value there, as a pair.
    """
    kind: Any = root
    for name, index in _SEGMENT.findall(field):
        kind = _resolve(kind, plain)
        key: str | int = name or (int(index) if index.isdigit() else index)
        if name and _is_struct(kind):
            kind = next((f.type for f in msgspec.structs.fields(kind) if f.name == name), None)
        elif get_origin(kind) in (list, dict):
            kind = get_args(kind)[-1]
        elif get_origin(kind) is tuple and isinstance(key, int):
            kind = dict(enumerate(get_args(kind))).get(key)
        else:
            kind = None
        if isinstance(plain, dict):
            plain = plain.get(str(key))
        elif isinstance(plain, list) and isinstance(key, int) and key < len(plain):
            plain = plain[key]
        else:
            plain = None
    return (kind, plain) if raw else _resolve(kind, plain)


def _is_struct(kind: Any) -> bool:
    """Whether ``kind`` is a Struct class."""
    return isinstance(kind, type) and issubclass(kind, msgspec.Struct)


def _resolve(kind: Any, plain: Any) -> Any:
    """Strip ``Annotated``; narrow a union to the tagged kind, or to the one not None."""
    if get_origin(kind) is Annotated:
        return _resolve(get_args(kind)[0], plain)
    if get_origin(kind) not in (Union, UnionType):
        return kind
    members = [_resolve(m, plain) for m in get_args(kind) if m is not type(None)]
    tagged = [m for m in members if _is_struct(m) and m.__struct_config__.tag_field]
    if tagged:
        tag = plain.get(tagged[0].__struct_config__.tag_field) if isinstance(plain, dict) else None
        return next((m for m in tagged if m.__struct_config__.tag == tag), None)
    if len(members) == 1:
        return members[0]
    fitting = [m for m in members if _fits(m, plain)]  # e.g. a number or a [lo, hi] list
    return fitting[0] if len(fitting) == 1 else kind


def _allowed(kind: Any) -> str | None:
    """The values of a ``Literal`` type, in declaration order, as the message lists them."""
    return ", ".join(map(str, get_args(kind))) if get_origin(kind) is Literal else None


def _field_names(kind: Any) -> str | None:
    """The fields a Struct accepts (its tag field first), as the message lists them."""
    if not _is_struct(kind):
        return None
    tag_field = kind.__struct_config__.tag_field
    names = [f.encode_name for f in msgspec.structs.fields(kind)]
    return ", ".join([tag_field, *names] if tag_field else names)


def _join(parent: str, name: str) -> str:
    """``parent.name`` (``parent[0]`` for an index), or either alone."""
    if not parent or not name:
        return parent or name
    return f"{parent}{name}" if name.startswith("[") else f"{parent}.{name}"


def _tidy(message: str) -> str:
    """msgspec's ``Expected `int`, got `str``` as ``expected int, got str``."""
    message = _QUOTED.sub(r"\1", message)
    return message[:1].lower() + message[1:]


def _error(path: str, field: str, problem: str, allowed: str | None = None) -> ScenarioError:
    """A ScenarioError whose message stays on one line whatever the document held."""

    def one_line(text: str) -> str:
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)

    allowed = None if allowed is None else one_line(allowed)
    return ScenarioError(one_line(path), one_line(field), one_line(problem), allowed=allowed)


# ---------------------------------------------------------------- rules across Structs


class Rules:
    """The checks that need more than one Struct; the first broken rule raises. Each
    kind's ``check`` adds its own through :meth:`fail`, :meth:`agent`, :meth:`unique` ..."""

    def __init__(self, scenario: Scenario, path: str) -> None:
        self.scenario, self.path = scenario, path
        self.ids: dict[str, int] = {}  # agent id -> index

    def fail(self, field: str, problem: str, allowed: str | None = None) -> NoReturn:
        """Refuse the scenario, naming ``field``."""
        raise _error(self.path, field, problem, allowed)

    def agent(self, field: str, agent_id: str, *, leader: bool = False) -> None:
        """Refuse an id that names no agent (``"@leader"`` passes where ``leader``)."""
        if agent_id not in self.ids and not (leader and agent_id == "@leader"):
            ids = [*self.ids, "@leader"] if leader else list(self.ids)
            listing = ", ".join(ids[:12]) + (", ..." if len(ids) > 12 else "")
            self.fail(field, f"unknown agent {agent_id!r}", listing)

    def unique(self, field: str, values: list[str], what: str) -> None:
        """Refuse a list that names the same thing twice."""
        for i, value in enumerate(values):
            if value in values[:i]:
                problem = f"{what} {value!r} is listed twice (also {field}[{values.index(value)}])"
                self.fail(f"{field}[{i}]", problem)

    def check(self) -> None:
        """Run every rule."""
        scenario, protocol = self.scenario, self.scenario.protocol
        for i, spec in enumerate(scenario.agents):
            if spec.id in self.ids:
                problem = f"duplicate agent id {spec.id!r} (also agents[{self.ids[spec.id]}])"
                self.fail(f"agents[{i}].id", problem)
            self.ids[spec.id] = i
            for j, bundle in enumerate(spec.bundles):
                self.unique(f"agents[{i}].bundles[{j}].items", bundle.items, "item")
        protocol_algorithm = getattr(protocol, "algorithm", None)
        for i, fault in enumerate(scenario.faults):
            for action in ("crash", "restart", "byzantine"):
                if (target := getattr(fault, action)) is not None:
                    self.agent(f"faults[{i}].{action}", target, leader=action == "crash")
            for j, node in enumerate(fault.link or ()):
                if node != "coordinator":
                    self.agent(f"faults[{i}].link[{j}]", node)
            for g, group in enumerate(fault.partition_oneway or ()):
                for j, agent_id in enumerate(group):
                    self.agent(f"faults[{i}].partition_oneway[{g}][{j}]", agent_id)
            grouped: set[str] = set()
            for g, group in enumerate(fault.partition or ()):
                for j, agent_id in enumerate(group):
                    self.agent(where := f"faults[{i}].partition[{g}][{j}]", agent_id)
                    if agent_id in grouped:
                        self.fail(where, f"agent {agent_id!r} is in two groups")
                    grouped.add(agent_id)
            byzantine_ok = getattr(protocol, "algorithm", None) in ("pbft", "blockchain")
            if fault.byzantine is not None and not byzantine_ok:
                self.fail(f"faults[{i}].byzantine", "only with algorithm pbft or blockchain")
            for action in ("add_node", "remove_node"):
                if getattr(fault, action) is not None and protocol_algorithm != "raft":
                    self.fail(f"faults[{i}].{action}", "only with algorithm raft")
            if fault.add_node is not None and fault.add_node in self.ids:
                self.fail(f"faults[{i}].add_node", f"{fault.add_node!r} is an agent already")
        if scenario.conflicts and not isinstance(protocol, ConflictOptions):
            self.fail("conflicts", "only used with protocol kind 'conflict'")
        for i, conflict in enumerate(scenario.conflicts):
            self.unique(f"conflicts[{i}].conflicting_agents", conflict.conflicting_agents, "agent")
            for j, agent_id in enumerate(conflict.conflicting_agents):
                self.agent(f"conflicts[{i}].conflicting_agents[{j}]", agent_id)
        kind = kind_named(KINDS, protocol_kind(scenario))
        if kind is not None and kind.check is not None:
            kind.check(self, protocol)

    def strategies(self) -> None:
        """Agents' strategies are bargaining strategies."""
        for i, spec in enumerate(self.scenario.agents):
            if spec.strategy is not None and spec.strategy not in BARGAINING_STRATEGIES:
                allowed = ", ".join(BARGAINING_STRATEGIES)
                self.fail(f"agents[{i}].strategy", f"invalid value {spec.strategy!r}", allowed)
