"""Describing a workflow execution without decoding its search attributes.

`WorkflowHandle.describe()` decodes every search attribute, and the time-skipping test server stores a
cleared Datetime attribute as a null that the SDK cannot decode; callers here need only status and runs.
"""

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest, DescribeWorkflowExecutionResponse
from temporalio.client import Client, WorkflowExecutionStatus


async def describe_execution(client: Client, workflow_id: str) -> DescribeWorkflowExecutionResponse:
    """The latest run of `workflow_id`; RPCError NOT_FOUND when there is none."""
    return await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )


async def execution_status(client: Client, workflow_id: str) -> WorkflowExecutionStatus:
    described = await describe_execution(client, workflow_id)
    return WorkflowExecutionStatus(described.workflow_execution_info.status)
