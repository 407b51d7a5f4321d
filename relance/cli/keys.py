"""`relance keys` (payload encryption keys) and `relance codec-server` (the Web UI's decryption endpoint)."""

from typing import Annotated

import typer

from relance.cli.support import err, fail, out
from relance.settings import get_settings

keys_app = typer.Typer(help="Payload encryption keys (RELANCE_CODEC_KEYS).", no_args_is_help=True)


@keys_app.command("new")
def new(key_id: Annotated[str, typer.Option("--id", help="the key's id, kept in every payload it encrypts")]) -> None:
    """Print a new key entry `id:base64`, to append to RELANCE_CODEC_KEYS (it is shown once, never stored)."""
    from relance.encryption import KeyRingError, new_key_line

    try:
        out.print(new_key_line(key_id), highlight=False, soft_wrap=True)
    except KeyRingError as exc:
        fail(str(exc))


@keys_app.command("show")
def show() -> None:
    """The ring's key ids and which one encrypts new payloads (never the keys)."""
    from relance.converter import key_ring

    ring = key_ring(get_settings())
    if ring is None:
        out.print("payload encryption is off (RELANCE_PAYLOAD_ENCRYPTION=off)", highlight=False)
        return
    for key_id in ring.keys:
        mark = "  (current: encrypts new payloads)" if key_id == ring.current else ""
        out.print(f"{key_id}{mark}", highlight=False)


def codec_server(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8888,
    demo_without_token: Annotated[
        bool, typer.Option(help="no token asked (a demo on this machine only: refused off loopback)")
    ] = False,
) -> None:
    """Serve /encode and /decode for the Temporal Web UI (its origins: RELANCE_CODEC_SERVER_ORIGINS)."""
    from relance.codec_server import LOOPBACK, codec_app
    from relance.converter import key_ring
    from relance.doors import Limits, serve
    from relance.encryption import EncryptionCodec

    settings = get_settings()
    ring = key_ring(settings)
    if ring is None:
        fail("the codec server has nothing to decode: payload encryption is off")
    tokens = settings.codec_server_tokens.get_secret_value() if settings.codec_server_tokens else ""
    origins = [o.strip() for o in settings.codec_server_origins.split(",") if o.strip()]
    if demo_without_token and host not in LOOPBACK:
        fail(f"--demo-without-token serves only on loopback ({', '.join(LOOPBACK)}), not on {host}")
    try:
        app = codec_app(
            EncryptionCodec(ring),
            tokens=[t.strip() for t in tokens.split(",") if t.strip()],
            origins=origins,
            open_on_loopback=demo_without_token,
            max_bytes=settings.codec_max_bytes,
            limits=Limits.of(settings),
        )
    except ValueError as exc:
        fail(str(exc))
    err.print(f"codec server on http://{host}:{port} for {', '.join(origins)}; keys {', '.join(ring.keys)}")
    serve(app, settings, host=host, port=port)
