"""The workflow sandbox shared by the worker and the replayer.

Pure data libraries used by workflow code (holiday tables, currency data, e-mail syntax) are passed
through: loaded once outside the sandbox instead of re-imported, and some of them read the clock at
import time (dateutil), which the sandbox rightly forbids inside a workflow.
"""

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

PASSTHROUGH = ("relance.domain", "holidays", "dateutil", "six", "babel", "email_validator", "dns", "idna", "yaml")


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))
