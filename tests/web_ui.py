"""The Temporal Web UI showing a case decrypted through `relance codec-server`, in headless Chromium.

    python -m tests.web_ui docs/web-ui-decrypted-case.png

starts a dev server with its UI wired to a codec server, a worker, and one consumer's case; opens the case's
page in Debian's Chromium (driven by Playwright) and saves a screenshot. The test suite runs the same
(tests/e2e/test_encryption.py) and checks what the page shows.
"""

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import async_playwright
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client

from relance.domain.case_view import CaseStatus
from relance.settings import Settings
from relance.worker_runtime import build_worker
from starter.importer import start_case
from tests.builders import ROOT, invoice
from tests.conftest import data_converter, server_binary
from workflows.search_attributes import attribute_types

CHROMIUM = "/usr/bin/chromium"  # Debian's (`apt-get install chromium`): nothing is downloaded at run time
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
NAME = "Camille Rousseau-Lefèvre"
CONSUMER: dict[str, object] = {
    "id": "P-2077",
    "kind": "consumer",
    "name": NAME,
    "email": "camille.rousseau@perso.example",
    "address": {"line1": "17 allée des Tilleuls", "postal_code": "69003", "city": "Lyon", "country": "FR"},
}


@dataclass
class Page:
    text: str  # what the case's page shows, once decrypted
    encrypted_text: str  # the same page with the codec server stopped


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_port(port: int, process: subprocess.Popen[bytes], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on {port}")


@asynccontextmanager
async def process(argv: list[str], port: int, what: str, env: dict[str, str] | None = None) -> AsyncIterator[None]:
    started = subprocess.Popen(
        argv, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await asyncio.to_thread(wait_port, port, started, what)
        yield
    finally:
        started.terminate()
        started.wait(timeout=30)


async def case_page(screenshot: Path) -> Page:
    server_port, ui_port, codec_port = free_port(), free_port(), free_port()
    ui = f"http://localhost:{ui_port}"
    dev_server = [
        server_binary("temporal"), "server", "start-dev", "--port", str(server_port), "--ui-port", str(ui_port),
        "--ui-codec-endpoint", f"http://localhost:{codec_port}", "--log-level", "error", "--ui-disable-news-fetch",
    ]  # fmt: skip
    codec = [sys.executable, "-m", "relance.cli.main", "codec-server", "--port", str(codec_port)]
    codec.append("--demo-without-token")  # the dev server's UI has no login to pass a token from
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(
            database_url=f"sqlite:///{scratch}/relance.db",
            outbox_dir=Path(scratch) / "outbox",
            policy_dir=ROOT / "tests" / "policies",
            task_queue=f"ui-{uuid.uuid4().hex[:6]}",
            documents_dir=Path(scratch) / "documents",
            letter_outbox_dir=Path(scratch) / "letters",
        )
        async with process(dev_server, ui_port, "the dev server"):
            client = await Client.connect(f"127.0.0.1:{server_port}", data_converter=data_converter)
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=client.namespace, search_attributes=attribute_types())
            )
            case = invoice("UI-1042", due=date.today() - timedelta(days=5), kind="consumer", customer=CONSUMER)
            async with build_worker(client, settings):
                handle = await start_case(client, case, settings.task_queue)
                for _ in range(300):
                    status = await handle.query("status", result_type=CaseStatus)
                    if status.steps:
                        break
                    await asyncio.sleep(0.2)
            url = f"{ui}/namespaces/default/workflows/{handle.id}/{handle.result_run_id}/history"
            async with process(codec, codec_port, "the codec server", {"RELANCE_CODEC_SERVER_ORIGINS": ui}):
                text = await browse(url, screenshot, wait_for=NAME)
            encrypted_text = await browse(url, None, wait_for="Input")
            await handle.terminate("screenshot taken")
    return Page(text, encrypted_text)


async def browse(url: str, screenshot: Path | None, wait_for: str) -> str:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1440, "height": 1100})
            await page.goto(url, wait_until="load")
            with contextlib.suppress(PlaywrightTimeout):  # what the page shows is asserted by the caller
                # the text shown, wherever it is (the first element matching may be hidden, and never turn visible)
                await page.wait_for_function("t => document.body.innerText.includes(t)", arg=wait_for, timeout=30_000)
            await page.wait_for_timeout(1000)
            if screenshot is not None:
                await page.screenshot(path=str(screenshot), full_page=False)
            return await page.inner_text("body")
        finally:
            await browser.close()


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/web-ui-decrypted-case.png")
    shown = asyncio.run(case_page(target))
    print(f"saved {target}; the page names the debtor: {NAME in shown.text}")
