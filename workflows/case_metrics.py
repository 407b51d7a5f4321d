"""Emitting a case's dashboard figures (relance.domain.case_metrics) through the SDK's metric meter, which
skips them while a workflow replays; the worker's runtime exports them with Temporal's own metrics."""

from collections.abc import Sequence

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from relance.domain.case_metrics import measures
    from relance.domain.case_records import HistoryEntry

DESCRIPTIONS = {
    "relance_cases_opened": "cases whose policy was chosen",
    "relance_cases_closed": "cases closed, by outcome",
    "relance_steps_failed": "policy steps that failed, by step",
    "relance_amount_collected_cents": "payments recorded on cases, in hundredths of their currency",
}


def emit(entries: Sequence[HistoryEntry], currency: str) -> None:
    meter = workflow.metric_meter()
    for measure in measures(entries, currency):
        counter = meter.create_counter(measure.name, DESCRIPTIONS.get(measure.name))
        counter.add(measure.value, measure.attributes)
