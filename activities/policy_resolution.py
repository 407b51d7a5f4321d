"""Choosing a case's policy from the YAML files on disk (once per case, or when an operator re-applies)."""

import asyncio
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from relance.invoice import CaseInput
from relance.policy import NoPolicy, Policy, PolicyError, load_policies, select_policy
from relance.steps import RESOLVE_POLICY


class PolicyResolution:
    def __init__(self, policy_dir: Path, template_dir: Path):
        self.policy_dir = policy_dir
        self.template_dir = template_dir

    def choose(self, case: CaseInput) -> Policy:
        return select_policy(load_policies(self.policy_dir, self.template_dir), case).for_case(case.due_date)

    @activity.defn(name=RESOLVE_POLICY)
    async def resolve_policy(self, case: CaseInput) -> Policy:
        try:
            return await asyncio.to_thread(self.choose, case)
        except NoPolicy as err:
            raise ApplicationError(str(err), type="NoPolicy", non_retryable=True) from err
        except PolicyError as err:
            # A broken policy file is fixed by ops; retrying then picks up the fixed file.
            raise ApplicationError(f"policy files are invalid:\n{err}", type="PolicyError") from err
