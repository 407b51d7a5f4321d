"""After recovery: a case paid once it reached its final reminder thanks the debtor and gives the account
manager a relationship follow-up; a customer whose cases are all settled is back in good standing, with the
date."""

from datetime import date
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from relance.domain.policy import PolicyError, parse_policy
from relance.ledger.customer_view import customer_view
from relance.ledger.db import engine_for
from relance.ledger.work_queue import list_tasks
from relance.settings import Settings
from tests.builders import ROOT, invoice, paris
from tests.conftest import policies_copy, until_idle

START = paris(2026, 4, 20, 8)


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The shipped policies, b2b-standard with an after-recovery rule from its final reminder."""

    def after_final_reminder(data: dict[str, Any]) -> None:
        if data["name"] == "b2b-standard":
            data["after_recovery"] = {"from_step": "final-reminder"}

    policies = policies_copy(tmp_path, after_final_reminder)
    return settings.model_copy(update={"policy_dir": policies})


async def test_a_key_account_paid_after_its_final_reminder_is_thanked_and_followed_up(open_case, worker, env):
    early = await open_case(invoice("REC-0", starts_at=START))
    late = await open_case(invoice("REC-1", starts_at=START))
    await early.advance_to(paris(2026, 5, 5, 12))
    paid_early = await early.update("payment_received", {"amount": "1250", "paid_on": "2026-05-05", "reference": "E"})
    assert paid_early.outcome == "paid" and "recovered" not in [h.event for h in paid_early.history]

    status = await late.advance_to(paris(2026, 5, 26, 12))  # final reminder on 26 May (25 is Whit Monday)
    assert status.steps[-1].step_id == "final-reminder" and status.steps[-1].status == "done"
    status = await late.update("payment_received", {"amount": "1250", "paid_on": "2026-05-26", "reference": "L"})
    (recovered,) = [h.detail for h in status.history if h.event == "recovered"]
    assert recovered == (
        "paid after final-reminder: a thank-you to the debtor, a relationship follow-up for account_manager"
    )
    await late.advance_to(paris(2026, 5, 26, 13))
    await until_idle(env.client, late.handle.id)

    thanks = message_from_bytes((worker.outbox_dir / "invoice-REC-1_recovered-thanks.eml").read_bytes(), policy=default)
    assert thanks["Subject"] == "Facture REC-1 : règlement reçu, merci"
    assert "cette facture est soldée et vous ne recevrez plus de relance à son sujet" in thanks.get_content()
    assert not (worker.outbox_dir / "invoice-REC-0_recovered-thanks.eml").exists()
    engine = engine_for(worker.database_url)
    (task,) = [t for t in list_tasks(engine, today=date(2026, 5, 26)) if t.assignee == "account_manager"]
    assert (task.invoice_id, task.kind) == ("REC-1", "phone")
    assert task.script.startswith("Suivi de la relation : ACME SAS a réglé la facture REC-1 après relances")

    view = customer_view(engine, "C-ACME", date(2026, 5, 27))
    assert (view.standing, view.good_standing_since) == ("good standing", date(2026, 5, 26))


def test_the_rule_names_a_step_of_the_policy():
    text = (ROOT / "policies" / "b2b-standard.yaml").read_text(encoding="utf-8")
    with pytest.raises(PolicyError, match=r"after_recovery\.from_step: names step 'final'"):
        parse_policy(text + "after_recovery: {from_step: final}\n", "b2b-standard.yaml")
