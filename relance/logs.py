"""Logging for the worker and the servers: readable lines for a person, or one JSON object per line for a log
shipper (RELANCE_LOG_FORMAT=json), each naming the case, the step and Temporal's trace context (workflow,
run, activity) when the line comes from a case. Debtors' contact details are never logged, nor secrets.
"""

import logging
from typing import Any

from pythonjsonlogger.json import JsonFormatter
from temporalio import activity, workflow

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class CaseContext(logging.Filter):
    """Lifts the SDK's `temporal_workflow` / `temporal_activity` extras to flat fields: workflow_id, run_id,
    activity_id, activity_type, and case_id (the workflow's, unless the caller names the case, with its step)."""

    def filter(self, record: logging.LogRecord) -> bool:
        workflow: dict[str, Any] = getattr(record, "temporal_workflow", None) or {}
        activity: dict[str, Any] = getattr(record, "temporal_activity", None) or {}
        workflow_id = workflow.get("workflow_id") or activity.get("workflow_id")
        if workflow_id:
            record.workflow_id = workflow_id
            record.run_id = workflow.get("run_id") or activity.get("workflow_run_id")
            if not hasattr(record, "case_id"):  # a customer's account acting for a case names the case
                record.case_id = workflow_id
        if activity:
            record.activity_id = activity.get("activity_id")
            record.activity_type = activity.get("activity_type")
            record.attempt = activity.get("attempt")
        return True


def configure_logging(json_lines: bool, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(CaseContext())
    if json_lines:  # the SDK's context goes to fields, not appended to the message
        activity.logger.activity_info_on_message = False
        workflow.logger.workflow_info_on_message = False
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                reserved_attrs=[*logging.LogRecord("", 0, "", 0, "", None, None).__dict__, "message", "asctime"],
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
