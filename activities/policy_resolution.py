"""Choosing a case's policy from the YAML files on disk (once per case, or when an operator re-applies)."""

import asyncio
import os
from datetime import date
from pathlib import Path

from sqlalchemy import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from relance.domain.activity_contract import RESOLVE_POLICY
from relance.domain.invoice import CaseInput
from relance.domain.policy import NoPolicy, Policy, PolicyError, load_policies, select_policy
from relance.domain.risk import assess
from relance.ledger.customer_view import payment_behaviour


class PolicyResolution:
    def __init__(
        self, policy_dir: Path, template_dir: Path, engine: Engine | None = None, *, demo_clocks: bool = False
    ):
        self.policy_dir = policy_dir
        self.template_dir = template_dir
        self.engine = engine
        self.demo_clocks = demo_clocks
        self._loaded: tuple[tuple[object, ...], dict[str, Policy]] | None = None

    def policies(self) -> dict[str, Policy]:
        """The policy files, parsed again only when a file or template changed (a burst of new cases would
        otherwise re-read and re-validate every YAML file for each case)."""
        key = _files_state(self.policy_dir, self.template_dir)
        loaded = self._loaded
        if loaded is not None and loaded[0] == key:
            return loaded[1]
        policies = load_policies(self.policy_dir, self.template_dir)
        self._loaded = (key, policies)
        return policies

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


def _files_state(policy_dir: Path, template_dir: Path) -> tuple[object, ...]:
    """What changes when a policy file is added, removed or edited, or a template added or removed (a policy
    is checked against the templates that exist; their text is read when a message is written)."""
    state: list[object] = []
    for folder in (policy_dir, template_dir, *_subfolders(template_dir)):
        try:
            state.append((str(folder), folder.stat().st_mtime_ns))
        except FileNotFoundError:
            state.append((str(folder), None))
    if policy_dir.is_dir():
        for entry in sorted(os.scandir(policy_dir), key=lambda e: e.name):
            stat = entry.stat()
            state.append((entry.name, stat.st_mtime_ns, stat.st_size))
    return tuple(state)


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
