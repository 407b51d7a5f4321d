"""Choosing a case's policy from the YAML files on disk (once per case, or when an operator re-applies)."""

import asyncio
from datetime import date
from pathlib import Path

from sqlalchemy import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from relance.domain.activity_contract import RESOLVE_POLICY
from relance.domain.invoice import CaseInput
from relance.domain.policy import NoPolicy, Policy, PolicyError, select_policy
from relance.domain.risk import assess
from relance.ledger.customer_view import payment_behaviour
from relance.policy_files import PolicyFiles


class PolicyResolution:
    def __init__(
        self, policy_dir: Path, template_dir: Path, engine: Engine | None = None, *, demo_clocks: bool = False
    ):
        self.files = PolicyFiles(policy_dir, template_dir)
        self.engine = engine
        self.demo_clocks = demo_clocks

    def policies(self) -> dict[str, Policy]:
        return self.files.policies()

    def choose(self, case: CaseInput) -> Policy:
        policies = self.policies()
        why = None
        risk_rules = any(p.selection.risk_levels for p in policies.values())
        if case.customer.risk is None and risk_rules and self.engine is not None:
            # the customer's own history, as the ledger knows it today, decides between risk-based paths
            risk = assess(payment_behaviour(self.engine, case.customer.id, date.today()))
            case = case.model_copy(update={"customer": case.customer.model_copy(update={"risk": risk.level})})
            why = f"customer risk {risk.level.value} (score {risk.score}): {'; '.join(risk.reasons)}"
        chosen = select_policy(policies, case).for_case(case.due_date)
        return chosen.model_copy(update={"selected_for": why}) if why else chosen

    @activity.defn(name=RESOLVE_POLICY)
    async def resolve_policy(self, case: CaseInput) -> Policy:
        return await asyncio.to_thread(self.policy_for, case)

    def policy_for(self, case: CaseInput) -> Policy:
        """The case's policy, or the typed refusal the workflow acts on: a demo clock on a production worker and
        an invoice no policy takes refuse the case; broken policy files are retried until ops fix them."""
        if case.clock is not None and not self.demo_clocks:
            raise ApplicationError(
                "clock: a demo clock is refused on this worker (start the worker with RELANCE_DEMO_MODE=1 "
                "for demos); production cases run on real time",
                type="DemoClockRefused",
                non_retryable=True,
            )
        try:
            return self.choose(case)
        except NoPolicy as err:
            raise ApplicationError(str(err), type="NoPolicy", non_retryable=True) from err
        except PolicyError as err:
            # A broken policy file is fixed by ops; retrying then picks up the fixed file.
            raise ApplicationError(f"policy files are invalid:\n{err}", type="PolicyError") from err
