"""What the server-rendered pages (the sales page, the debtor's page) share: figures in the reader's language,
and the headers of a page meant for one reader."""

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from babel.dates import format_date
from fastapi.responses import HTMLResponse

from relance.domain.money import format_money


def formatters(lang: str) -> tuple[Callable[[Decimal, str], str], Callable[[date | datetime], str]]:
    """`money(amount, currency)` and `day(value)` as the page's language writes them."""

    def money(amount: Decimal, currency: str) -> str:
        return format_money(amount, currency, lang)

    def day(value: date | datetime) -> str:
        return format_date(value, format="long" if lang == "fr" else "d MMM y", locale=lang)

    return money, day


def private_page(html: str, status: int, csp: str) -> HTMLResponse:
    """A page for one reader: never cached, framed by no other site, under the page's own content policy."""
    response = HTMLResponse(html, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Frame-Options"] = "DENY"
    return response
