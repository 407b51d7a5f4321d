"""The claims that make a debtor-facing side effect happen at most once (the protocol: activities/delivery.py).

A claim row (case + step) is written before the effect and confirmed after it. A retry that finds:
- `sent`: the effect happened; report it, do nothing;
- `failed`: the provider definitely refused or never got it; try again;
- `sending`: an earlier attempt died between the claim and its confirmation. Whether the debtor got it is
  unknown, so we do not repeat it (at most once) unless the channel can tell us (the outbox can).
"""

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from relance.ledger.db import SideEffect


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
