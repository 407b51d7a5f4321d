"""The workflow sandbox shared by the worker and the replayer.

Passed through (loaded once, outside the sandbox, instead of re-imported for every new workflow instance):
- `relance.domain`, the pure rules workflows decide with, and the pure data libraries they use (holiday
  tables, currency data, e-mail syntax), some of which read the clock at import time (dateutil);
- `workflows` itself: re-creating the workflow classes and their ops handlers for every new case was a third
  of a busy worker's time (issue 11's profile).

What the sandbox would have caught at run time in those modules is guarded before they run instead:
`tests/rules/test_determinism.py` reads every passed-through module of ours and refuses clocks, randomness,
environment, file, network and thread access and module-level mutable state, and import-linter keeps
workflows and the domain away from I/O libraries (pyproject.toml). Any other module a workflow imports is
still re-imported and restricted by the sandbox.
"""

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

OUR_PASSTHROUGH = ("relance.domain", "workflows")
PASSTHROUGH = (*OUR_PASSTHROUGH, "holidays", "dateutil", "six", "babel", "email_validator", "dns", "idna", "yaml")


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))
