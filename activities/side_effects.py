"""At-most-once execution of a debtor-facing side effect, checked where the effect happens.

A claim row (case + step) is written before the effect and confirmed after it. A retry that finds:
- `sent`: the effect happened; report it, do nothing;
- `failed`: the provider definitely refused or never got it; try again;
- `sending`: an earlier attempt died between the claim and its confirmation. Whether the debtor got it is
  unknown, so we do not repeat it (at most once) unless the channel can tell us (the outbox can).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from activities.email_delivery import DeliveryInDoubt
from relance.db import SideEffect


@dataclass(frozen=True)
class Claim:
    state: Literal["new", "sent", "in_doubt"]
    provider_id: str | None = None


class SideEffects:
    def __init__(self, engine: Engine):
        self.engine = engine

    def claim(self, key: str, case_id: str, step_id: str, channel: str) -> Claim:
        with Session(self.engine) as session, session.begin():
            row = session.execute(select(SideEffect).where(SideEffect.key == key).with_for_update()).scalar()
            if row is None:
                session.add(SideEffect(key=key, case_id=case_id, step_id=step_id, channel=channel, status="sending"))
                return Claim("new")
            if row.status == "sent":
                return Claim("sent", row.provider_id)
            if row.status == "failed":
                row.status = "sending"
                row.attempts += 1
                return Claim("new")
            return Claim("in_doubt")

    def confirm(self, key: str, provider_id: str, detail: str) -> None:
        self._finish(key, "sent", provider_id, detail)

    def release(self, key: str, detail: str) -> None:
        """The effect did not happen (provider refused or unreachable): a later attempt may try again."""
        self._finish(key, "failed", None, detail)

    def _finish(self, key: str, status: str, provider_id: str | None, detail: str) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(SideEffect, key)
            if row is None:
                raise LookupError(f"no claim for side effect {key}")
            row.status = status
            row.provider_id = provider_id
            row.detail = detail


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
) -> Outcome:
    """Do `effect` at most once for `key` (blocking: call it in a thread). `find_sent` is the channel's own
    record of what it did, when it has one; an exception from `effect` releases the claim for a retry."""
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
    guard.confirm(key, provider_id, channel)
    return Outcome("done", provider_id)
