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

The SDK asks a workflow instance, for every payload sequence it encodes or decodes, which serialization context
and external-storage context the payload has; in the sandbox each question is an `exec` inside it, a fifth of a
busy worker's time (issue 38's profile). Our data converter takes no context (`DataConverter.with_context`
answers the converter itself) and stores nothing externally, so every context encodes alike: the instance
answers its workflow's own, asked of the sandbox once (`SandboxAskedOnce`). A converter that does take a context
gets the SDK's runner unchanged.
"""

from collections.abc import Sequence

from temporalio import workflow
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    SerializationContext,
    StorageDriverStoreContext,
    WorkflowSerializationContext,
)
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails, WorkflowRunner
from temporalio.worker._command_aware_visitor import CommandInfo  # the type of the SDK's question, only
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

OUR_PASSTHROUGH = ("relance.domain", "workflows")
PASSTHROUGH = (*OUR_PASSTHROUGH, "holidays", "dateutil", "six", "babel", "email_validator", "dns", "idna", "yaml")


def sandbox() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))


def workflow_runner(converter: DataConverter) -> WorkflowRunner:
    """The runner of the worker and the replayer that use `converter`."""
    return SandboxAskedOnce(sandbox()) if takes_no_context(converter) else sandbox()


def takes_no_context(converter: DataConverter) -> bool:
    """Whether every serialization context gives `converter` itself (none of its parts reads one), and it keeps
    no payload in external storage: then the contexts the SDK asks for cannot change a byte it encodes."""
    probes: list[SerializationContext] = [
        WorkflowSerializationContext(namespace="probe", workflow_id="probe"),
        ActivitySerializationContext(
            namespace="probe",
            workflow_id="probe",
            workflow_type="probe",
            activity_type="probe",
            activity_task_queue="probe",
            activity_id="probe",
            is_local=False,
        ),
    ]
    return converter.external_storage is None and all(converter.with_context(c) is converter for c in probes)


class SandboxAskedOnce(WorkflowRunner):
    """The SDK's sandbox, whose instances are asked their payload contexts once, not once per payload sequence."""

    def __init__(self, inner: SandboxedWorkflowRunner) -> None:
        self.inner = inner
        self.restrictions = inner.restrictions  # what tests/rules/test_determinism.py reads

    def prepare_workflow(self, defn: workflow._Definition) -> None:
        self.inner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _AskedOnce(self.inner.create_instance(det))

    def set_worker_level_failure_exception_types(self, types: Sequence[type[BaseException]]) -> None:
        self.inner.set_worker_level_failure_exception_types(types)


class _AskedOnce(WorkflowInstance):
    def __init__(self, inner: WorkflowInstance) -> None:
        self.inner = inner
        self._context: SerializationContext | None = None
        self._store: StorageDriverStoreContext | None = None

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        return self.inner.activate(act)

    def get_serialization_context(self, command_info: CommandInfo | None) -> SerializationContext | None:
        if self._context is None:
            self._context = self.inner.get_serialization_context(None)  # the workflow's own
        return self._context

    def get_external_store_context(self, command_info: CommandInfo | None) -> StorageDriverStoreContext:
        if self._store is None:
            self._store = self.inner.get_external_store_context(None)
        return self._store

    def get_info(self) -> workflow.Info:
        return self.inner.get_info()

    def get_thread_id(self) -> int | None:
        return self.inner.get_thread_id()
