"""The codec: every registered type round-trips; nothing unregistered is encoded or built."""

from __future__ import annotations

import enum
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mabeam import ActorCrashedError, ActorDeadError, ActorSystem, ConfigError
from mabeam.codec import Codec
from mabeam.runtime import Actor, Address, Envelope
from mabeam.runtime._envelope import ASK, FAILURE, TELL

CODEC = Codec.default()
HERE = Address("n1", 7)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Inner(msgspec.Struct, frozen=True):
    value: int


class Outer(msgspec.Struct, frozen=True):
    anything: Any
    pair: tuple[int, str] = (0, "")


class Unknown(msgspec.Struct, frozen=True):
    x: int


def codec() -> Codec:
    made = Codec.default()
    made.register(Inner, tag="test.Inner")
    made.register(Outer, tag="test.Outer")
    made.register(Color, tag="test.Color")
    return made


def roundtrip(payload: Any, kind: int = TELL, with_codec: Codec | None = None) -> Any:
    used = with_codec or codec()
    envelope = Envelope(kind, HERE, Address("n2", 0), payload, "a", "b", 3, HERE)
    back = used.decode(used.encode(envelope))
    assert (back.kind, back.src, back.dst, back.src_name, back.dst_name) == (
        kind,
        HERE,
        Address("n2", 0),
        "a",
        "b",
    )
    assert (back.correlation, back.reply_to) == (3, HERE)
    return back.payload


def test_structs_inside_any_fields_come_back_as_themselves_not_dicts() -> None:
    value = Outer(anything=[Inner(1), {"k": (Inner(2), Color.BLUE)}], pair=(5, "x"))
    back = roundtrip(value)
    assert back == value
    assert type(back.anything[1]["k"]) is tuple
    assert type(back.anything[0]) is Inner


def test_tuples_sets_and_frozensets_keep_their_types() -> None:
    value = {"t": (1, (2, 3)), "s": {1, 2}, "f": frozenset({"a"}), 4: [None, b"x", 1.5]}
    back = roundtrip(value)
    assert back == value
    assert type(back["t"][1]) is tuple
    assert type(back["s"]) is set
    assert type(back["f"]) is frozenset


def test_tuple_dict_keys_round_trip() -> None:
    value = {("a", 1): "x", ("b", 2): "y"}
    assert roundtrip(value) == value


def test_exceptions_come_back_with_type_message_attributes_and_cause() -> None:
    cause = KeyError("missing")
    error = ActorCrashedError("n1", "Get", cause)
    error.__cause__ = cause
    back = roundtrip(error, FAILURE)
    assert type(back) is ActorCrashedError
    assert repr(back) == repr(error)
    assert (back.actor, back.message_type) == ("n1", "Get")
    assert type(back.reason) is KeyError
    assert type(back.__cause__) is KeyError
    assert str(back.__cause__) == str(cause)
    assert type(roundtrip(ActorDeadError("x", "ask"), FAILURE)) is ActorDeadError


def test_an_unregistered_type_is_refused_on_the_way_out_naming_it() -> None:
    from mabeam import UnregisteredTypeError

    with pytest.raises(UnregisteredTypeError, match="Unknown is not a registered") as caught:
        roundtrip([Unknown(1)])
    assert caught.value.type_name == "Unknown"
    assert "tell a -> b" in str(caught.value)
    with pytest.raises(UnregisteredTypeError, match="object"):
        roundtrip(object())


def test_a_tag_the_codec_does_not_know_is_never_instantiated() -> None:
    """Bytes that name a type this codec lacks (an attacker's, or a newer peer's) fail
    with UnregisteredTypeError: nothing is imported or built from a name off the wire."""
    from mabeam import UnregisteredTypeError

    sender = codec()
    sender.register(Unknown, tag="os.system")
    data = sender.encode(Envelope(TELL, HERE, HERE, Unknown(1)))
    with pytest.raises(UnregisteredTypeError, match=r"'os\.system'"):
        codec().decode(data)


@pytest.mark.parametrize(
    "data",
    [b"", b"\xc1", msgspec.msgpack.encode([1, 2]), msgspec.msgpack.encode([9] * 8)],
    ids=["empty", "reserved-byte", "short", "bad-fields"],
)
def test_malformed_bytes_are_a_decode_error(data: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        CODEC.decode(data)


def test_registering_checks_the_class_and_keeps_tags_unique() -> None:
    made = Codec()
    made.register(Inner, tag="t.Inner")
    made.register(Inner, tag="t.Inner")  # the same again: a no-op
    with pytest.raises(ConfigError, match="taken by Inner") as caught:
        made.register(Outer, tag="t.Inner")
    assert caught.value.field == "tag"
    with pytest.raises(ConfigError, match=r"registered as 't\.Inner'"):
        made.register(Inner, tag="t.Other")
    with pytest.raises(ConfigError) as wrong:
        made.register(dict)
    assert wrong.value.field == "cls"
    with pytest.raises(ConfigError, match="non-empty"):
        made.register(Outer, tag="")
    assert made.tag_of(Inner) == "t.Inner"
    assert made.tags == {"t.Inner": Inner}


def test_the_default_codec_knows_every_message_type_of_the_protocols_and_runtime() -> None:
    from mabeam.protocols.consensus.raft.messages import AppendEntries
    from mabeam.runtime import Down, Shutdown

    tags = CODEC.tags
    assert len(tags) > 200
    for cls in (AppendEntries, Down, Shutdown, ActorCrashedError, KeyError):
        assert CODEC.tag_of(cls) is not None, cls
    assert CODEC.tag_of(KeyError) == "builtins.KeyError"


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.binary(max_size=8)
    | st.builds(Inner, st.integers(min_value=0, max_value=9))
    | st.sampled_from(Color),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=4), inner, max_size=4)
        | st.builds(Outer, inner)
    ),
    max_leaves=20,
)


def _types(value: Any) -> Any:
    """The value's shape with its types, so that list/tuple and dict/Struct differ."""
    if isinstance(value, list | tuple):
        return (type(value), [_types(v) for v in value])
    if isinstance(value, dict):
        return (dict, {k: _types(v) for k, v in value.items()})
    if isinstance(value, Outer):
        return (Outer, _types(value.anything))
    return type(value)


@given(values)
def test_any_payload_of_registered_types_round_trips_with_its_types(value: Any) -> None:
    back = roundtrip(value, ASK, CODEC_WITH_TEST_TYPES)
    assert back == value
    assert _types(back) == _types(value)


CODEC_WITH_TEST_TYPES = codec()


class Echo(Actor):
    async def receive(self, message: Any) -> Any:
        return message


class Carrier:
    """An in-process transport that carries every envelope through the codec."""

    def __init__(self) -> None:
        self.system: ActorSystem | None = None

    def attach(self, system: ActorSystem) -> None:
        self.system = system

    def send(self, envelope: Envelope) -> None:
        assert self.system is not None
        self.system.deliver(self.system.roundtrip(envelope))


async def test_a_system_refs_in_messages_come_back_as_refs_of_the_decoding_system() -> None:
    async with ActorSystem("n1", transport=Carrier()) as system:
        echo = await system.spawn(Echo, name="echo")
        back = await echo.ask(("me", echo))
        assert back == ("me", echo)
        assert back[1] is echo


async def test_an_application_type_registered_on_the_system_codec_crosses() -> None:
    from mabeam import UnregisteredTypeError

    async with ActorSystem("n1", transport=Carrier()) as system:
        echo = await system.spawn(Echo)
        with pytest.raises(UnregisteredTypeError, match="Unknown"):
            await echo.ask(Unknown(1))
        system.codec.register(Unknown, tag="app.Unknown")
        assert await echo.ask(Unknown(2)) == Unknown(2)


def test_the_default_codec_tags_are_pinned() -> None:
    """Tags are what crosses the wire: a renamed or moved message type changes one, and
    nodes of two versions would no longer understand each other. A change here must be
    deliberate: regenerate codec_tags.txt and say so in the commit."""
    from pathlib import Path

    pinned = (Path(__file__).with_name("codec_tags.txt")).read_text().split()
    assert list(CODEC.tags) == pinned


def test_default_tags_register_all_and_lookups() -> None:
    made = Codec()
    made.register(Inner)  # default tag: module and qualified name
    assert made.tag_of(Inner) == f"{Inner.__module__}.Inner"
    made.register_all([Outer, Color], prefix="app")
    assert made.tag_of(Outer) == "app.Outer"
    assert made.tag_of(Color) == "app.Color"
    assert made.tag_of(Unknown) is None


def test_aware_datetimes_cross_and_naive_ones_are_refused() -> None:
    import datetime

    from mabeam import UnregisteredTypeError

    moment = datetime.datetime(2026, 12, 7, 9, 30, tzinfo=datetime.UTC)
    back = roundtrip({"at": moment, "in": Outer(moment)})
    assert back == {"at": moment, "in": Outer(moment)}
    with pytest.raises(UnregisteredTypeError, match="datetime"):
        roundtrip(datetime.datetime(2026, 12, 7, 9, 30))  # naive: no instant to carry


def test_a_ref_decoded_without_a_system_is_its_address() -> None:
    from mabeam.codec import _REF  # the extension code refs travel under

    # A ref decoded with no system to bind it to comes back as its address.
    made = codec()
    wire = made._ext(_REF, ["n9", 4, "far"])
    data = made._encoder.encode([TELL, ["a", 1], ["b", 0], wire, None, None, 0, None])
    assert made.decode(data).payload == Address("n9", 4)


def test_a_struct_with_the_wrong_field_count_or_an_unknown_extension_is_refused() -> None:
    from mabeam.codec import _STRUCT

    made = codec()
    short = made._ext(_STRUCT, ["test.Outer", []])
    data = made._encoder.encode([TELL, ["a", 1], ["b", 0], short, None, None, 0, None])
    with pytest.raises(msgspec.DecodeError, match="expected 2 fields"):
        made.decode(data)
    odd = msgspec.msgpack.Ext(99, made._encoder.encode([]))
    data = made._encoder.encode([TELL, ["a", 1], ["b", 0], odd, None, None, 0, None])
    with pytest.raises(msgspec.DecodeError, match="unknown extension code 99"):
        made.decode(data)
    bad_address = made._encoder.encode([TELL, ["a"], ["b", 0], 1, None, None, 0, None])
    with pytest.raises(msgspec.DecodeError, match="an address is"):
        made.decode(bad_address)
    bad_name = made._encoder.encode([TELL, ["a", 1], ["b", 0], 1, 5, None, 0, None])
    with pytest.raises(msgspec.DecodeError, match="a name is"):
        made.decode(bad_name)


def test_an_envelope_says_whether_it_is_an_answer() -> None:
    assert Envelope(FAILURE, HERE, HERE, None).is_reply
    assert not Envelope(ASK, HERE, HERE, None).is_reply
