"""The example messages under docs/messages/ are what the templates render today (regenerate them with
`python -m tests.rules.test_example_messages` after changing a template)."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from relance.domain.activity_contract import step_request
from relance.rendering.messages import render
from relance.settings import Settings
from tests.builders import ROOT, case, paris

FOLDER = ROOT / "docs" / "messages"
SETTINGS = Settings(creditor_iban="FR76 3000 6000 0112 3456 7890 189")
# name: template, credit granted, pay by, offer amount, waived, balance
EXAMPLES = {
    "dispute-rejected": ("dispute_rejected", None, date(2026, 7, 2), None, None, "1250"),
    "dispute-partially-accepted": ("dispute_partially_accepted", "250", date(2026, 7, 2), None, None, "1000"),
    "dispute-accepted": ("dispute_accepted", "1250", None, None, None, "0"),
    "settlement-offer": (
        "settlement_offer",
        None,
        date(2026, 5, 15),
        "1000",
        ["principal", "interest", "indemnity"],
        "1250",
    ),
    "early-payment-discount": ("settlement_offer", None, date(2026, 4, 28), "1225", ["principal"], "1250"),
}


def example(name: str, language: str) -> str:
    template, credited, pay_by, offer, waived, balance = EXAMPLES[name]
    request = step_request(case(customer={"language": language}), "invoice-PL-1", name, template, paris(2026, 6, 29))
    request.credited_now = Decimal(credited) if credited else None
    request.pay_by, request.waived = pay_by, waived
    request.offer_amount = Decimal(offer) if offer else None
    message = render("email", request, Decimal(balance), SETTINGS)
    return f"Subject: {message.subject}\n\n{message.body}"


def path(name: str, language: str) -> Path:
    return FOLDER / f"{name}.{language}.txt"


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("name", EXAMPLES)
def test_the_example_is_what_the_template_renders(name, language):
    assert path(name, language).read_text(encoding="utf-8") == example(name, language)


if __name__ == "__main__":
    for name in EXAMPLES:
        for language in ("fr", "en"):
            path(name, language).write_text(example(name, language), encoding="utf-8")
