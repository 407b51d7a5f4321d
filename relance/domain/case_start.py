"""What starts a case: the public start contract of InvoiceCollection, read without trusting the sender.

Another system starts a case with exactly one argument, the case JSON (README: "Driving Relance from
another system"), whatever its client's data converter. The workflow therefore receives its arguments
undecoded and reads them here: a malformed start is refused with each bad field named, so the case
fails at once instead of failing its workflow task forever. What a case carries into its next run
(continue-as-new) is accepted only by a run that was continued, never from a start.
"""

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from relance.domain.case import CaseState
from relance.domain.errors import M, Rejected, validated
from relance.domain.invoice import CaseInput, workflow_id_for
from relance.domain.limits import bounded
from relance.domain.reopening import Reopen

START_HINT = "start InvoiceCollection with one argument, the case JSON (README: Driving Relance from another system)"


class RunOptions(BaseModel):
    """Carried across continue-as-new; a fresh case needs none (tests may lower the threshold)."""

    carried: CaseState | None = None
    reopen: Reopen | None = None  # this run reopens the case's closed run (relance.domain.reopening)
    continue_as_new_after_events: int = 5000
    keep_history: int = 200  # history entries a continued run carries at the least (the ledger has them all)


class StartRefused(ValueError):
    """A start the case cannot run; the message names what is wrong, for the system that sent it."""


def read_start(args: Sequence[Any], *, workflow_id: str, continued: bool) -> tuple[CaseInput, RunOptions]:
    """The case and its run options from a start's raw arguments, or StartRefused saying why not.

    Accepted: `[case]` (the public contract), `[case, options]` (earlier releases and tests, options
    without carried state), and `[options]` or `[case, options]` with carried state on a continued run.
    """
    if continued and len(args) == 1 and isinstance(args[0], dict) and "carried" in args[0]:
        options = _read(RunOptions, args[0], "the carried state")
        if options.carried is None:
            raise StartRefused("a continued run carries no state")
        return options.carried.case, options
    if not args:
        raise StartRefused(f"no case given: {START_HINT}")
    if len(args) > 2:
        raise StartRefused(f"{len(args)} arguments given: {START_HINT}")
    case = _read(CaseInput, args[0], "case")
    options = RunOptions()
    if len(args) == 2 and args[1] is not None:
        options = _read(RunOptions, args[1], "second argument (run options)")
        if options.carried is not None and not continued:
            raise StartRefused(f"a new case cannot start from carried state: {START_HINT}")
    expected = workflow_id_for(case.invoice_id)
    if workflow_id != expected:
        raise StartRefused(f"workflow id {bounded(workflow_id, 120)!r} must be {expected!r} (invoice-<invoice_id>)")
    return case, options


def _read(model: type[M], value: Any, what: str) -> M:
    try:
        return validated(model, value, what)
    except Rejected as err:
        hint = f": {START_HINT}" if not isinstance(value, dict) else ""
        raise StartRefused(f"{err}{hint}") from None
