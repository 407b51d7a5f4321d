"""What every route of the API shares: the settings, the ledger, the gate, and one Temporal client made on
first use (and made again after Temporal was out of reach)."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client

from relance.api.access import Gate
from relance.domain.limits import bounded
from relance.domain.policy import Policy
from relance.ledger.rejections import keep_rejections, rejected_action
from relance.policy_files import PolicyFiles
from relance.settings import Settings
from starter.connect import connect


@dataclass
class ApiContext:
    settings: Settings
    engine: Engine
    gate: Gate
    client_factory: Callable[[], Awaitable[Client]] | None = None
    clients: list[Client] = field(default_factory=list)
    policy_files: PolicyFiles | None = None  # made on first use, from the settings

    def policies(self) -> dict[str, Policy]:
        """The policies, read again only when their files changed (not once per request)."""
        if self.policy_files is None:
            self.policy_files = PolicyFiles(self.settings.policy_dir, self.settings.template_dir)
        return self.policy_files.policies()

    async def temporal(self) -> Client:
        if not self.clients:
            self.clients.append(await (self.client_factory() if self.client_factory else connect(self.settings)))
        return self.clients[0]

    def forget_client(self) -> None:
        self.clients.clear()

    async def keep_refused(self, invoice_id: str, action: str, payload: Any, reason: str, by: str) -> None:
        """What a provider posted that no case took, kept in the ledger's refused input (never raised: the
        provider would only post it again)."""
        refused = rejected_action(invoice_id, action, payload, bounded(reason, 500), by)
        await asyncio.to_thread(keep_rejections, self.engine, [refused])
