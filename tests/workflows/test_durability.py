"""Long-lived cases: continue-as-new keeps state and pending actions; the demo clock compresses time."""

import asyncio
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.api.enums.v1 import EventType
from temporalio.worker import Replayer, Worker

from relance.domain.case_view import CaseStatus
from relance.ledger.db import CaseEvent, engine_for
from starter.executions import describe_execution
from tests.builders import invoice, paris
from tests.conftest import terminate_all, until_idle
from tests.patch_probe import PinnedPatchProbe, RetiredPatchProbe, UnpinnedPatchProbe
from workflows import InvoiceCollection, RunOptions
from workflows.patches import GENERATION, IMPLIED

START = paris(2026, 4, 20, 8)


async def test_continue_as_new_keeps_state_and_actions_sent_meanwhile(env, worker):
    case_input = invoice("CAN-1", starts_at=START)
    handle = await env.client.start_workflow(
        InvoiceCollection.run,
        args=[case_input, RunOptions(continue_as_new_after_events=25)],
        id=case_input.workflow_id,
        task_queue=worker.task_queue,
    )
    first_run = handle.result_run_id
    for n in range(30):
        await handle.signal("payment_received", {"amount": "10", "paid_on": "2026-04-20", "reference": f"B{n}"})
    await handle.execute_update("dispute_opened", {"reason": "checking the burst"})
    await until_continued(env.client, case_input.workflow_id, first_run)  # at its next turn, after its ledger write
    status = await handle.query("status", await env.get_current_time(), result_type=CaseStatus)
    assert status.balance == Decimal("950.00")
    assert [h.data["reference"] for h in status.history if h.event == "payment_received"] == [
        f"B{n}" for n in range(30)
    ]
    assert status.stage == "disputed"
    await handle.execute_update("dispute_resolved", {"outcome": "rejected"})
    final = await handle.execute_update(
        "payment_received", {"amount": "950", "paid_on": "2026-04-20", "reference": "LAST"}, result_type=CaseStatus
    )
    assert (final.outcome, final.total_paid) == ("paid", Decimal("1250"))
    await terminate_all(env.client, [env.client.get_workflow_handle(case_input.workflow_id)])


async def test_a_continued_case_carries_only_its_recent_history_and_the_ledger_keeps_it_all(env, worker):
    """An accepted action adds to the case's history for life: carried whole, thousands of them would push the
    continued run's state past Temporal's payload limit. The ledger has every entry, so a run carries the
    most recent ones."""
    case_input = invoice("CAN-2", starts_at=START)
    handle = await env.client.start_workflow(
        InvoiceCollection.run,
        args=[case_input, RunOptions(continue_as_new_after_events=25, keep_history=5)],
        id=case_input.workflow_id,
        task_queue=worker.task_queue,
    )
    first_run = handle.result_run_id
    for n in range(30):
        await handle.signal("payment_received", {"amount": "10", "paid_on": "2026-04-20", "reference": f"T{n}"})
    await until_continued(env.client, case_input.workflow_id, first_run)
    # sent while the continued run may still be writing its ledger: the entry is written all the same
    paid = await handle.execute_update(
        "payment_received", {"amount": "10", "paid_on": "2026-04-20", "reference": "AFTER"}, result_type=CaseStatus
    )
    assert (paid.balance, len(paid.payments)) == (Decimal("940.00"), 31)
    # the run carried the 5 most recent entries plus any the ledger had not yet taken: far from all 34
    assert len(paid.history) < 20 and paid.history[0].event != "case_opened"
    assert paid.history[-1].data["reference"] == "AFTER"
    for _ in range(200):  # the ledger write follows the update in the case's next turn
        await until_idle(env.client, case_input.workflow_id)
        with Session(engine_for(worker.database_url)) as session:
            events = session.execute(
                select(CaseEvent.seq, CaseEvent.event, CaseEvent.data).where(
                    CaseEvent.case_id == case_input.workflow_id
                )
            ).all()
        if any(data.get("reference") == "AFTER" for _, _, data in events):
            break
        await asyncio.sleep(0.05)
    seqs = sorted(seq for seq, _, _ in events)
    assert seqs == list(range(len(seqs)))  # no gap, no duplicate across the runs
    assert [data["reference"] for _, event, data in sorted(events) if event == "payment_received"] == [
        *(f"T{n}" for n in range(30)),
        "AFTER",
    ]
    opened = [event for _, event, _ in sorted(events)][:2]
    assert opened == ["case_opened", "policy_resolved"]
    await terminate_all(env.client, [env.client.get_workflow_handle(case_input.workflow_id)])


async def test_demo_clock_compresses_days_into_seconds(env, open_case):
    # One case day lasts 60 real seconds: 27 April, 09:00 is 7 days and 1 hour after the start.
    case = await open_case(
        invoice("DEMO-1", starts_at=START, clock={"seconds_per_day": 60, "starts_at": START.isoformat()})
    )
    await env.sleep(timedelta(seconds=7 * 60 + 3))
    status = await case.status()
    # real time also runs while the test works (each real second is 24 case minutes): bounds a loaded machine
    # cannot miss, which still tell 7 case days in 7 real minutes from anything else
    assert paris(2026, 4, 27, 9, 3) <= status.as_of < paris(2026, 4, 28)
    (courtesy,) = status.steps
    # its 09:00 slot; each real second the worker takes to send is 24 case minutes on this clock
    assert (courtesy.step_id, courtesy.status) == ("courtesy", "done")
    assert paris(2026, 4, 27, 9) <= courtesy.at < paris(2026, 4, 27, 12)


async def test_a_new_case_records_one_patch_marker_for_its_generation_not_one_per_patch(env, open_case):
    case = await open_case(invoice("GEN-1", starts_at=START))
    await case.status()
    patches, upserts, local_activities, activities = [], 0, 0, 0
    async for event in case.handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == "core_patch":
                (details,) = marker.details.values()
                patches.append(json.loads(details.payloads[0].data)["id"])
            local_activities += marker.marker_name == "core_local_activity"
        upserts += event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
        activities += event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    assert patches == [GENERATION]
    # the generation answered its patches True without their markers: open-with-policy-v1's branch chose the
    # case's policy and wrote its ledger in one local activity
    assert {"open-with-policy-v1", "keep-moved-cursor-v1"} <= IMPLIED
    assert (local_activities, activities) == (1, 0)
    # the generation's TemporalChangeVersion upsert and the case's own attributes, not one per patch asked
    assert upserts == 2


async def test_a_workflow_that_asks_an_implied_patch_without_pinning_the_generation_fails_its_task(env):
    """Unpinned, the generation marker would be written at the first implied patch, mid-run, and a replayed
    old workflow would switch branches there: `patched` fails the task instead, naming the fix."""
    async with Worker(env.client, task_queue="patch-probe", workflows=[PinnedPatchProbe, UnpinnedPatchProbe]):
        pinned = await env.client.execute_workflow(PinnedPatchProbe.run, id="probe-pinned", task_queue="patch-probe")
        assert pinned is True
        unpinned = await env.client.start_workflow(
            UnpinnedPatchProbe.run, id="probe-unpinned", task_queue="patch-probe"
        )
        failure = None
        for _ in range(200):
            async for event in unpinned.fetch_history_events():
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                    failure = event.workflow_task_failed_event_attributes.failure.message
            if failure is not None:
                break
            await asyncio.sleep(0.05)
        await unpinned.terminate(reason="test finished")
    assert failure == (
        f"UnpinnedPatchProbe asked patch 'recovery-once-v1', implied by {GENERATION}, without pinning the generation:"
        " call pin_generation(self) first thing in its workflow.init"
    )


async def test_a_history_without_a_generation_marker_is_refused_by_name_not_replayed_on_guessed_branches(env):
    """Generations v1-v12 are retired: their cases recorded no generation marker, and this code no longer has
    their branches. Replaying one fails its task (Temporal retries it) with what to do."""
    async with Worker(env.client, task_queue="patch-probe", workflows=[RetiredPatchProbe]):
        old = await env.client.start_workflow(RetiredPatchProbe.run, id="probe-retired", task_queue="patch-probe")
        assert await old.result() is True
    history = await old.fetch_history()
    result = await Replayer(workflows=[PinnedPatchProbe]).replay_workflow(history, raise_on_replay_failure=False)
    refusal = (
        "PinnedPatchProbe probe-retired was started before generation markers (generation-v13): its generation"
        " is retired from this release; run it on the release before, or let it close first"
    )
    assert f'Failure {{ message: "{refusal}"' in str(result.replay_failure)


async def until_continued(client: Any, workflow_id: str, first_run: str | None) -> None:
    """Wait until the case has continued as new: its current run is no longer `first_run`."""
    for _ in range(200):
        latest = await describe_execution(client, workflow_id)
        if latest.workflow_execution_info.execution.run_id != first_run:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the case never continued as new")
