"""Policies: check files, explain a schedule, re-apply one to a running case."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from relance.cli.support import (
    By,
    JsonFlag,
    act,
    build,
    err,
    fail,
    out,
    parse_date,
    who,
)
from relance.domain.actions import (
    ReapplyPolicy,
)
from relance.domain.einvoicing import status_path
from relance.domain.policy import PolicyError, load_policies, load_policy
from relance.domain.schedule import plan_steps
from relance.rendering.messages import sms_problems
from relance.settings import get_settings

policy_app = typer.Typer(help="Check, explain and re-apply collection policies.", no_args_is_help=True)

# ---- policies ---------------------------------------------------------------------------------------------


@policy_app.command("check")
def policy_check(files: Annotated[list[Path], typer.Argument(help="policy files or folders")]) -> None:
    """Validate policies; every problem is printed with its file, line and field."""
    settings = get_settings()
    paths = [p for f in files for p in (sorted(f.glob("*.y*ml")) if f.is_dir() else [f])]
    problems = 0
    for path in paths:
        if not path.exists():
            err.print(f"{path}: no such file", highlight=False)
            problems += 1
            continue
        try:
            policy = load_policy(path, settings.template_dir)
        except PolicyError as exc:
            for problem in exc.problems:
                err.print(str(problem), highlight=False)
            problems += len(exc.problems)
            continue
        too_long = sms_problems(policy, settings)
        for said in too_long:
            err.print(f"{path}: {said}", highlight=False)
        if too_long:
            problems += len(too_long)
            continue
        out.print(f"ok {path}: {policy.label}, {len(policy.steps)} steps", highlight=False)
    if problems:
        fail(f"{problems} problem(s) found")


@policy_app.command("explain")
def policy_explain(
    policy: Annotated[str, typer.Argument(help="policy name, or a policy file")],
    due: Annotated[str, typer.Option(help="invoice due date, YYYY-MM-DD")],
    now: Annotated[str | None, typer.Option(help="as seen at (ISO date-time; default: now)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Print the dated steps a policy would run for an invoice due on a date."""
    settings = get_settings()
    try:
        chosen = (
            load_policy(Path(policy), settings.template_dir)
            if Path(policy).is_file()
            else load_policies(settings.policy_dir, settings.template_dir).get(policy)
        )
    except PolicyError as exc:
        fail(str(exc))
    if chosen is None:
        fail(f"no policy named {policy!r} in {settings.policy_dir}")
    zone = chosen.calendar.zone
    try:
        seen = datetime.fromisoformat(now) if now else datetime.now(UTC)
    except ValueError:
        fail(f"--now {now!r} is not an ISO date-time")
    seen = seen if seen.tzinfo else seen.replace(tzinfo=zone)
    schedule = plan_steps(chosen, parse_date(due, "--due"), seen)
    if as_json:
        steps = [
            {"step": p.step.id, "action": p.step.action.value, "template": p.step.template, "at": p.at.isoformat()}
            for p in schedule.planned
        ]
        skipped = [{"step": step.id, "why": why} for step, why in schedule.skipped]
        platform = [{"code": c, "status": label, "effect": effect} for c, label, effect in status_path(chosen)]
        out.print_json(
            json.dumps({"policy": chosen.label, "planned": steps, "skipped": skipped, "einvoicing": platform})
        )
        return
    table = Table(
        "step",
        "action",
        "template",
        f"when ({chosen.calendar.timezone})",
        "note",
        title=f"{chosen.label} for an invoice due {due}, seen at {seen.astimezone(zone):%Y-%m-%d %H:%M}",
    )
    for step, why in schedule.skipped:
        table.add_row(step.id, step.action.value, step.template, "—", f"skipped: {why}")
    for planned in schedule.planned:
        step = planned.step
        note = f"if balance ≥ {step.conditions.min_balance}" if step.conditions.min_balance else ""
        table.add_row(
            step.id, step.action.value, step.template, planned.at.astimezone(zone).strftime("%a %Y-%m-%d %H:%M"), note
        )
    out.print(table)
    statuses = Table("code", "status", "what it does to the case", title="the e-invoicing platform's statuses")
    for code, label, effect in status_path(chosen):
        statuses.add_row(code, label, effect)
    out.print(statuses)


@policy_app.command("reapply")
def policy_reapply(
    invoice: str,
    policy: Annotated[str | None, typer.Option(help="policy name (default: choose again by the rules)")] = None,
    by: By = None,
    as_json: JsonFlag = False,
) -> None:
    """Move a running case to another policy, or to the newest version of the rules."""
    act(invoice, build(ReapplyPolicy, policy=policy, by=who(by)), as_json)
