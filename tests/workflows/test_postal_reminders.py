"""Postal reminders (issue "Hearing the debtor", item 4): a `letter` step posts the reminder's words as an
ordinary letter through the print outbox, once; a letter that comes back flags the address, the next letter
waits for a new one, and a corrected address lets it go."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pypdf import PdfReader

from relance.ledger.db import engine_for
from relance.ledger.portal import read_link
from tests.builders import invoice, minute, paris
from tests.conftest import policies_copy

START = paris(2026, 4, 20, 8)


def with_letters(data: dict[str, Any]) -> None:
    """b2b-standard with reminder-2 and the final reminder sent by post."""
    for step in data["steps"]:
        if step["id"] in ("reminder-2", "final-reminder"):
            step["action"] = "letter"


@pytest.fixture
def settings(settings, tmp_path: Path):
    return settings.model_copy(
        update={
            "policy_dir": policies_copy(tmp_path, with_letters),
            "portal_secret": SecretStr("portal-secret-0123456789"),
            "public_url": "https://relance.vendor.example",
        }
    )


async def test_a_letter_step_posts_the_reminder_once_and_a_returned_letter_holds_the_next(open_case, worker):
    case = await open_case(invoice("POST-1", starts_at=START))
    status = await case.advance_to(paris(2026, 5, 12, 12))  # reminder-2 was due on 11 May (+10 days, a Monday)
    (letter_step,) = [s for s in status.steps if s.step_id == "reminder-2"]
    assert (letter_step.status, letter_step.channel, minute(letter_step.at)) == (
        "done",
        "letter",
        paris(2026, 5, 11, 9),
    )
    pdf = worker.letter_outbox_dir / "invoice-POST-1_reminder-2.pdf"
    manifest = json.loads(pdf.with_suffix(".json").read_text(encoding="utf-8"))
    assert (manifest["service"], manifest["recipient"]) == ("simple", "ACME SAS")
    assert manifest["address"] == ["1 rue de la Paix", "75002 Paris"]
    text = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "POST-1" in text and "ACME SAS" in text and "1 250,00" in text
    # the debtor's page: its link in the text, and as a QR code a phone can read
    (code,) = re.findall(r"https://relance\.vendor\.example/p/([a-z2-9]{12})", text)  # short: typed from paper
    assert read_link(engine_for(worker.database_url), "unused", code, 60) == ("C-ACME", "fr")  # it opens its page
    assert len(PdfReader(pdf).pages[-1].images) == 1
    assert letter_step.detail == f"letter by post (print:{pdf.name}): {manifest['subject']}"

    status = await case.update("mail_returned", {"reason": "NPAI", "returned_on": "2026-05-12"})
    assert status.flags.address_invalid == "NPAI"
    status = await case.advance_to(paris(2026, 5, 26, 12))  # the final reminder (+25, 25 May is Whit Monday)
    assert [s.step_id for s in status.steps if s.channel == "letter"] == ["reminder-2"]
    assert status.waiting_for == "a valid postal address (the last letter came back: NPAI)"
    new_address = {"line1": "8 quai Saint-Antoine", "postal_code": "69002", "city": "Lyon", "country": "FR"}
    await case.update("contact_updated", {"address": new_address})
    status = await case.advance_to(paris(2026, 5, 27, 12))
    assert [s.step_id for s in status.steps if s.channel == "letter"] == ["reminder-2", "final-reminder"]
    final = json.loads((worker.letter_outbox_dir / "invoice-POST-1_final-reminder.json").read_text(encoding="utf-8"))
    assert final["address"] == ["8 quai Saint-Antoine", "69002 Lyon"]
