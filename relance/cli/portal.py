"""`relance portal`: links to a debtor's own page (relance/api/portal.py), made and withdrawn."""

from typing import Annotated

import typer

from relance.cli.support import fail, out
from relance.settings import get_settings

portal_app = typer.Typer(help="Links to a debtor's own page: link (print one), revoke (end them all).")


@portal_app.command("link")
def portal_link(
    customer: Annotated[str, typer.Argument(help="the customer's id, e.g. C-ACME")],
    lang: Annotated[str, typer.Option(help="the page's language: fr or en")] = "fr",
) -> None:
    """Print a link to the customer's page (valid RELANCE_PORTAL_DAYS days, until revoked)."""
    from relance.domain.portal_links import sign_link

    settings = get_settings()
    if settings.portal_secret is None:
        fail("the debtor's page is not set up: set RELANCE_PORTAL_SECRET")
    base = (settings.public_url or "http://localhost:8000").rstrip("/")
    out.print(f"{base}/portal/{sign_link(settings.portal_secret.get_secret_value(), customer, lang)}", highlight=False)


@portal_app.command("revoke")
def portal_revoke(customer: Annotated[str, typer.Argument(help="the customer's id")]) -> None:
    """End every link to the customer's page made until now."""
    from relance.ledger.db import engine_for
    from relance.ledger.portal import revoke_links

    at = revoke_links(engine_for(get_settings().database_url), customer)
    out.print(f"links to {customer}'s page made before {at.isoformat()} no longer open it", highlight=False)
