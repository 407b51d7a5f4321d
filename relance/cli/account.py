"""`relance account …`: customer-level actions on every open case of a customer at once."""

import json
from typing import Annotated, Any

import typer

from relance.cli.support import By, JsonFlag, build, fail, out, parse_amount, parse_date, run, who
from relance.domain.account import ExcludeCustomer, HoldCustomer, IncludeCustomer, ReleaseCustomer, UnallocatedPayment
from relance.domain.actions import Action
from relance.settings import get_settings

account_app = typer.Typer(
    help="Hold, release, exclude a customer, or record a payment naming no invoice.", no_args_is_help=True
)


def send(customer_id: str, action: Action, as_json: bool) -> None:
    from relance.ledger.db import engine_for
    from starter.connect import connect
    from starter.ops import ActionRejected, UnknownCase, act_on_account_or_keep_refusal

    settings = get_settings()

    async def go() -> dict[str, Any]:
        engine = engine_for(settings.database_url)
        client = await connect(settings)
        return await act_on_account_or_keep_refusal(client, engine, customer_id, action, settings.task_queue)

    try:
        answer = run(go())
    except UnknownCase as exc:
        fail(str(exc), 2)
    except ActionRejected as exc:
        fail(str(exc))
    if as_json:
        out.print_json(json.dumps(answer))
        return
    if "allocations" in answer:
        for allocation in answer["allocations"]:
            out.print(f"{allocation['invoice_id']}: {allocation['amount']}", highlight=False)
        return
    hold = answer.get("hold")
    state = f"{hold['kind']}: {hold['reason']}" if hold else "chasing normally"
    out.print(f"customer {customer_id}: {state}; open invoices {', '.join(answer['open_cases'])}", highlight=False)


@account_app.command("hold")
def hold(
    customer_id: str,
    reason: Annotated[str, typer.Option(help="global dispute, negotiation, sales decision…")],
    until: Annotated[str | None, typer.Option(help="YYYY-MM-DD; default: until released")] = None,
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """Pause chasing on every open case of the customer."""
    day = parse_date(until, "--until") if until else None
    send(customer_id, build(HoldCustomer, reason=reason, until=day, by=who(by)), as_json)


@account_app.command("release")
def release(customer_id: str, by: By = None, as_json: JsonFlag = False) -> None:
    """End a hold: every case resumes its own timeline."""
    send(customer_id, build(ReleaseCustomer, by=who(by)), as_json)


@account_app.command("exclude")
def exclude(customer_id: str, reason: Annotated[str, typer.Option()], by: By = None, as_json: JsonFlag = False) -> None:
    """Stop automatic chasing for the customer until included again."""
    send(customer_id, build(ExcludeCustomer, reason=reason, by=who(by)), as_json)


@account_app.command("include")
def include(customer_id: str, by: By = None, as_json: JsonFlag = False) -> None:
    """Chase the customer automatically again."""
    send(customer_id, build(IncludeCustomer, by=who(by)), as_json)


@account_app.command("pay")
def pay(
    customer_id: str,
    amount: str,
    reference: Annotated[str, typer.Option()],
    on: Annotated[str, typer.Option("--on", help="YYYY-MM-DD")],
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """A payment that names no invoice: spread over the oldest open balances first."""
    action = build(
        UnallocatedPayment, amount=parse_amount(amount), paid_on=parse_date(on, "--on"), reference=reference, by=who(by)
    )
    send(customer_id, action, as_json)


@account_app.command("sync-holds")
def sync_holds(as_json: JsonFlag = False) -> None:
    """Once after upgrading to generation v18: holds kept by running accounts are written to the ledger, where
    cases that open read them (an account held before the upgrade knew its cases; now they look it up)."""
    from relance.ledger.db import engine_for
    from starter.connect import connect
    from starter.ops import sync_holds as sync

    settings = get_settings()

    async def go() -> list[str]:
        return await sync(await connect(settings), engine_for(settings.database_url), settings.task_queue)

    written = run(go())
    if as_json:
        out.print_json(json.dumps(written))
        return
    out.print(f"holds written to the ledger: {', '.join(written) or 'none (every hold was there)'}", highlight=False)
