"""Money rules shared by inputs, workflows and messages: Decimal amounts, ISO 4217 currencies."""

from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision, list_currencies

KNOWN_CURRENCIES = frozenset(list_currencies())


def check_currency(code: str) -> str:
    if code not in KNOWN_CURRENCIES:
        raise ValueError(f"unknown currency {code!r}: expected an ISO 4217 code such as EUR")
    return code


def check_amount(amount: Decimal, currency: str, *, what: str = "amount") -> Decimal:
    """An amount must be finite, positive and have no more decimals than its currency allows."""
    if not amount.is_finite():
        raise ValueError(f"{what} must be a finite number")
    if amount <= 0:
        raise ValueError(f"{what} must be greater than 0, got {amount}")
    digits = get_currency_precision(currency)
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > digits:
        raise ValueError(f"{what} {amount} has more than {digits} decimals for {currency}")
    return amount


def format_money(amount: Decimal, currency: str, language: str) -> str:
    locale = "fr_FR" if language == "fr" else "en_GB"
    return format_currency(amount, currency, locale=locale)
