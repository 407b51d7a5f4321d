"""Money rules shared by inputs, workflows and messages: Decimal amounts, ISO 4217 currencies."""

from decimal import Decimal

from babel.numbers import format_currency

from relance.domain.limits import CURRENCY_DECIMALS


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
