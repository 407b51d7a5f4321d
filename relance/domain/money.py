"""Money rules shared by inputs, workflows and messages: Decimal amounts, ISO 4217 currencies."""

from decimal import Decimal
from typing import Protocol

from babel.numbers import format_currency

from relance.domain.errors import Rejected
from relance.domain.limits import CURRENCY_DECIMALS

ZERO = Decimal("0")


class _Currency(Protocol):
    @property
    def currency(self) -> str: ...


class HasCurrency(Protocol):
    """What `amount_ok` reads of a case: its currency."""

    @property
    def case(self) -> _Currency: ...


def check_amount(amount: Decimal, currency: str, *, what: str = "amount") -> Decimal:
    """An amount must be finite, positive and have no more decimals than its currency allows."""
    if not amount.is_finite():
        raise ValueError(f"{what} must be a finite number")
    if amount <= 0:
        raise ValueError(f"{what} must be greater than 0, got {amount}")
    digits = CURRENCY_DECIMALS.get(currency, 2)
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > digits:
        raise ValueError(f"{what} {amount} has more than {digits} decimals for {currency}")
    return amount


def format_money(amount: Decimal, currency: str, language: str) -> str:
    locale = "fr_FR" if language == "fr" else "en_GB"
    return format_currency(amount, currency, locale=locale)


def amount_ok(state: "HasCurrency", value: Decimal, what: str) -> None:
    """An amount an action brings for this case: refused (Rejected) unless `check_amount` takes it."""
    try:
        check_amount(value, state.case.currency, what=what)
    except ValueError as exc:
        raise Rejected(str(exc)) from exc
