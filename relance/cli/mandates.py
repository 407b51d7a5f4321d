"""`relance bank mandate`: the SEPA mandates customers signed, on which a returned debit is presented again."""

import json
from datetime import date
from typing import Annotated

import typer
from rich.markup import escape

from relance.cli.support import By, JsonFlag, fail, out, parse_date, who
from relance.settings import get_settings

mandate_app = typer.Typer(help="SEPA direct debit mandates, per customer.", no_args_is_help=True)


@mandate_app.command("add")
def add(
    customer: Annotated[str, typer.Argument(help="the customer id, as in the cases")],
    umr: Annotated[str, typer.Option(help="the unique mandate reference (RUM)")],
    signed_on: Annotated[str, typer.Option(help="the day the debtor signed it, YYYY-MM-DD")],
    iban: Annotated[str, typer.Option(help="the debtor's IBAN")],
    name: Annotated[str, typer.Option(help="the debtor's name as on the mandate")],
    bic: Annotated[str | None, typer.Option(help="the debtor's BIC (optional in SEPA)")] = None,
    by: By = None,
) -> None:
    """Keep a mandate (the IBAN, the UMR and the date are checked as a bank would)."""
    from relance.ledger.db import engine_for
    from relance.ledger.mandates import MandateRefused, add_mandate

    signed = parse_date(signed_on, "--signed-on")
    try:
        add_mandate(engine_for(get_settings().database_url), customer_id=customer, umr=umr, iban=iban, bic=bic,
                    signed_on=signed, debtor_name=name, today=date.today(), by=who(by))  # fmt: skip
    except MandateRefused as exc:
        fail(str(exc))
    out.print(f"mandate {escape(umr)} kept for {escape(customer)}", highlight=False)


@mandate_app.command("revoke")
def revoke(umr: str) -> None:
    """A mandate no longer to be used (a returned debit on it is not presented again)."""
    from relance.ledger.db import engine_for
    from relance.ledger.mandates import revoke_mandate

    if not revoke_mandate(engine_for(get_settings().database_url), umr):
        fail(f"no active mandate {umr!r}")
    out.print(f"revoked {escape(umr)}", highlight=False)


@mandate_app.command("list")
def list_(customer: Annotated[str | None, typer.Argument()] = None, as_json: JsonFlag = False) -> None:
    """Every mandate (of one customer): UMR, IBAN, signature date, active or revoked."""
    from relance.ledger.db import engine_for
    from relance.ledger.mandates import list_mandates

    rows: list[dict[str, str]] = [
        {"customer": m.customer_id, "umr": m.umr, "iban": m.iban, "bic": m.bic or "", "name": m.debtor_name,
         "signed_on": m.signed_on.isoformat(), "revoked_at": m.revoked_at.isoformat() if m.revoked_at else ""}
        for m in list_mandates(engine_for(get_settings().database_url), customer)
    ]  # fmt: skip
    if as_json:
        out.print_json(json.dumps(rows))
        return
    for r in rows:
        state = f"revoked {r['revoked_at'][:10]}" if r["revoked_at"] else "active"
        out.print(f"{escape(r['customer'])}  {escape(r['umr'])}  {r['iban']}  signed {r['signed_on']}  {state}",
                  highlight=False)  # fmt: skip
