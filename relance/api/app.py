"""The HTTP API: the same functions as the `relance` commands (starter.importer, starter.ops, starter.tasks,
starter.statements, the ledger's views), behind API tokens with roles, and the sales page. Errors are JSON
problem documents (RFC 9457); Temporal out of reach is a 503 that says so.

Where things are: cases.py (cases, actions, documents), customers.py, work.py (tasks, reports), tokens.py,
sales_page.py; access.py checks tokens, roles and rates; problems.py turns errors into problem documents.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from relance.api.access import Gate
from relance.api.cases import cases_router
from relance.api.context import ApiContext
from relance.api.customers import customers_router
from relance.api.einvoicing import MAX_CDAR_BODY, STATUSES_PATH, einvoicing_door, einvoicing_router
from relance.api.inbound import SENDGRID_INBOUND, inbound_door, inbound_router
from relance.api.portal import MAX_FILES, PORTAL, SHORT, portal_router
from relance.api.problems import install_problem_handlers
from relance.api.sales_page import BASE, sales_router
from relance.api.stripe_hooks import STRIPE_WEBHOOK, stripe_door, stripe_router
from relance.api.tokens import tokens_router
from relance.api.twilio_hooks import TWILIO_INBOUND, TWILIO_STATUS, twilio_door, twilio_router
from relance.api.uploads import MAX_UPLOAD_BYTES
from relance.api.webhooks import SENDGRID_EVENTS, sendgrid_door, webhooks_router
from relance.api.work import work_router
from relance.doors import Door, Doors, Limits
from relance.ledger.db import engine_for
from relance.settings import Settings


def api_app(settings: Settings, client_factory: Callable[[], Awaitable[Client]] | None = None) -> FastAPI:
    engine = engine_for(settings.database_url)
    context = ApiContext(settings, engine, Gate(engine, settings.api_rate_per_minute), client_factory)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="Relance API",
        version="1",
        description=(
            "Invoice collection cases: create them, act on them, read them. Bearer API tokens "
            "(`relance token create --role … --name …`) with four roles: sales < collector < legal < admin. "
            "Errors are problem documents (application/problem+json)."
        ),
        lifespan=lifespan,
    )
    install_problem_handlers(app, context)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    routers = (
        cases_router,
        customers_router,
        work_router,
        tokens_router,
        sales_router,
        webhooks_router,
        inbound_router,
        twilio_router,
        portal_router,
        stripe_router,
        einvoicing_router,
    )
    for router in routers:
        app.include_router(router(context))
    app.add_middleware(Doors, door_for=api_doors(settings, context), limits=Limits.of(settings))
    return app


PUBLIC = ("/health", "/docs", "/redoc", "/openapi.json")


def api_doors(settings: Settings, context: ApiContext) -> Callable[[str, str], Door]:
    """Which door a request knocks at: a batch of invoices, any other call with a token, the sales page (which
    signs in with a small form and a cookie of its own), a provider's signed webhook, or a public page."""
    gate = context.gate
    public = Door("this page", 1024)
    page = Door("the sales page", 4096)
    events = Door("the SendGrid event webhook", settings.sendgrid_events_max_bytes, sendgrid_door(context))
    texts = Door("Twilio's SMS webhooks", 64 * 1024, twilio_door(context))
    batch = Door("a batch of invoices", settings.http_max_batch_bytes, gate.door_check)
    call = Door("an API request", settings.http_max_json_bytes, gate.door_check)

    def door_for(method: str, path: str) -> Door:
        if path in PUBLIC or path.startswith("/docs/"):
            return public
        if path == BASE or path.startswith(f"{BASE}/"):
            return page
        if path == SENDGRID_EVENTS:
            return events
        if path == STATUSES_PATH:
            return Door("the e-invoicing platform's statuses", MAX_CDAR_BODY, einvoicing_door(context))
        if path == STRIPE_WEBHOOK:
            return Door("Stripe's webhook", 256 * 1024, stripe_door(context))
        if path.startswith((f"{PORTAL}/", f"{SHORT}/")):
            if method == "POST" and path.endswith(("/paid", "/dispute")):  # a proof, dispute papers
                return Door("the debtor's page (with files)", (MAX_FILES * MAX_UPLOAD_BYTES) + 64 * 1024)
            return Door("the debtor's page", 4096)  # the link is the key, checked by the page itself
        if path in (TWILIO_STATUS, TWILIO_INBOUND):
            return texts
        if path.startswith(f"{SENDGRID_INBOUND}/"):
            return Door("SendGrid's Inbound Parse", settings.sendgrid_inbound_max_bytes, inbound_door(context, path))
        return batch if (method, path) == ("POST", "/cases") else call

    return door_for
