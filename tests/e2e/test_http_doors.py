"""Every HTTP door bounded (issue: no body read before its caller is known, size limits, slow clients cut off):
`relance serve` and `relance codec-server` as processes, attacked over raw sockets as an outsider would: 300 MB
bodies with no token and with a valid one (declared, and chunked with no length), twenty at once, a body and
a request head dripped a byte a second. Each is refused with its status while the server's peak memory stays
under 200 MB and a normal request beside them is answered within a second. The door's table (which route
takes how much, from whom) and the 422 that names the body in words are tested in-process."""

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from relance.api.app import api_app
from relance.domain.access import Role
from relance.ledger.api_tokens import create_token
from relance.ledger.db import engine_for
from relance.settings import Settings
from tests.builders import ROOT
from tests.web_ui import free_port, wait_port

MB = 1024 * 1024
LIMITS = {  # short deadlines so that the dripping clients are cut off within the test's time
    "RELANCE_HTTP_HEADER_SECONDS": "2",
    "RELANCE_HTTP_BODY_SECONDS": "3",
    "RELANCE_HTTP_MAX_CONNECTIONS": "200",
}


@dataclass
class Server:
    port: int
    pid: int
    token: str  # a valid credential for its doors

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM")


@contextlib.asynccontextmanager
async def running(argv: list[str], env: dict[str, str], token: str) -> AsyncIterator[Server]:
    port = free_port()
    started = subprocess.Popen([*argv, "--port", str(port)], cwd=ROOT, env={**os.environ, **LIMITS, **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        await asyncio.to_thread(wait_port, port, started, argv[3])
        yield Server(port, started.pid, token)
    finally:
        started.terminate()
        started.wait(timeout=30)


@pytest.fixture(scope="module")
async def api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    url = f"sqlite:///{tmp_path_factory.mktemp('doors') / 'relance.db'}"
    token = create_token(engine_for(url), "door test", Role.collector, "test")
    async with running([sys.executable, "-m", "relance.cli.main", "serve"], {"RELANCE_DATABASE_URL": url},
                       token) as server:  # fmt: skip
        yield server


@pytest.fixture(scope="module")
async def codec() -> AsyncIterator[Server]:
    env = {"RELANCE_CODEC_SERVER_TOKENS": "codec-secret"}
    async with running([sys.executable, "-m", "relance.cli.main", "codec-server"], env, "codec-secret") as server:
        yield server


async def status_of(reader: asyncio.StreamReader, seconds: float = 10) -> int | None:
    """The status of the answer, or None when the server closed without one."""
    try:
        line = await asyncio.wait_for(reader.readline(), seconds)
    except (TimeoutError, ConnectionError):
        return None
    return int(line.split()[1]) if line.startswith(b"HTTP/1.1 ") else None


async def big_post(port: int, path: str, token: str | None, *, declared: bool, size: int = 300 * MB) -> int | None:
    """POST `size` bytes (in 1 MB chunks, with a Content-Length or chunked), stopping when the server answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    head += [f"Authorization: Bearer {token}"] if token else []
    head += [f"Content-Length: {size}"] if declared else ["Transfer-Encoding: chunked"]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    answer = asyncio.create_task(status_of(reader, 60))
    chunk = b"[" + b"1," * (MB // 2 - 1) + b"1"
    sent = 0
    try:
        while sent < size and not answer.done():
            writer.write(chunk if declared else f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
            sent += len(chunk)
    except ConnectionError:
        pass
    status = await answer
    writer.close()
    return status


async def drip(port: int, path: str, token: str, *, head_only: bool) -> tuple[int | None, float]:
    """A request head (or, after a whole head, a body) dripped a byte a second: the status, and how long the
    server held the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n").encode()  # fmt: skip
    if head_only:
        data, head = head, b""
    else:
        writer.write(head)
        data = b'{"x": "' + b"y" * 990 + b'"}'
    started = time.monotonic()
    answer = asyncio.create_task(status_of(reader, 30))
    try:
        for byte in data:
            if answer.done():
                break
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(1)
    except ConnectionError:
        pass
    status = await answer
    writer.close()
    return status, time.monotonic() - started


async def normal_requests(url: str, headers: dict[str, str], stop: asyncio.Event, method: str = "GET",
                          body: object | None = None) -> list[float]:  # fmt: skip
    """A well-behaved caller, once every 0.2 s while the attacks run: how long each answer took."""
    took = []
    async with httpx.AsyncClient(headers=headers, timeout=10) as http:
        while not stop.is_set():
            started = time.monotonic()
            answer = await http.request(method, url, json=body)
            assert answer.status_code == 200, answer.text
            took.append(time.monotonic() - started)
            await asyncio.sleep(0.2)
    return took


async def attack(server: Server, path: str, normal: tuple[str, str, object | None], over_limit: int) -> None:
    stop = asyncio.Event()
    method, normal_path, body = normal
    url, headers = f"http://127.0.0.1:{server.port}{normal_path}", {"Authorization": f"Bearer {server.token}"}
    calm = asyncio.create_task(normal_requests(url, headers, stop, method, body))
    alone = [
        await big_post(server.port, path, None, declared=True),
        await big_post(server.port, path, server.token, declared=True),
        await big_post(server.port, path, server.token, declared=False),
    ]
    assert alone == [401, 413, over_limit]
    many = await asyncio.gather(
        *(big_post(server.port, path, server.token if n % 2 else None, declared=n % 4 < 2) for n in range(20))
    )
    assert sorted(many, key=str) == sorted([413] * 5 + [over_limit] * 5 + [401] * 10, key=str)
    body_drip, head_drip = await asyncio.gather(
        drip(server.port, path, server.token, head_only=False), drip(server.port, path, server.token, head_only=True)
    )
    assert body_drip[0] == 408 and body_drip[1] < 6  # the body deadline (3 s here) cut it off
    assert head_drip[0] is None and head_drip[1] < 5  # the header deadline (2 s here) closed the connection
    stop.set()
    took = await calm
    print(
        f"{path}: {len(took)} normal requests beside the attacks, slowest {max(took):.3f} s; "
        f"server peak RSS {server.peak_rss_mb():.0f} MB"
    )  # the closing note quotes this
    assert len(took) >= 10 and max(took) < 1.0
    assert server.peak_rss_mb() < 200


async def test_the_api_refuses_big_and_slow_bodies_and_stays_small(api):
    # over the 10 MB of a batch: refused while counting (a chunked body has no length to refuse it by)
    await attack(api, "/cases", ("GET", "/tasks", None), over_limit=413)


async def test_the_codec_server_refuses_big_and_slow_bodies_and_stays_small(codec):
    await attack(codec, "/decode", ("POST", "/decode", {"payloads": []}), over_limit=413)


@pytest.fixture
def client(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'relance.db'}", http_max_json_bytes=2048)
    app = api_app(settings)
    token = create_token(engine_for(settings.database_url), "t", Role.collector, "test")
    with TestClient(app) as test_client:
        yield test_client, token


@pytest.mark.parametrize(
    ("method", "path", "auth", "body", "status", "detail"),
    [
        ("POST", "/cases", None, b"{}", 401,
         "an API token is required: Authorization: Bearer <token> (relance token create)"),
        ("POST", "/cases", "rk_wrong", b"{}", 401, "this API token is unknown or revoked"),
        ("POST", "/cases/F-1/actions/pause", "token", b"x" * 3000, 413,
         "the body is 3,000 bytes; an API request takes at most 2,048 bytes"),
        ("POST", "/sales/login", None, b"token=" + b"x" * 5000, 413,
         "the body is 5,006 bytes; the sales page takes at most 4,096 bytes"),
        ("GET", "/health", None, b"x" * 2000, 413, "the body is 2,000 bytes; this page takes at most 1,024 bytes"),
        ("POST", "/cases", "token", b'{"invoices": [', 422,
         "body: the body is not JSON: Expecting value (at character 14)"),
    ],
)  # fmt: skip
def test_each_door_knows_its_caller_and_its_limit(client, method, path, auth, body, status, detail):
    test_client, token = client
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = f"Bearer {token if auth == 'token' else auth}"
    answer = test_client.request(method, path, content=body, headers=headers)
    assert (answer.status_code, answer.headers["content-type"]) == (status, "application/problem+json")
    assert json.loads(answer.text)["detail"] == detail
