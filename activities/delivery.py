"""What every channel shares when something reaches a debtor or a third party (e-mail, letter, agency):
how a provider's answer is classified, and how a step's side effect runs at most once.

A channel raises one of the three exceptions below; `deliver_once` runs its effect under the step's
claim (activities/side_effects.py) and turns the outcome into what the workflow understands: a refusal
that is never retried, a failure that is, or a step left in doubt for a person to check.
"""

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.side_effects import SideEffects
from relance.domain.activity_contract import StepRequest, StepResult


class DeliveryRefused(Exception):
    """The provider answered and will never accept this as it is (bad address, bad request)."""


class DeliveryFailed(Exception):
    """It did not go out this time (provider error or unreachable); trying again is safe."""


class DeliveryInDoubt(Exception):
    """The request left but no answer came back: the provider may or may not have accepted it."""


IN_DOUBT = "an earlier attempt stopped mid-send; not repeated, check the provider"


@dataclass(frozen=True)
class Outcome:
    state: Literal["done", "already_done", "in_doubt"]
    provider_id: str | None = None


def run_once(
    guard: SideEffects,
    key: str,
    case_id: str,
    step_id: str,
    channel: str,
    effect: Callable[[], str],
    find_sent: Callable[[str], str | None] | None,
    detail: str,
) -> Outcome:
    """Do `effect` at most once for `key` (blocking: call it in a thread). `find_sent` is the channel's own
    record of what it did, when it has one; an exception from `effect` releases the claim for a retry,
    except one that leaves the effect in doubt (`DeliveryInDoubt`): that one is never repeated blindly."""

    claim = guard.claim(key, case_id, step_id, channel)
    if claim.state == "sent":
        return Outcome("already_done", claim.provider_id)
    if claim.state == "in_doubt":
        found = find_sent(key) if find_sent is not None else None
        if found is None and find_sent is None:
            return Outcome("in_doubt")
        if found is not None:
            guard.confirm(key, found, "found already done")
            return Outcome("already_done", found)
    try:
        provider_id = effect()
    except DeliveryInDoubt:
        raise  # the claim stays taken: whether it happened is unknown, so it is never repeated blindly
    except Exception as err:
        guard.release(key, str(err))
        raise
    guard.confirm(key, provider_id, detail)
    return Outcome("done", provider_id)


async def deliver_once(
    guard: SideEffects,
    request: StepRequest,
    channel: str,
    effect: Callable[[], str],
    find_sent: Callable[[str], str | None] | None,
    *,
    key: str | None = None,
    detail: str | None = None,
) -> Outcome | StepResult:
    """The effect at most once under `key` (the step's own unless a grouped message brings its own).

    The Outcome when it ran or had run; a StepResult when the step stops in doubt; an ApplicationError
    (`DeliveryRefused`, not retried, or `DeliveryFailed`, retried) when the provider said no."""
    return await deliver_keyed(
        guard, key or request.idempotency_key, request.case_id, request.step_id, channel, effect, find_sent,
        detail or channel,
    )  # fmt: skip


async def deliver_keyed(
    guard: SideEffects,
    key: str,
    case_id: str,
    step_id: str,
    channel: str,
    effect: Callable[[], str],
    find_sent: Callable[[str], str | None] | None,
    detail: str,
) -> Outcome | StepResult:
    """`deliver_once` for a side effect that is no step of a case's policy (a notice the debtor asked for)."""
    try:
        done = await _counted(
            case_id,
            step_id,
            channel,
            asyncio.to_thread(run_once, guard, key, case_id, step_id, channel, effect, find_sent, detail),
        )
    except DeliveryInDoubt as err:
        return StepResult(status="in_doubt", channel=channel, detail=str(err))
    except DeliveryRefused as err:
        raise ApplicationError(str(err), type="DeliveryRefused", non_retryable=True) from err
    except DeliveryFailed as err:
        raise ApplicationError(str(err), type="DeliveryFailed") from err
    if done.state == "in_doubt":
        return StepResult(status="in_doubt", channel=channel, detail=IN_DOUBT)
    return done


async def _counted(case_id: str, step_id: str, channel: str, sending: Awaitable[Outcome]) -> Outcome:
    """The delivery, counted per channel and outcome (`relance_messages_total`) and logged with its case and
    step: never the address it went to."""
    outcome = "error"
    try:
        done = await sending
        outcome = done.state
        return done
    except DeliveryRefused:
        outcome = "refused"
        raise
    except DeliveryFailed:
        outcome = "failed"
        raise
    except DeliveryInDoubt:
        outcome = "in_doubt"
        raise
    finally:
        if activity.in_activity():
            counter = activity.metric_meter().create_counter(
                "relance_messages", "messages, letters and hand-offs, by channel and outcome"
            )
            counter.add(1, {"channel": channel, "outcome": outcome})
            activity.logger.info(
                "%s %s: %s",
                channel,
                step_id,
                outcome,
                extra={"case_id": case_id, "step": step_id, "channel": channel},
            )


def write_whole(path: Path, data: bytes) -> None:
    """Write a file that appears whole or not at all (written aside, then renamed): whoever picks up the folder
    (a printer, a bank, a platform, a person) never reads half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)


def file_stem(key: str) -> str:
    """A step's key as a file name for the folder backends (e-mail, letters, SMS): safe on every file system."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", key)
