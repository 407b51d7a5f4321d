"""`relance serve`: the HTTP API (relance/api/) for other systems and other departments."""

from typing import Annotated

import typer

from relance.cli.support import err
from relance.settings import get_settings


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs and /openapi.json); callers need a token (relance token create)."""
    from relance.api.app import api_app
    from relance.converter import key_ring
    from relance.doors import serve as serve_http

    settings = get_settings()
    key_ring(settings)  # a missing or malformed ring stops the service now, not at its first request
    err.print(f"Relance API on http://{host}:{port} (OpenAPI: /docs)")
    serve_http(api_app(settings), settings, host=host, port=port)
