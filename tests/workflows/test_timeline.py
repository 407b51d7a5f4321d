"""A B2B case walked through its policy on a real (time-skipping) Temporal server, with exact dates."""

from email import message_from_bytes
from email.policy import default

from tests.builders import invoice, paris
from tests.conftest import outbox_messages


async def test_full_escalation_timeline_follows_calendar(open_case, worker):
    # Due Thursday 30 April 2026. 1 May (Labour Day) is a Friday, 25 May is Whit Monday.
    case = await open_case(invoice("TL-1", starts_at=paris(2026, 4, 20, 8)))
    status = await case.advance_to(paris(2026, 6, 1, 12))
    done = [
        (s.step_id, s.at.astimezone(paris(2026, 1, 1).tzinfo).strftime("%a %d %b %H:%M"))
        for s in status.steps
        if s.status == "done"
    ]
    assert done == [
        ("courtesy", "Mon 27 Apr 09:00"),  # -5 days = Saturday 25 → Monday, window opens 09:00
        ("reminder-1", "Mon 04 May 09:00"),  # +1 = Friday 1 May, a holiday → Monday 4
        ("reminder-2", "Mon 11 May 09:00"),  # +10 = Sunday 10 → Monday 11
        ("call-1", "Fri 15 May 09:00"),  # +15 = Friday 15
        ("final-reminder", "Tue 26 May 09:00"),  # +25 = Whit Monday 25 May → Tuesday 26
    ]
    assert status.stage == "final_reminder"
    assert outbox_messages(worker) == [
        "invoice-TL-1_courtesy.eml",
        "invoice-TL-1_final-reminder.eml",
        "invoice-TL-1_reminder-1.eml",
        "invoice-TL-1_reminder-2.eml",
    ]
    mail = message_from_bytes((worker.outbox_dir / "invoice-TL-1_reminder-2.eml").read_bytes(), policy=default)
    assert mail["To"] == "ACME SAS <compta@acme.example>"
    assert mail["Subject"] == "Deuxième relance : facture TL-1 impayée (1\u202f250,00\xa0€)"
    body = mail.get_content()
    assert "reste impayée depuis\n11\xa0jours" in body
    assert "40,00\xa0€" in body


async def test_courtesy_note_wording_follows_the_days_left(open_case, worker):
    case = await open_case(invoice("TL-2", starts_at=paris(2026, 4, 29, 20)))
    await case.advance_to(paris(2026, 4, 30, 10))
    mail = message_from_bytes((worker.outbox_dir / "invoice-TL-2_courtesy.eml").read_bytes(), policy=default)
    assert "arrive à échéance le 30 avril 2026 (aujourd'hui)" in mail.get_content()
