"""The claims that make a debtor-facing side effect happen at most once (the protocol: activities/delivery.py).

A claim row (case + step) is written before the effect and confirmed after it. A retry that finds:
- `sent`: the effect happened; report it, do nothing;
- `failed`: the provider definitely refused or never got it; try again;
- `sending`: an earlier attempt died between the claim and its confirmation. Whether the debtor got it is
  unknown, so we do not repeat it (at most once) unless the channel can tell us (the outbox can).
"""

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, bindparam, insert, select, update

from relance.ledger.db import SideEffect

# Built once: every message claims and confirms (built per call, with an ORM session each, they cost more CPU
# than the database's work).
_READ = select(SideEffect.status, SideEffect.provider_id).where(SideEffect.key == bindparam("effect")).with_for_update()
_CLAIM = insert(SideEffect)
_RETRY = (
    update(SideEffect)
    .where(SideEffect.key == bindparam("effect"))
    .values(status="sending", attempts=SideEffect.attempts + 1)
)
_FINISH = (
    update(SideEffect)
    .where(SideEffect.key == bindparam("effect"))
    .values(status=bindparam("new_status"), provider_id=bindparam("new_provider_id"), detail=bindparam("new_detail"))
)


@dataclass(frozen=True)
class Claim:
    state: Literal["new", "sent", "in_doubt"]
    provider_id: str | None = None


class SideEffects:
    def __init__(self, engine: Engine):
        self.engine = engine

    def claim(self, key: str, case_id: str, step_id: str, channel: str) -> Claim:
        with self.engine.begin() as connection:
            row = connection.execute(_READ, {"effect": key}).first()
            if row is None:
                effect = {"key": key, "case_id": case_id, "step_id": step_id, "channel": channel, "status": "sending"}
                connection.execute(_CLAIM, effect)
                return Claim("new")
            if row.status == "sent":
                return Claim("sent", row.provider_id)
            if row.status == "failed":
                connection.execute(_RETRY, {"effect": key})
                return Claim("new")
            return Claim("in_doubt")

    def confirm(self, key: str, provider_id: str, detail: str) -> None:
        self._finish(key, "sent", provider_id, detail)

    def release(self, key: str, detail: str) -> None:
        """The effect did not happen (provider refused or unreachable): a later attempt may try again."""
        self._finish(key, "failed", None, detail)

    def _finish(self, key: str, status: str, provider_id: str | None, detail: str) -> None:
        finished = {"effect": key, "new_status": status, "new_provider_id": provider_id, "new_detail": detail}
        with self.engine.begin() as connection:
            if connection.execute(_FINISH, finished).rowcount == 0:
                raise LookupError(f"no claim for side effect {key}")
