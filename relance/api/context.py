"""What every route of the API shares: the settings, the ledger, the gate, and one Temporal client made on
first use (and made again after Temporal was out of reach)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from temporalio.client import Client

from relance.api.access import Gate
from relance.settings import Settings
from starter.connect import connect


@dataclass
class ApiContext:
    settings: Settings
    engine: Engine
    gate: Gate
    client_factory: Callable[[], Awaitable[Client]] | None = None
    clients: list[Client] = field(default_factory=list)

    async def temporal(self) -> Client:
        if not self.clients:
            self.clients.append(await (self.client_factory() if self.client_factory else connect(self.settings)))
        return self.clients[0]

    def forget_client(self) -> None:
        self.clients.clear()
