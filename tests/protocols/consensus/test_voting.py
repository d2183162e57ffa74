"""The voting rules of PROTOCOLS.md, as pure counting (no actors)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mabeam import ConfigError
from mabeam.protocols.consensus import count_votes

VOTERS = ["a1", "a2", "a3", "a4", "a5"]


def test_simple_majority_needs_floor_half_plus_one() -> None:
    """3 of 5 for proposal 0 wins with confidence 3/5; every field as PROTOCOLS.md says."""
    outcome = count_votes(
        "simple_majority", [0.7, 0.9], VOTERS, {"a1": 0, "a2": 0, "a3": 1, "a4": 0, "a5": 1}
    )
    assert outcome.ok
    assert outcome.result is not None
    assert outcome.result.consensus == 0.7
    assert outcome.result.vote_count == 3
    assert outcome.result.total_voters == 5
    assert outcome.result.votes_cast == 5
    assert outcome.result.confidence == 0.6
    assert outcome.result.total_weight is None


def test_silent_voters_stay_eligible() -> None:
    """2 of 5 voted (the rest silent): a plurality of 2 is no majority of the 5 eligible."""
    outcome = count_votes("simple_majority", ["x", "y"], VOTERS, {"a1": 0, "a2": 0})
    assert not outcome.ok
    assert outcome.error is not None
    assert outcome.error.code == "no_majority"


def test_a_missing_vote_is_never_counted_as_cast() -> None:
    """Votes that did not arrive (None, absent) are not votes: 3 yes of 6 is no majority."""
    voters = [*VOTERS, "a6"]
    votes = {"a1": 0, "a2": 0, "a3": 0, "a4": None}
    outcome = count_votes("simple_majority", ["x"], voters, votes)
    assert outcome.error is not None
    assert outcome.error.code == "no_majority"


def test_an_even_split_is_no_majority() -> None:
    """A 2-2 tie among 4 voters does not pass."""
    outcome = count_votes(
        "simple_majority", ["x", "y"], VOTERS[:4], {"a1": 0, "a2": 0, "a3": 1, "a4": 1}
    )
    assert outcome.error is not None
    assert outcome.error.code == "no_majority"


def test_weighted_voting_counts_weight_over_half_of_all_eligible() -> None:
    """A 3.0 of 5.0 weight wins; confidence is its share of the weight cast."""
    weights = {"a1": 3.0, "a2": 1.0, "a3": 1.0}
    outcome = count_votes(
        "weighted_voting", ["x", "y"], VOTERS[:3], {"a1": 0, "a2": 1}, weights=weights
    )
    assert outcome.result is not None
    assert outcome.result.consensus == "x"
    assert outcome.result.total_weight == 5.0
    assert outcome.result.confidence == 0.75
    assert outcome.result.vote_count == 1
    assert outcome.result.votes_cast == 2


def test_weighted_voting_tie_at_exactly_half_fails() -> None:
    """Weight exactly W/2 is not more than half: no_weighted_majority."""
    weights = {"a1": 2.0, "a2": 1.0, "a3": 1.0}
    outcome = count_votes(
        "weighted_voting", ["x", "y"], VOTERS[:3], {"a1": 0, "a2": 1, "a3": 1}, weights=weights
    )
    assert outcome.error is not None
    assert outcome.error.code == "no_weighted_majority"


def test_a_missing_weight_defaults_to_one_not_zero() -> None:
    """Voters absent from the weights weigh 1.0: a3 and a4 (2.0) outweigh a1 (1.5) of W 3.5."""
    outcome = count_votes(
        "weighted_voting",
        ["x", "y"],
        [*VOTERS[:3], "a4"],
        {"a1": 0, "a3": 1, "a4": 1},
        weights={"a1": 1.5, "a2": 0.0},
    )
    assert outcome.result is not None
    assert outcome.result.consensus == "y"
    assert outcome.result.total_weight == 3.5


def test_silent_weight_counts_in_the_total() -> None:
    """A silent heavy voter keeps the others below half of W."""
    outcome = count_votes(
        "weighted_voting", ["x"], ["big", "s1", "s2"], {"s1": 0, "s2": 0}, weights={"big": 5.0}
    )
    assert outcome.error is not None
    assert outcome.error.code == "no_weighted_majority"


def test_all_zero_weights_never_pass() -> None:
    """With W = 0 no proposal has more than half: no_weighted_majority, not a division error."""
    outcome = count_votes(
        "weighted_voting", ["x"], ["a", "b"], {"a": 0, "b": 0}, weights={"a": 0.0, "b": 0.0}
    )
    assert outcome.error is not None
    assert outcome.error.code == "no_weighted_majority"


def test_unanimous_agreement() -> None:
    """All n for one proposal: confidence 1.0."""
    outcome = count_votes("unanimous", ["x", "y"], VOTERS[:3], dict.fromkeys(VOTERS[:3], 1))
    assert outcome.result is not None
    assert outcome.result.consensus == "y"
    assert outcome.result.confidence == 1.0
    assert outcome.result.vote_count == 3


def test_unanimity_fails_with_dissenters_and_silent() -> None:
    """details name those who voted otherwise and those who did not vote, sorted."""
    votes = {"a5": 0, "a1": 0, "a2": 1, "a3": None}
    outcome = count_votes("unanimous", ["x", "y"], VOTERS, votes)
    assert outcome.error is not None
    assert outcome.error.code == "no_unanimity"
    assert outcome.error.details == {"dissenters": ["a2"], "silent": ["a3", "a4"]}


def test_unanimity_tie_for_most_voted_takes_the_lowest_index() -> None:
    """With a 1-1 split the most voted proposal is the lower index; the other voter dissents."""
    outcome = count_votes("unanimous", ["x", "y"], ["a", "b"], {"a": 1, "b": 0})
    assert outcome.error is not None
    assert outcome.error.details == {"dissenters": ["a"], "silent": []}


def test_one_silent_voter_breaks_unanimity() -> None:
    """A crashed voter is eligible: the others' agreement is not unanimous."""
    outcome = count_votes("unanimous", ["x"], ["a", "b", "c"], {"a": 0, "b": 0})
    assert outcome.error is not None
    assert outcome.error.details == {"dissenters": [], "silent": ["c"]}


def test_votes_of_strangers_and_bad_indices_are_ignored() -> None:
    """A vote from a non-voter or outside the proposals is not a vote."""
    outcome = count_votes("simple_majority", ["x"], ["a", "b"], {"a": 0, "zz": 0, "b": 7})
    assert outcome.error is not None
    assert outcome.error.code == "no_majority"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"algorithm": "plurality"}, "algorithm", id="unknown-rule"),
        pytest.param({"proposals": []}, "proposals", id="no-proposals"),
        pytest.param({"voters": []}, "voters", id="no-voters"),
        pytest.param({"voters": ["a", "a"]}, "voters", id="duplicate-voters"),
        pytest.param(
            {"algorithm": "weighted_voting", "weights": {"a": -1.0}}, "weights.a", id="neg-weight"
        ),
    ],
)
def test_bad_input_is_a_config_error_naming_the_field(
    kwargs: dict[str, object], field: str
) -> None:
    """Bad input raises ConfigError naming the field."""
    call: dict[str, object] = {
        "algorithm": "simple_majority",
        "proposals": ["x"],
        "voters": ["a", "b"],
        "votes": {},
        "weights": None,
    }
    call.update(kwargs)
    with pytest.raises(ConfigError) as info:
        count_votes(
            call["algorithm"],  # type: ignore[arg-type]
            call["proposals"],  # type: ignore[arg-type]
            call["voters"],  # type: ignore[arg-type]
            call["votes"],  # type: ignore[arg-type]
            weights=call["weights"],  # type: ignore[arg-type]
        )
    assert info.value.field == field


@given(
    votes=st.lists(st.one_of(st.none(), st.integers(0, 2)), min_size=1, max_size=9),
    weights=st.lists(st.integers(0, 4), min_size=9, max_size=9),
)
def test_rules_agree_with_their_definitions(votes: list[int | None], weights: list[int]) -> None:
    """Property: each rule passes exactly when its threshold is strictly met."""
    voters = [f"v{i}" for i in range(len(votes))]
    cast = dict(zip(voters, votes, strict=True))
    weight_of = {v: float(w) for v, w in zip(voters, weights, strict=False)}
    counts = [sum(1 for v in votes if v == p) for p in range(3)]
    majority = count_votes("simple_majority", [0, 1, 2], voters, cast)
    assert majority.ok == (max(counts) >= len(voters) // 2 + 1)
    total = sum(weight_of.values())
    per = [sum(weight_of[v] for v in voters if cast[v] == p) for p in range(3)]
    weighted = count_votes("weighted_voting", [0, 1, 2], voters, cast, weights=weight_of)
    assert weighted.ok == (max(per) > total / 2)
    unanimous = count_votes("unanimous", [0, 1, 2], voters, cast)
    assert unanimous.ok == (max(counts) == len(voters))


def test_a_failed_vote_is_a_voting_failure_with_the_same_json() -> None:
    """The failure is a VotingFailure (VotingError is the same class, its former name);
    its JSON keeps the fields code, message and details."""
    import msgspec

    from mabeam.protocols.consensus import VotingError
    from mabeam.protocols.consensus.voting import VotingFailure

    outcome = count_votes("unanimous", [0.7, 0.9], ["a1", "a2"], {"a1": 0, "a2": 1})
    assert isinstance(outcome.error, VotingFailure)
    assert VotingError is VotingFailure
    assert not issubclass(VotingFailure, BaseException)
    assert msgspec.json.decode(msgspec.json.encode(outcome)) == {
        "ok": False,
        "result": None,
        "error": {
            "code": "no_unanimity",
            "message": "1 of 2 voted for the same proposal",
            "details": {"dissenters": ["a2"], "silent": []},
        },
    }


def test_voting_is_a_package_and_the_old_module_paths_still_import() -> None:
    """voting.rules and voting.actor hold the code; voting and voting_actor re-export it."""
    from mabeam.protocols.consensus import voting, voting_actor
    from mabeam.protocols.consensus.voting import actor, rules

    for name in rules.__all__:
        assert getattr(voting, name) is getattr(rules, name)
    for name in actor.__all__:
        assert getattr(voting, name) is getattr(actor, name)
        assert getattr(voting_actor, name) is getattr(actor, name)
