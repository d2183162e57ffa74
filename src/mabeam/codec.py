"""The codec: envelopes to bytes and back, for every registered message type. No pickle.

A :class:`Codec` holds a registry of message types, each under a stable string tag
(``"consensus.raft.AppendEntries"``). ``encode`` turns an
:class:`~mabeam.runtime.Envelope` into MessagePack bytes (msgspec); ``decode`` turns
bytes back into an envelope, instantiating only registered types: anything else that
comes in, or goes out, raises :class:`~mabeam.UnregisteredTypeError` naming the type.

What a payload may hold:

- ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, lists, dicts and
  timezone-aware ``datetime`` values, as MessagePack carries them; tuples, sets and
  frozensets keep their type;
- instances of registered msgspec Structs, enums and exceptions (tagged, so a Struct
  inside an ``Any`` field comes back as itself, not as a dict);
- the builtin exceptions (``ValueError``, ``KeyError``, ...), and any mabeam exception;
- actor refs, as their address (decoded by a system into a ref to that actor).

:meth:`Codec.default` knows every message type mabeam defines; application types
register on the system's codec: ``system.codec.register(MyMessage, tag="app.MyMessage")``
(or make a ``Codec``, register, and pass ``ActorSystem(codec=...)``). In one process
messages pass as objects and nothing is encoded, unless the system is ``strict``: then
every envelope that crosses the transport is encoded and decoded, so a test run proves
the messages could cross a process boundary.
"""

from __future__ import annotations

import builtins
import datetime
import enum
import importlib
import pkgutil
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

import msgspec

from ._errors import ConfigError, MabeamError, UnregisteredTypeError
from .runtime._envelope import Address, Envelope
from .runtime._ref import ActorRef

if TYPE_CHECKING:
    from .runtime import ActorSystem

_STRUCT: Final = 1
_TUPLE: Final = 2
_REF: Final = 3
_ERROR: Final = 4
_SET: Final = 5
_FROZENSET: Final = 6
_ENUM: Final = 7
_PAIRS: Final = 8

_PACKAGES: Final = (
    "mabeam.runtime",
    "mabeam.protocols",
    "mabeam.agents",
    "mabeam.variables",
)
"""Where :meth:`Codec.default` looks for mabeam's message types (msgspec Structs, enums)."""

_BUILTIN_ERRORS: Final = tuple(
    cls
    for name, cls in sorted(vars(builtins).items())
    if isinstance(cls, type)
    and issubclass(cls, Exception)
    and not name.startswith("_")
    and cls.__module__ == "builtins"
)

_PRIMITIVES: Final = (type(None), bool, int, float, str, bytes)
_KEYS: Final = (str, int, float, bool, type(None), bytes)
"""Dict keys a MessagePack map carries as themselves."""


def _tag_for(cls: type) -> str:
    """``<package path below mabeam (and protocols)>.<qualified name>``: moves inside a
    package keep it; a test pins the whole list so that no change goes unnoticed."""
    parts = cls.__module__.split(".")[1:]
    if parts[:1] == ["protocols"]:
        parts = parts[1:]
    # The module's own name is left out: a class may move between a package's modules.
    package = [p.lstrip("_") for p in (parts[:-1] if len(parts) > 1 else parts)]
    return ".".join([*package, cls.__qualname__])


class Codec:
    """A registry of message types under stable tags, and the envelope codec built on it."""

    def __init__(self) -> None:
        self._types: dict[str, type] = {}
        self._tags: dict[type, str] = {}
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(ext_hook=self._ext_hook)

    # ------------------------------------------------------------------ registry

    def register(self, cls: type, *, tag: str | None = None) -> None:
        """Register a msgspec Struct, an enum or an exception class under ``tag``.

        The tag is what crosses the wire instead of the class: keep it stable (the
        default is ``module.QualName``). Registering the same class under the same tag
        again is a no-op; a tag or class taken otherwise raises ``ConfigError``.
        """
        if not isinstance(cls, type) or not issubclass(
            cls, msgspec.Struct | enum.Enum | BaseException
        ):
            raise ConfigError(
                "cls",
                f"{cls!r} cannot be registered",
                allowed="msgspec.Struct subclasses, enums, exceptions",
            )
        if tag is None:
            tag = f"{cls.__module__}.{cls.__qualname__}"
        if not isinstance(tag, str) or not tag:
            raise ConfigError("tag", f"must be a non-empty string, got {tag!r}")
        known = self._types.get(tag)
        if known is cls:
            return
        if known is not None:
            raise ConfigError("tag", f"{tag!r} is taken by {known.__qualname__}")
        if cls in self._tags:
            raise ConfigError("cls", f"{cls.__qualname__} is registered as {self._tags[cls]!r}")
        self._types[tag] = cls
        self._tags[cls] = tag

    def register_all(self, classes: Iterable[type], *, prefix: str) -> None:
        """Register each class under ``prefix.QualName``."""
        for cls in classes:
            self.register(cls, tag=f"{prefix}.{cls.__qualname__}")

    @property
    def tags(self) -> dict[str, type]:
        """Every registered tag and its type, tags sorted."""
        return dict(sorted(self._types.items()))

    def tag_of(self, cls: type) -> str | None:
        """The tag ``cls`` is registered under, or None."""
        return self._tags.get(cls)

    @classmethod
    def default(cls) -> Codec:
        """A codec that knows every message type mabeam defines, and the builtin exceptions.

        The types are found by walking mabeam's runtime, protocols, agents and variables
        packages; each is tagged by its package path and name (see the module docstring).
        """
        codec = cls()
        for error in _BUILTIN_ERRORS:
            codec.register(error, tag=f"builtins.{error.__qualname__}")
        for found in _mabeam_types():
            codec.register(found, tag=_tag_for(found))
        return codec

    # ------------------------------------------------------------------ envelopes

    def encode(self, envelope: Envelope) -> bytes:
        """The envelope as bytes; an unregistered type anywhere in it raises."""
        payload = self._to_wire(envelope.payload, envelope)
        return self._encoder.encode(
            (
                envelope.kind,
                envelope.src,
                envelope.dst,
                payload,
                envelope.src_name,
                envelope.dst_name,
                envelope.correlation,
                envelope.reply_to,
            )
        )

    def decode(self, data: bytes, system: ActorSystem | None = None) -> Envelope:
        """An envelope from bytes; refs in it become refs of ``system`` (None: addresses).

        Raises ``msgspec.DecodeError`` for malformed bytes and
        :class:`~mabeam.UnregisteredTypeError` for a tag this codec does not know.
        """
        fields = self._decoder.decode(data)
        if not isinstance(fields, list) or len(fields) != 8:
            raise msgspec.DecodeError("an envelope is an array of 8 fields")
        kind, src, dst, payload, src_name, dst_name, correlation, reply_to = fields
        if not (isinstance(kind, int) and 0 <= kind <= 3 and isinstance(correlation, int)):
            raise msgspec.DecodeError("envelope: bad kind or correlation")
        return Envelope(
            kind,
            _address(src),
            _address(dst),
            self._from_wire(payload, system),
            _name(src_name),
            _name(dst_name),
            correlation,
            None if reply_to is None else _address(reply_to),
        )

    # ------------------------------------------------------------------ payloads

    def _to_wire(self, value: Any, envelope: Envelope) -> Any:
        kind = type(value)
        if kind in _PRIMITIVES:
            return value
        if kind is list:
            return [self._to_wire(v, envelope) for v in value]
        if kind is dict:
            wire = self._to_wire
            if all(type(k) in _KEYS for k in value):
                return {k: wire(v, envelope) for k, v in value.items()}
            # Keys a MessagePack map cannot hold as themselves (tuples, Structs): pairs.
            pairs = [[wire(k, envelope), wire(v, envelope)] for k, v in value.items()]
            return self._ext(_PAIRS, pairs)
        if kind is tuple:
            return self._ext(_TUPLE, [self._to_wire(v, envelope) for v in value])
        if isinstance(value, msgspec.Struct):
            tag = self._known(kind, envelope)
            fields = [self._to_wire(getattr(value, f), envelope) for f in value.__struct_fields__]
            return self._ext(_STRUCT, [tag, fields])
        if isinstance(value, enum.Enum):
            return self._ext(_ENUM, [self._known(kind, envelope), value.value])
        if isinstance(value, BaseException):
            return self._error(value, envelope)
        if kind is set or kind is frozenset:
            items = [self._to_wire(v, envelope) for v in value]
            return self._ext(_SET if kind is set else _FROZENSET, items)
        if kind is datetime.datetime and value.tzinfo is not None:
            return value  # a MessagePack timestamp, decoded as a datetime in UTC
        if isinstance(value, ActorRef):
            address = value.address
            return self._ext(_REF, [address.node, address.id, value.name])
        raise UnregisteredTypeError(kind.__qualname__, f"in {envelope.describe()}")

    def _error(self, error: BaseException, envelope: Envelope) -> msgspec.msgpack.Ext:
        tag = self._known(type(error), envelope)
        attributes = {
            k: self._to_wire(v, envelope)
            for k, v in sorted(vars(error).items())
            if not k.startswith("_")
        }
        cause = error.__cause__
        return self._ext(
            _ERROR,
            [
                tag,
                [self._to_wire(a, envelope) for a in error.args],
                attributes,
                None if cause is None else self._to_wire(cause, envelope),
            ],
        )

    def _known(self, cls: type, envelope: Envelope) -> str:
        tag = self._tags.get(cls)
        if tag is None:
            raise UnregisteredTypeError(cls.__qualname__, f"in {envelope.describe()}")
        return tag

    def _ext(self, code: int, value: Any) -> msgspec.msgpack.Ext:
        return msgspec.msgpack.Ext(code, self._encoder.encode(value))

    def _ext_hook(self, code: int, data: memoryview) -> Any:
        # Decoding builds plain values; _from_wire turns the markers into objects, so
        # that refs can be bound to the decoding system.
        return _Marker(code, self._decoder.decode(data))

    def _from_wire(self, value: Any, system: ActorSystem | None) -> Any:
        kind = type(value)
        if kind in _PRIMITIVES:
            return value
        if kind is list:
            return [self._from_wire(v, system) for v in value]
        if kind is dict:
            back = self._from_wire
            return {k: back(v, system) for k, v in value.items()}
        if kind is not _Marker:
            return value  # a datetime (a MessagePack timestamp)
        code, body = value.code, value.body
        if code == _TUPLE:
            return tuple(self._from_wire(v, system) for v in body)
        if code == _STRUCT:
            cls = self._lookup(body[0], msgspec.Struct)
            names = cls.__struct_fields__
            values = body[1]
            if len(values) != len(names):
                raise msgspec.DecodeError(f"{body[0]}: expected {len(names)} fields")
            return cls(
                **{n: self._from_wire(v, system) for n, v in zip(names, values, strict=True)}
            )
        if code == _ENUM:
            return self._lookup(body[0], enum.Enum)(body[1])
        if code == _ERROR:
            return self._error_from_wire(body, system)
        if code == _PAIRS:
            back = self._from_wire
            return {back(k, system): back(v, system) for k, v in body}
        if code == _SET:
            return {self._from_wire(v, system) for v in body}
        if code == _FROZENSET:
            return frozenset(self._from_wire(v, system) for v in body)
        if code == _REF:
            node, actor_id, name = body
            address = Address(str(node), int(actor_id))
            return address if system is None else system._ref_for(address, name)
        raise msgspec.DecodeError(f"unknown extension code {code}")

    def _error_from_wire(self, body: Any, system: ActorSystem | None) -> BaseException:
        tag, args, attributes, cause = body
        cls = self._lookup(tag, BaseException)
        # No constructor runs: the exception is rebuilt from its args and attributes.
        error: BaseException = cls.__new__(cls)
        error.args = tuple(self._from_wire(a, system) for a in args)
        for key, item in attributes.items():
            setattr(error, str(key), self._from_wire(item, system))
        if cause is not None:
            error.__cause__ = self._from_wire(cause, system)
        return error

    def _lookup(self, tag: Any, base: type) -> Any:
        cls = self._types.get(tag) if isinstance(tag, str) else None
        if cls is None or not issubclass(cls, base):
            raise UnregisteredTypeError(repr(tag), "in an envelope that came in")
        return cls


class _Marker:
    """An extension value on its way from MessagePack to an object."""

    __slots__ = ("body", "code")

    def __init__(self, code: int, body: Any) -> None:
        self.code = code
        self.body = body


def _address(value: Any) -> Address:
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
    ):
        return Address(value[0], value[1])
    raise msgspec.DecodeError(f"an address is [node, id], got {value!r}")


def _name(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise msgspec.DecodeError(f"a name is a string or null, got {value!r}")


def _mabeam_types() -> list[type]:
    """Every msgspec Struct, enum and exception class defined in mabeam's message packages."""
    found: dict[type, None] = {}
    error_module = importlib.import_module("mabeam._errors")
    for value in vars(error_module).values():
        if isinstance(value, type) and issubclass(value, MabeamError):
            found[value] = None
    for package_name in _PACKAGES:
        package = importlib.import_module(package_name)
        modules = [package_name] + [
            info.name for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}.")
        ]
        for module_name in modules:
            module = importlib.import_module(module_name)
            for value in vars(module).values():
                if (
                    isinstance(value, type)
                    and value.__module__ == module_name
                    and issubclass(value, msgspec.Struct | enum.Enum | BaseException)
                ):
                    found[value] = None
                    found.update(dict.fromkeys(_nested(value)))
    return sorted(found, key=lambda c: (c.__module__, c.__qualname__))


def _nested(cls: type) -> list[type]:
    """Classes defined inside ``cls`` (a Struct nested in an actor class)."""
    return [
        v
        for v in vars(cls).values()
        if isinstance(v, type) and issubclass(v, msgspec.Struct | enum.Enum | BaseException)
    ]
