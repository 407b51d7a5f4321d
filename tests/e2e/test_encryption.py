"""Debtor data encrypted in Temporal (issue: production): the key ring, rotation, a case whose history holds no
personal data in clear, and the codec server the Web UI decrypts through."""

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload

from relance.converter import data_converter_for, key_ring
from relance.encryption import (
    ENCRYPTED,
    EncryptionCodec,
    KeyRingError,
    UndecryptablePayload,
    new_key_line,
    parse_ring,
    ring_from_environment,
)
from relance.settings import Settings
from starter.executions import describe_execution
from starter.importer import start_case
from tests.builders import ROOT, invoice, paris
from tests.conftest import TEST_KEY_RING, Case

K1 = "k1:" + base64.b64encode(b"1" * 32).decode()
K2 = "k2:" + base64.b64encode(b"2" * 32).decode()
K1_OTHER = "k1:" + base64.b64encode(b"x" * 32).decode()


# ---- the ring ----------------------------------------------------------------------------------------------

RING_ERRORS = [
    ("", "RELANCE_CODEC_KEYS holds no key"),
    ("k1", "RELANCE_CODEC_KEYS: entry 1 is not `id:base64key`"),
    (f"{K1},bad id:{K1[3:]}", "RELANCE_CODEC_KEYS: entry 2 is not `id:base64key`"),
    (f"{K1},{K1}", "RELANCE_CODEC_KEYS: key id k1 appears twice"),
    ("k1:not base64!", "RELANCE_CODEC_KEYS: key k1 is not base64"),
    ("k1:" + base64.b64encode(b"short").decode(), "RELANCE_CODEC_KEYS: key k1 is 5 bytes; AES-256 needs 32"),
]


@pytest.mark.parametrize(("text", "message"), RING_ERRORS)
def test_a_ring_that_cannot_be_used_is_refused_naming_the_entry_never_the_key(text, message):
    with pytest.raises(KeyRingError) as refused:
        parse_ring(text, "RELANCE_CODEC_KEYS")
    assert str(refused.value).startswith(message)
    assert K1[3:] not in str(refused.value)


def test_the_current_key_is_the_named_one_else_the_last():
    assert parse_ring(f"{K1},{K2}", "x").current == "k2"
    assert parse_ring(f"# old first\n{K1}\n{K2}\n", "x", current="k1").current == "k1"
    with pytest.raises(KeyRingError, match="RELANCE_CODEC_KEY_ID names 'k3', which x does not hold"):
        parse_ring(f"{K1},{K2}", "x", current="k3")
    ring = parse_ring(K1, "x")
    assert repr(ring) == "KeyRing(ids=['k1'], current='k1')" and K1[3:] not in str(ring)


def test_keys_come_from_the_environment_or_a_file_and_missing_keys_stop_the_process(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(f"{K1}\n{K2}\n")
    assert ring_from_environment(None, keys, None) == parse_ring(f"{K1},{K2}", "f")
    with pytest.raises(KeyRingError, match="set RELANCE_CODEC_KEYS or RELANCE_CODEC_KEYS_FILE, not both"):
        ring_from_environment(K1, keys, None)
    with pytest.raises(KeyRingError, match=r"RELANCE_CODEC_KEYS_FILE .*/absent: cannot be read"):
        ring_from_environment(None, tmp_path / "absent", None)
    required = Settings(codec_keys=None, codec_keys_file=None)
    with pytest.raises(KeyRingError, match="payload encryption is required and no key is set"):
        data_converter_for(required)
    assert key_ring(Settings(codec_keys=None, payload_encryption="off")) is None
    assert key_ring(Settings()) is not None  # the tests' own ring, from the environment


def test_a_new_key_line_is_a_usable_ring_entry():
    line = new_key_line("2026-11")
    assert parse_ring(line, "x").current == "2026-11" and new_key_line("2026-11") != line
    with pytest.raises(KeyRingError, match="key id 'a b'"):
        new_key_line("a b")


# ---- the codec: rotation ------------------------------------------------------------------------------------


def clear(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


async def test_a_rotated_ring_still_reads_old_payloads_and_writes_with_the_new_key():
    old = EncryptionCodec(parse_ring(K1, "x"))
    rotated = EncryptionCodec(parse_ring(f"{K1},{K2}", "x"))
    [sealed] = await old.encode([clear("Dupont")])
    assert sealed.metadata["encoding"] == ENCRYPTED and sealed.metadata["encryption-key-id"] == b"k1"
    assert b"Dupont" not in sealed.data
    assert await rotated.decode([sealed]) == [clear("Dupont")]
    [new] = await rotated.encode([clear("Dupont")])
    assert new.metadata["encryption-key-id"] == b"k2"
    again = await rotated.encode([clear("Dupont")])
    assert again[0].data != new.data  # a fresh nonce every time
    with pytest.raises(UndecryptablePayload, match="encrypted with key 'k2', which the ring \\(k1\\) does not hold"):
        await old.decode([new])
    with pytest.raises(UndecryptablePayload, match="the key was changed under the same id"):
        await EncryptionCodec(parse_ring(K1_OTHER, "x")).decode([sealed])
    assert await old.decode([clear("written before encryption")]) == [clear("written before encryption")]


# ---- a case on the server: no personal data in clear --------------------------------------------------------

CONSUMER = {
    "id": "P-1042",
    "kind": "consumer",
    "name": "Camille Rousseau-Lefèvre",
    "email": "camille.rousseau@perso.example",
    "address": {"line1": "17 allée des Tilleuls", "postal_code": "69003", "city": "Lyon", "country": "FR"},
}
PERSONAL = ["Camille Rousseau-Lefèvre", "Rousseau", "camille.rousseau@perso.example", "allée des Tilleuls", "Tilleuls"]


def payloads_in(message: Message) -> Iterator[tuple[str, Payload]]:
    """Every Payload anywhere in a protobuf message, with the path of the field that holds it."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            values = list(value.values()) if field.message_type.fields_by_name["value"].message_type else []
        else:
            values = [value] if isinstance(value, Message) else list(value)
        for item in values:
            if isinstance(item, Payload):
                yield field.name, item
            elif isinstance(item, Message):
                for path, found in payloads_in(item):
                    yield f"{field.name}.{path}", found


def leaks(data: bytes) -> list[str]:
    return [p for p in PERSONAL if p.encode() in data or p.encode("unicode_escape") in data]


async def test_a_case_history_read_raw_from_the_server_holds_no_personal_data_in_clear(env, worker):
    started = paris(2026, 5, 2, 8)
    case_input = invoice("ENC-1", due=date(2026, 4, 30), starts_at=started, kind="consumer", customer=CONSUMER)
    handle = await start_case(env.client, case_input, worker.task_queue)
    case = Case(env, handle)
    await case.advance_to(paris(2026, 5, 12, 12))  # the first reminder has left
    status = await case.status()
    assert [s.step_id for s in status.steps if s.status == "done"], status.steps
    assert status.customer_email == CONSUMER["email"]  # a client with the ring reads the case in clear

    history = await handle.fetch_history()
    found = [(path, p) for event in history.events for path, p in payloads_in(event)]
    searchable = [(path, p) for path, p in found if "search_attributes" in path]
    encrypted = [(path, p) for path, p in found if "search_attributes" not in path]
    assert len(encrypted) >= 15 and searchable  # the case's input, state, activities' inputs and results...
    # in clear: only the SDK's own bookkeeping in markers (a patch's id, a local activity's type and times)
    bookkeeping = [{"id", "deprecated"}, {"seq", "attempt", "activity_id", "activity_type", "complete_time",
                   "backoff", "original_schedule_time", "activation_index"}]  # fmt: skip
    in_clear = [(path, p) for path, p in encrypted if p.metadata.get("encoding") != ENCRYPTED]
    assert {path for path, _ in in_clear} == {"marker_recorded_event_attributes.details.payloads"}
    assert [set(json.loads(p.data)) for _, p in in_clear if set(json.loads(p.data)) not in bookkeeping] == []
    assert len(in_clear) < len(encrypted) / 2
    assert [(path, leaks(p.SerializeToString())) for path, p in found if leaks(p.SerializeToString())] == []
    assert leaks(history.to_json().encode()) == []
    outbox = list(worker.outbox_dir.glob("*.eml"))
    assert outbox and CONSUMER["email"] in outbox[0].read_text(encoding="utf-8")  # what left was in clear

    described = await describe_execution(env.client, handle.id)
    summary = described.execution_config.user_metadata.summary
    assert summary.metadata["encoding"] == ENCRYPTED and leaks(described.SerializeToString()) == []
    details = await handle.query("__temporal_workflow_metadata")
    assert "**Balance:** 1250.00 EUR" in str(details) and leaks(str(details).encode()) == []
    await codec_server_decodes(history_payload(found), CONSUMER["name"])


def history_payload(found: list[tuple[str, Payload]]) -> Payload:
    return next(p for path, p in found if path.startswith("workflow_execution_started_event_attributes.input"))


# ---- the codec server ---------------------------------------------------------------------------------------

UI = "http://localhost:8233"
TOKEN = "ui-token-for-tests"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_codec_server(port: int, **environment: str) -> subprocess.Popen[str]:
    env = {**os.environ, "RELANCE_CODEC_SERVER_TOKENS": f"old-token,{TOKEN}", **environment}
    return subprocess.Popen(
        [sys.executable, "-m", "relance.cli.main", "codec-server", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_listening(port: int, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(server.communicate()[1])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the codec server did not listen")


def as_json(payload: Payload) -> dict[str, object]:
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
                "data": base64.b64encode(payload.data).decode(),
            }
        ]
    }


async def codec_server_decodes(payload: Payload, expected: str) -> None:
    port = free_port()
    server = start_codec_server(port)
    try:
        await asyncio.to_thread(wait_listening, port, server)
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            body = as_json(payload)
            headers = {"Authorization": f"Bearer {TOKEN}", "Origin": UI, "X-Namespace": "default"}
            decoded = await http.post("/decode", json=body, headers=headers)
            assert decoded.status_code == 200, decoded.text
            assert decoded.headers["access-control-allow-origin"] == UI
            [result] = decoded.json()["payloads"]
            assert base64.b64decode(result["metadata"]["encoding"]) == b"json/plain"
            assert expected in base64.b64decode(result["data"]).decode()

            refused = await http.post("/decode", json=body, headers={"Origin": UI})
            assert (refused.status_code, refused.json()["detail"]) == (
                401,
                "a bearer token of RELANCE_CODEC_SERVER_TOKENS is required",
            )
            wrong = await http.post("/decode", json=body, headers={"Authorization": "Bearer guess"})
            assert wrong.status_code == 401
            assert (await http.post("/decode", content=b"{", headers=headers)).status_code == 400

            preflight = {"Origin": UI, "Access-Control-Request-Method": "POST",
                         "Access-Control-Request-Headers": "authorization,content-type,x-namespace"}  # fmt: skip
            allowed = await http.options("/decode", headers=preflight)
            assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == UI
            elsewhere = await http.options("/decode", headers={**preflight, "Origin": "https://evil.example"})
            assert elsewhere.status_code == 400 and "access-control-allow-origin" not in elsewhere.headers

            encoded = await http.post("/encode", json=decoded.json(), headers=headers)
            [sealed] = encoded.json()["payloads"]
            assert base64.b64decode(sealed["metadata"]["encoding"]) == ENCRYPTED
    finally:
        server.terminate()
        _, log = server.communicate(timeout=30)
    assert TOKEN not in log and TEST_KEY_RING.split(":")[1] not in log, log


def test_the_codec_server_refuses_to_start_without_tokens():
    server = start_codec_server(free_port(), RELANCE_CODEC_SERVER_TOKENS="")
    _, err = server.communicate(timeout=60)
    assert server.returncode == 1
    assert "the codec server needs RELANCE_CODEC_SERVER_TOKENS" in err


# ---- the Web UI, in a real browser ---------------------------------------------------------------------------


async def test_the_web_ui_shows_a_case_decrypted_through_the_codec_server_and_nothing_without_it(tmp_path):
    from tests.web_ui import CONSUMER as SHOWN
    from tests.web_ui import case_page

    page = await case_page(tmp_path / "case.png")
    assert str(SHOWN["name"]) in page.text and str(SHOWN["email"]) in page.text and "Input" in page.text
    assert (tmp_path / "case.png").stat().st_size > 10_000
    assert "Input" in page.encrypted_text and "invoice-UI-1042" in page.encrypted_text
    assert str(SHOWN["name"]) not in page.encrypted_text and str(SHOWN["email"]) not in page.encrypted_text


# ---- a worker with the wrong ring stops at start, not at its first case ----------------------------------------


async def test_a_worker_whose_ring_cannot_read_the_server_refuses_to_start(tmp_path):
    from tests.conftest import dev_server_environment

    async with dev_server_environment() as environment:
        address = environment.client.service_client.config.target_host
        await environment.client.start_workflow("InvoiceCollection", {"a": 1}, id="invoice-KEY-1", task_queue="none")

        def worker(ring: str) -> subprocess.CompletedProcess[str]:
            ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
            env = {
                **os.environ,
                "TEMPORAL_ADDRESS": address,
                "RELANCE_CODEC_KEYS": ring,
                "RELANCE_DATABASE_URL": ledger,
            }
            return subprocess.run(
                [sys.executable, "-m", "relance.cli.main", "worker"], env=env, cwd=ROOT, capture_output=True,
                text=True, timeout=60,
            )  # fmt: skip

        other_key = "test-1:" + base64.b64encode(b"o" * 32).decode()
        refused = await asyncio.to_thread(worker, other_key)
        assert refused.returncode == 1
        assert (
            "the key ring cannot read workflow invoice-KEY-1: a payload encrypted with key 'test-1' does not decrypt "
            "with the ring's 'test-1': the key was changed under the same id"
        ) in " ".join(refused.stderr.split())
        rotated_away = await asyncio.to_thread(worker, K2)
        assert rotated_away.returncode == 1
        assert "encrypted with key 'test-1', which the ring (k2) does not hold" in " ".join(rotated_away.stderr.split())
        assert other_key.split(":")[1] not in refused.stderr + refused.stdout
        missing = await asyncio.to_thread(worker, "")
        assert missing.returncode == 1
        assert "payload encryption is required and no key is set" in " ".join(missing.stderr.split())
