"""One error tree: every public exception is defined in ``mabeam._errors``, drawn in its
docstring, exported from ``mabeam``, and keeps the builtin base callers catch."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import mabeam
import mabeam._errors as errors

TEST_KIT = "mabeam.testing"
"""The test kit's safety checks are AssertionErrors for pytest, not errors mabeam raises."""


def _exported_exceptions() -> dict[type[BaseException], set[str]]:
    """Every public exception class reachable on a module of the package: class -> where."""
    found: dict[type[BaseException], set[str]] = {}
    for info in pkgutil.walk_packages(mabeam.__path__, "mabeam."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                not name.startswith("_")
                and inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__.startswith("mabeam")
                and not value.__module__.startswith(TEST_KIT)
            ):
                found.setdefault(value, set()).add(f"{info.name}.{name}")
    return found


EXPORTED = _exported_exceptions()
DEFINED = [
    value
    for name, value in vars(errors).items()
    if inspect.isclass(value) and issubclass(value, BaseException) and not name.startswith("_")
]


def test_the_walk_finds_the_errors_of_other_modules() -> None:
    """The walk reaches the modules that re-export errors (else the next test proves nothing)."""
    where = {path for paths in EXPORTED.values() for path in paths}
    assert "mabeam.protocols.consensus.raft.api.CommitTimeoutError" in where
    assert "mabeam.runtime.supervision.ChildStartError" in where
    assert "mabeam.scenario.RunStopped" in where


def test_every_exported_exception_is_defined_in_errors() -> None:
    strays = sorted(
        f"{cls.__module__}.{cls.__qualname__} (exported as {sorted(paths)[0]})"
        for cls, paths in EXPORTED.items()
        if cls.__module__ != "mabeam._errors"
    )
    assert strays == []


@pytest.mark.parametrize("cls", DEFINED, ids=lambda cls: cls.__name__)
def test_every_error_is_a_mabeam_error(cls: type[BaseException]) -> None:
    assert issubclass(cls, errors.MabeamError)


@pytest.mark.parametrize("cls", DEFINED, ids=lambda cls: cls.__name__)
def test_every_error_is_exported_from_mabeam(cls: type[BaseException]) -> None:
    assert getattr(mabeam, cls.__name__) is cls
    assert cls.__name__ in mabeam.__all__


def test_the_docstring_tree_names_every_error() -> None:
    """Each class is a node of the drawn tree, under the parent the class really has."""
    doc = errors.__doc__ or ""
    nodes = {}  # name -> (depth, line number)
    for number, line in enumerate(doc.splitlines()):
        match = re.match(r"^\s{4}([│ ]*(?:[├└]── )?)(\w+Error|\w+Stopped)\b", line)
        if match:
            nodes[match.group(2)] = (len(match.group(1)) // 4, number)
    assert sorted(nodes) == sorted(cls.__name__ for cls in DEFINED)
    lines = sorted(nodes.items(), key=lambda item: item[1][1])
    for index, (name, (depth, _)) in enumerate(lines):
        if depth == 0:
            assert name == "MabeamError"
            continue
        parent = next(n for n, (d, _) in reversed(lines[:index]) if d == depth - 1)
        assert getattr(errors, parent) in getattr(errors, name).__bases__, name


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.AskTimeoutError, TimeoutError),
        (errors.QuorumTimeoutError, TimeoutError),
        (errors.CommitTimeoutError, TimeoutError),
        (errors.RequestTimeoutError, TimeoutError),
        (errors.FinalityTimeoutError, TimeoutError),
        (errors.SealError, PermissionError),
        (errors.ConfigError, ValueError),
        (errors.OrderError, ValueError),
        (errors.ProtocolNotAvailableError, ValueError),
        (errors.ScenarioError, ValueError),
        (errors.UnsupportedEventLoopError, RuntimeError),
        (errors.InvalidStateError, RuntimeError),
        (errors.NotStartedError, RuntimeError),
        (errors.AlreadyStartedError, RuntimeError),
        (errors.ChildStartError, errors.ActorStartError),
    ],
    ids=lambda value: value.__name__,
)
def test_builtin_bases_are_kept(cls: type[BaseException], builtin: type[BaseException]) -> None:
    """``except TimeoutError`` (ValueError, ...) written before the move still catches them."""
    assert issubclass(cls, builtin)


@pytest.mark.parametrize(
    "cls",
    [errors.CommitTimeoutError, errors.RequestTimeoutError, errors.FinalityTimeoutError],
    ids=lambda cls: cls.__name__,
)
def test_quorum_timeouts_share_one_base(cls: type[errors.QuorumTimeoutError]) -> None:
    assert issubclass(cls, errors.QuorumTimeoutError)


def test_quorum_timeouts_keep_their_constructors_and_fields() -> None:
    commit = errors.CommitTimeoutError(3, 2.5)
    assert (commit.count, commit.timeout, str(commit)) == (
        3,
        2.5,
        "3 command(s) not committed within 2.5s",
    )
    request = errors.RequestTimeoutError(2, 1.0)
    assert (request.count, request.timeout, str(request)) == (
        2,
        1.0,
        "2 operation(s) not accepted within 1s",
    )
    final = errors.FinalityTimeoutError("tx-1", 5.0)
    assert (final.tx_id, final.timeout, str(final)) == (
        "tx-1",
        5.0,
        "proposal tx-1 not final on a majority within 5s",
    )


def test_old_import_paths_give_the_same_classes() -> None:
    """Each error moved here is still importable where it was defined before."""
    from mabeam.agents._config import RegistryError
    from mabeam.protocols.consensus.chain.api import FinalityTimeoutError
    from mabeam.protocols.consensus.chain.block import SealError
    from mabeam.protocols.consensus.pbft.api import RequestTimeoutError
    from mabeam.protocols.consensus.raft.api import CommitTimeoutError
    from mabeam.protocols.consensus.raft.node import MembershipChangeError, NotLeaderError
    from mabeam.protocols.market.book import OrderError
    from mabeam.runtime.supervision import ChildStartError, SupervisorError
    from mabeam.scenario._run import RunStopped
    from mabeam.variables._variable import ProtocolNotAvailableError, VariableError

    moved = [
        RegistryError,
        FinalityTimeoutError,
        SealError,
        RequestTimeoutError,
        CommitTimeoutError,
        MembershipChangeError,
        NotLeaderError,
        OrderError,
        ChildStartError,
        SupervisorError,
        RunStopped,
        ProtocolNotAvailableError,
        VariableError,
    ]
    assert [getattr(errors, cls.__name__) for cls in moved] == moved


def test_seal_error_is_raised_as_a_permission_error() -> None:
    """A keyring without the signer's key refuses to seal: the error is both kinds."""
    from mabeam.protocols.consensus.chain.block import Keyring, genesis

    keyring = Keyring(b"secret", ["v1", "v2"]).for_signer("v1")
    with pytest.raises(PermissionError, match="cannot seal as 'v2'") as caught:
        keyring.seal("v2", genesis().hash)
    assert isinstance(caught.value, errors.SealError)


def test_the_guide_draws_the_same_tree() -> None:
    """docs/runtime.md "Errors" shows the tree of the docstring, line for line."""
    doc = errors.__doc__ or ""
    tree = doc[doc.index("    MabeamError") : doc.index('"We broke it"')].rstrip()
    drawn = "\n".join(line[4:] for line in tree.splitlines())
    guide = (Path(__file__).resolve().parents[1] / "docs" / "runtime.md").read_text()
    assert f"```text\n{drawn}\n```" in guide
