"""Every HTTP door bounded: who knocks is known before anything they bring is read, what they bring is
counted while it arrives and cut off at the door's limit, and a slow or greedy caller is let go.

One implementation for every server of ours (the API and the sales page, the codec server, the webhooks and
the debtor's page to come): `Doors` is ASGI middleware that, for each request, picks its `Door` (by method and
path), runs the door's check on the headers alone (401/403 before the body), refuses a declared length over
the limit (413), reads the body itself under the limit and a deadline (413, 408), holds at most so many
requests in flight per caller (429), then hands the app a body it already has. `serve` runs uvicorn with a cap
on connections, a keep-alive timeout and a deadline for a request's headers (`HeaderDeadline`), so that a
client dripping bytes holds no more than one connection for a few seconds.
"""

import asyncio
import json
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from relance.settings import Settings


class Knock(Exception):
    """A request refused at the door: its status and a detail in words."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


# Checks the headers alone and names the caller (for the in-flight cap), or raises Knock; None: a public door.
Check = Callable[[Headers], Awaitable[str]]


@dataclass(frozen=True)
class Door:
    name: str
    max_bytes: int
    check: Check | None = None  # None: anyone may knock (a public page, a health check)


@dataclass(frozen=True)
class Limits:
    body_seconds: float = 30.0  # the whole body must arrive within this
    in_flight_per_caller: int = 8
    buffered_bytes: int = 64 * 1024 * 1024  # bodies being read at once, all callers together: the memory bound

    @classmethod
    def of(cls, settings: Settings) -> "Limits":
        return cls(settings.http_body_seconds, settings.http_in_flight_per_caller, settings.http_buffered_bytes)


IN_MEMORY = 1024 * 1024  # a body's first MB is held in memory, the rest in a temporary file until it is whole
TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 408: "Request timeout",
          413: "Content too large", 429: "Too many requests", 503: "Busy"}  # fmt: skip


def sized(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB" if n >= 1024 * 1024 else f"{n:,} bytes"


class Doors:
    def __init__(self, app: ASGIApp, door_for: Callable[[str, str], Door], limits: Limits) -> None:
        self.app, self.door_for, self.limits = app, door_for, limits
        self.in_flight: Counter[str] = Counter()
        self.buffered = 0  # bytes of bodies held right now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        door = self.door_for(scope["method"], scope["path"])
        headers = Headers(scope=scope)
        try:
            caller = await door.check(headers) if door.check is not None else None
            self._declared(headers, door)
        except Knock as knock:
            await refuse(send, knock)
            return
        if caller is not None and self.in_flight[caller] >= self.limits.in_flight_per_caller:
            detail = f"more than {self.limits.in_flight_per_caller} requests at once for this caller"
            await refuse(send, Knock(429, detail, {"Retry-After": "1"}))
            return
        if caller is not None:
            self.in_flight[caller] += 1
        try:
            try:
                body = await self._body(receive, door)
            except Knock as knock:
                await refuse(send, knock)
                return
            if body is None:
                return  # the client went away
            await self.app(scope, _replay(body, receive), send)
        finally:
            if caller is not None:
                self.in_flight[caller] -= 1
                if not self.in_flight[caller]:
                    del self.in_flight[caller]

    @staticmethod
    def _declared(headers: Headers, door: Door) -> None:
        length = headers.get("content-length")
        if length is None:
            return
        if not length.isdigit():
            raise Knock(400, f"the Content-Length header {length[:40]!r} is not a number of bytes")
        if int(length) > door.max_bytes:
            declared, most = sized(int(length)), sized(door.max_bytes)
            raise Knock(413, f"the body is {declared}; {door.name} takes at most {most}")

    async def _body(self, receive: Receive, door: Door) -> bytes | None:
        """The whole body, counted while it arrives and kept on disk past its first MB: over the door's limit,
        past the deadline, or past what the server holds of all bodies at once, it is refused at once and what
        came is dropped. Only a body the app will read is ever whole in memory."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.body_seconds
        size = 0
        with tempfile.SpooledTemporaryFile(max_size=IN_MEMORY) as spool:
            try:
                while True:
                    left = deadline - loop.time()
                    try:
                        if left <= 0:
                            raise TimeoutError
                        message = await asyncio.wait_for(receive(), left)
                    except TimeoutError:
                        seconds = f"{self.limits.body_seconds:g}"
                        raise Knock(408, f"the body did not arrive within {seconds} s ({sized(size)} came)") from None
                    if message["type"] == "http.disconnect":
                        return None
                    chunk = message.get("body", b"")
                    if size + len(chunk) > door.max_bytes:
                        raise Knock(413, f"the body is over {sized(door.max_bytes)}, the most {door.name} takes")
                    if self.buffered + len(chunk) > self.limits.buffered_bytes:
                        raise Knock(503, "the server is reading too many bodies at once; try again",
                                    {"Retry-After": "5"})  # fmt: skip
                    self.buffered += len(chunk)
                    size += len(chunk)
                    spool.write(chunk)
                    if not message.get("more_body", False):
                        spool.seek(0)
                        return spool.read()
            finally:
                self.buffered -= size


def _replay(body: bytes, receive: Receive) -> Receive:
    """The app reads the body already read; after it, whatever the connection says (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def refuse(send: Send, knock: Knock) -> None:
    """A problem document (RFC 9457). The connection is not closed at once: a client still sending its body
    would then get a reset instead of this answer; what it sends is dropped as it comes, and the header
    deadline closes the connection (`HeaderDeadline`), as a web server's lingering close does."""
    title = TITLES.get(knock.status, "Refused")
    body = json.dumps({"type": "about:blank", "title": title, "status": knock.status, "detail": knock.detail})
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body.encode())).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in knock.headers.items()]
    await send({"type": "http.response.start", "status": knock.status, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})


class HeaderDeadline(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, with a deadline for each request's headers: a connection that has not
    sent a whole request head within `seconds` of opening (or of its last answer) is closed."""

    seconds: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        self._head_timer: asyncio.TimerHandle | None = self.loop.call_later(self.seconds, self._too_slow)

    def _disarm(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        """No whole request head in time, or (after a refusal) a body still coming that nobody reads."""
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:  # a request head arrived whole
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._disarm()
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def serve(app: Any, settings: Settings, *, host: str, port: int) -> None:
    """uvicorn with the limits of the settings: connections, keep-alive, header size and deadline."""
    protocol = type("Protocol", (HeaderDeadline,), {"seconds": settings.http_header_seconds})
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        http=protocol,
        limit_concurrency=settings.http_max_connections,
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=16 * 1024,
    )
