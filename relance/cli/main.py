"""`relance`: the ops command line. Every command reads the same settings as the worker; each group of
commands lives in its own module (cases, policies, views, account, legal)."""

from typing import Annotated

import typer
from rich.markup import escape

from relance.cli.account import account_app
from relance.cli.bank import bank_app
from relance.cli.cases import cases_app
from relance.cli.einvoicing import einvoicing_app
from relance.cli.keys import codec_server, keys_app
from relance.cli.legal import agency_app, court_app, letter_app, statement
from relance.cli.policies import policy_app
from relance.cli.portal import portal_app
from relance.cli.process import end_process
from relance.cli.rates import rates_app
from relance.cli.serve import serve
from relance.cli.support import (
    err,
    fail,
    out,
    run,
)
from relance.cli.tokens import token_app
from relance.cli.views import views_app
from relance.settings import get_settings

app = typer.Typer(help="Relance: one durable Temporal workflow per unpaid invoice.", no_args_is_help=True)
app.add_typer(cases_app)
app.add_typer(views_app)
app.add_typer(policy_app, name="policy")
app.add_typer(letter_app, name="letter")
app.add_typer(court_app, name="court")
app.add_typer(agency_app, name="agency")
app.add_typer(account_app, name="account")
app.add_typer(portal_app, name="portal")
app.add_typer(rates_app, name="rates")
app.add_typer(bank_app, name="bank")
app.add_typer(einvoicing_app, name="einvoicing")
app.add_typer(keys_app, name="keys")
app.add_typer(token_app, name="token")
app.command("statement")(statement)
app.command("codec-server")(codec_server)
app.command("serve")(serve)

# ---- worker and import ---------------------------------------------------------------------------------


@app.command()
def worker() -> None:
    """Run a worker: the collection workflow and its activities on the task queue."""
    from temporalio.service import RPCError

    from relance.worker_runtime import WorkerConfigError, main

    try:
        main(get_settings())
    except WorkerConfigError as exc:
        fail(str(exc))
    except RPCError as exc:
        fail(f"Temporal refused the worker: {exc.message}")


@app.command()
def setup() -> None:
    """Prepare for Relance: bring the ledger's schema up to date, register the case search attributes, and fail
    if open cases of a generation this release retired remain (safe to re-run; in production run it once per
    release, before the workers start)."""
    from temporalio.service import RPCError

    from relance.ledger.db import engine_for
    from starter.connect import connect
    from starter.namespace import (
        CANNOT_LIST,
        NO_VISIBILITY,
        Registration,
        RetiredCases,
        register_attributes,
        retired_cases,
    )

    settings = get_settings()
    engine_for(settings.database_url).dispose()  # migrates the ledger to the newest schema
    out.print("ledger schema up to date", highlight=False)

    async def go() -> tuple[Registration, RetiredCases | None]:
        client = await connect(settings)
        return await register_attributes(client, settings.temporal_namespace), await retired_cases(client)

    try:
        registration, retired = run(go())
    except ValueError as exc:
        fail(str(exc))
    except RPCError as exc:
        fail(f"Temporal refused to register the search attributes: {exc.message}")
    added = registration.added
    done = f"registered {', '.join(added)}" if added else "search attributes already registered"
    out.print(f"namespace {settings.temporal_namespace}: {done}", highlight=False)
    if not registration.listed:
        err.print(f"note: {CANNOT_LIST} (each was added; those it already had were kept)", highlight=False)
    if retired is None:
        err.print(f"note: {NO_VISIBILITY}", highlight=False)
    elif retired.count:
        fail(f"{retired.refusal(settings.temporal_namespace)}; this release's workers will refuse to start")


@app.command()
def demo(
    seconds_per_day: Annotated[float, typer.Option(help="real seconds per case day")] = 6.0,
    minutes: Annotated[float, typer.Option(help="how long to watch the cases")] = 6.0,
) -> None:
    """Import a sample portfolio on a compressed clock and watch the cases move."""
    from relance.cli.demo import run_demo

    run(run_demo(get_settings(), out, seconds_per_day=seconds_per_day, minutes=minutes))


def main() -> None:
    """Console entry point (see end_process for why it does not return)."""
    from relance.encryption import KeyRingError
    from relance.settings import SettingsError
    from starter.connect import TemporalUnreachable

    code = 0
    try:
        app()
    except (TemporalUnreachable, SettingsError, KeyRingError) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True)
        code = 1
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    end_process(code)


if __name__ == "__main__":
    main()
