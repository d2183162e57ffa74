"""An auction's options, checked once: ``run_auction``'s keywords and the scenario's table."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final, Literal, TypeAlias, get_args

from ..._errors import ConfigError

AuctionType: TypeAlias = Literal["sealed_bid", "english", "dutch", "combinatorial"]
PaymentRule: TypeAlias = Literal["first_price", "second_price", "vcg"]
AUCTION_TYPES: Final[tuple[AuctionType, ...]] = get_args(AuctionType)
PAYMENT_RULES: Final = {
    "sealed_bid": ("first_price", "second_price"),
    "english": ("first_price", "second_price"),
    "dutch": ("first_price", "second_price"),
    "combinatorial": ("first_price", "vcg"),
}
"""The payment rules each auction type takes (a clock's price is its payment either way)."""

DEFAULT_TIME_BUDGET: Final = 10.0
"""Seconds the combinatorial winner determination may take before it settles for less."""


def round9(x: float) -> float:
    """``x`` rounded to 9 places, as every comparison against a threshold is."""
    return round(x, 9)


@dataclass(frozen=True, kw_only=True)
class AuctionConfig:
    """Every option of one auction, checked; see ``PROTOCOLS.md`` "Auctions"."""

    auction_type: AuctionType = "sealed_bid"
    payment_rule: PaymentRule = "first_price"
    variable: str | None = None
    reserve_price: float = 0.0
    starting_price: float | None = None  # english: None means 0; dutch: required
    increment: float = 0.1
    decrement: float = 0.1
    max_rounds: int = 1000
    items: tuple[str, ...] | None = None  # combinatorial, and then required
    reply_timeout: float = 1.0  # seconds each bidder has to answer one request
    time_budget: float | None = DEFAULT_TIME_BUDGET  # combinatorial solver, seconds

    def __post_init__(self) -> None:
        if self.auction_type not in AUCTION_TYPES:
            problem = f"unknown auction type {self.auction_type!r}"
            raise ConfigError("auction_type", problem, allowed=", ".join(AUCTION_TYPES))
        rules = PAYMENT_RULES[self.auction_type]
        if self.payment_rule not in rules:
            problem = f"{self.payment_rule!r} does not apply to auction_type {self.auction_type!r}"
            raise ConfigError("payment_rule", problem, allowed=", ".join(rules))
        if self.variable is not None and not isinstance(self.variable, str):
            raise ConfigError("variable", f"must be a string or None, got {self.variable!r}")
        _number("reserve_price", self.reserve_price, low=0.0)
        if self.starting_price is not None:
            _number("starting_price", self.starting_price, low=0.0)
        elif self.auction_type == "dutch":
            raise ConfigError("starting_price", "required when auction_type is 'dutch'")
        _number("increment", self.increment, above=0.0)
        _number("decrement", self.decrement, above=0.0)
        if not isinstance(self.max_rounds, int) or isinstance(self.max_rounds, bool):
            raise ConfigError("max_rounds", f"must be an integer >= 1, got {self.max_rounds!r}")
        if self.max_rounds < 1:
            raise ConfigError("max_rounds", f"must be an integer >= 1, got {self.max_rounds!r}")
        _number("reply_timeout", self.reply_timeout, above=0.0)
        if self.time_budget is not None:
            _number("time_budget", self.time_budget, above=0.0, finite=False)
        self._check_items()

    def _check_items(self) -> None:
        if self.items is None:
            if self.auction_type == "combinatorial":
                raise ConfigError("items", "required when auction_type is 'combinatorial'")
            return
        if isinstance(self.items, str) or not self.items:
            raise ConfigError("items", f"must be a non-empty list of names, got {self.items!r}")
        for i, item in enumerate(self.items):
            if not isinstance(item, str) or not item:
                raise ConfigError(f"items[{i}]", f"must be a non-empty string, got {item!r}")
            if item in self.items[:i]:
                raise ConfigError(f"items[{i}]", f"item {item!r} is listed twice")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> AuctionConfig:
        """Build from keyword options; an unknown one is a ConfigError naming them all."""
        known = [f.name for f in fields(cls)]
        for name in options:
            if name not in known:
                raise ConfigError(name, "unknown auction option", allowed=", ".join(known))
        values = dict(options)
        if values.get("items") is not None and not isinstance(values["items"], str):
            values["items"] = tuple(values["items"])
        return cls(**values)

    @property
    def start(self) -> float:
        """The clock's first price (english defaults to 0)."""
        return 0.0 if self.starting_price is None else float(self.starting_price)


def _number(
    field: str,
    value: Any,
    *,
    low: float | None = None,
    above: float | None = None,
    finite: bool = True,
) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)
    if ok and finite:
        ok = math.isfinite(value)
    if ok and low is not None:
        ok = value >= low
    if ok and above is not None:
        ok = value > above
    if not ok:
        bound = f">= {low:g}" if low is not None else f"> {above:g}"
        kind = "a finite number" if finite else "a number"
        raise ConfigError(field, f"must be {kind} {bound}, got {value!r}")
