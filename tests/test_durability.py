"""Long-lived cases: continue-as-new keeps state and pending actions; the demo clock compresses time."""

import asyncio
from datetime import timedelta
from decimal import Decimal

from relance.domain.case import CaseStatus
from starter.executions import describe_execution
from tests.conftest import invoice, paris, terminate_all
from workflows import InvoiceCollection, RunOptions

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
    for _ in range(200):  # the case continues as new at its next turn, after its ledger write
        latest = await describe_execution(env.client, case_input.workflow_id)
        if latest.workflow_execution_info.execution.run_id != first_run:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the case never continued as new")
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
