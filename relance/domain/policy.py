"""Collection policies: the YAML schema, loading with located errors, and selection for a case."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, StrictInt, ValidationError, ValidationInfo, model_validator

from relance.domain.calendar import CalendarSpec
from relance.domain.direct_debit import DirectDebitRules
from relance.domain.invoice import CaseInput, CustomerKind, Language, Strict
from relance.domain.limits import CURRENCIES
from relance.domain.penalties import Imputation
from relance.domain.risk import RiskLevel

SLUG = r"^[a-z0-9][a-z0-9_-]*$"
MAX_STAGE = 50  # a stage is a word shown in lists and the Temporal UI


class StepAction(StrEnum):
    email = "email"
    phone_task = "phone_task"
    formal_notice = "formal_notice"  # mise en demeure by registered letter
    injonction_dossier = "injonction_dossier"  # court dossier, filed by a person
    agency_handoff = "agency_handoff"  # the case goes to a collection agency
    letter = "letter"  # an ordinary reminder letter by post (the e-mail's words), for a debtor e-mail cannot reach
    sms = "sms"  # a short reminder to the debtor's mobile (templates/sms/)


# Escalations: refused once the claim is time-barred; the last two stop our own chasing.
LEGAL_ACTIONS = frozenset({StepAction.formal_notice, StepAction.injonction_dossier, StepAction.agency_handoff})
AFTER_FORMAL_NOTICE = frozenset({StepAction.injonction_dossier, StepAction.agency_handoff})

# Where the text for each action is rendered from (templates/<channel>/<template>.<lang>.j2).
TEMPLATE_CHANNEL: dict[StepAction, str] = {
    StepAction.email: "email",
    StepAction.letter: "email",  # the same words as the e-mail, on paper
    StepAction.sms: "sms",
    StepAction.phone_task: "phone",
    StepAction.formal_notice: "letter",
    StepAction.injonction_dossier: "task",
    StepAction.agency_handoff: "task",
}
DEFAULT_STAGE: dict[StepAction, str] = {
    StepAction.formal_notice: "formal_notice",
    StepAction.injonction_dossier: "court",
    StepAction.agency_handoff: "agency",
}


class StepConditions(Strict):
    min_balance: Decimal | None = Field(default=None, ge=0, description="skip the step below this balance")
    customer_kinds: list[CustomerKind] | None = None


class Step(Strict):
    id: str = Field(pattern=SLUG)
    offset_days: StrictInt = Field(ge=-60, le=3650, description="days relative to the due date; negative = before")
    action: StepAction
    template: str = Field(pattern=SLUG)
    stage: str | None = Field(default=None, pattern=SLUG, description="stage shown once this step ran")
    assignee: str = Field(default="collections", min_length=1, description="who gets the task (manual steps)")
    conditions: StepConditions = Field(default_factory=StepConditions)

    @property
    def stage_name(self) -> str:
        return self.stage or DEFAULT_STAGE.get(self.action) or ("pre_due" if self.offset_days < 0 else "reminder")


class Selection(Strict):
    priority: int = 0
    customer_kinds: list[CustomerKind] = Field(default_factory=list, description="empty = any")
    segments: list[str] = Field(default_factory=list, description="empty = any")
    currencies: list[str] = Field(default_factory=list, description="empty = any")
    min_amount: Decimal | None = Field(default=None, ge=0)
    max_amount: Decimal | None = Field(default=None, gt=0)
    risk_levels: list[RiskLevel] = Field(default_factory=list, description="customer risk; empty = any")

    @model_validator(mode="after")
    def _range(self) -> "Selection":
        if self.min_amount is not None and self.max_amount is not None and self.min_amount > self.max_amount:
            raise ValueError(f"min_amount {self.min_amount} is above max_amount {self.max_amount}")
        return self

    def mismatch(self, case: CaseInput) -> str | None:
        """Why this policy does not fit the case, or None when it does."""
        customer = case.customer
        if self.customer_kinds and customer.kind not in self.customer_kinds:
            return f"customer kind {customer.kind.value} not in {[k.value for k in self.customer_kinds]}"
        if self.segments and customer.segment not in self.segments:
            return f"segment {customer.segment!r} not in {self.segments}"
        if self.currencies and case.currency not in self.currencies:
            return f"currency {case.currency} not in {self.currencies}"
        if self.min_amount is not None and case.amount < self.min_amount:
            return f"amount {case.amount} below {self.min_amount}"
        if self.max_amount is not None and case.amount > self.max_amount:
            return f"amount {case.amount} above {self.max_amount}"
        if self.risk_levels and customer.risk not in self.risk_levels:
            return f"customer risk {customer.risk.value if customer.risk else 'unknown'} not in {self.risk_levels}"
        return None


class PromiseRules(Strict):
    grace_days: int = Field(default=2, ge=0, le=60, description="days a promise is trusted after its date")
    on_broken: str | None = Field(default=None, description="step to jump to when a promise is broken")


class PlanRules(Strict):
    grace_days: int = Field(default=3, ge=0, le=60)
    on_missed: str | None = Field(default=None, description="step to jump to when an installment is missed")
    reminder_days_before: int | None = Field(default=3, ge=0, le=30, description="None: no reminder")
    reminder_template: str = Field(default="installment_reminder", pattern=SLUG)
    max_installments: int = Field(default=12, ge=1, le=120)


class PortalRules(Strict):
    """What the debtor's own page may agree to alone (relance/domain/debtor_requests.py); beyond it, a person."""

    promise_days: int = Field(default=30, ge=0, le=365, description="a promise up to this many days ahead is taken")
    promises: int = Field(default=2, ge=0, le=20, description="promises per invoice the page takes alone")
    plan_installments: int = Field(
        default=6, ge=0, le=120, description="installments the page takes alone (0: a person decides every plan)"
    )
    paid_days: int = Field(default=5, ge=1, le=30, description="days 'I have paid' stops the chase for the bank")


class EInvoicingRules(Strict):
    """How the e-invoicing platform's statuses change the path (relance/domain/einvoicing.py)."""

    require_receipt: bool = Field(
        default=False, description="no reminder before the platform says the buyer received it (202 or 203)"
    )
    payment_sent_days: int = Field(
        default=7, ge=1, le=60, description="days '211 paiement transmis' holds the chase for the money to arrive"
    )


class SettlementRules(Strict):
    grace_days: int = Field(default=3, ge=0, le=60, description="days after pay_by before an offer lapses")
    on_lapsed: str | None = Field(default=None, description="step to jump to when an offer lapses unpaid")


class ReplyRules(Strict):
    """A debtor who answers is read by a person before the chase goes on."""

    pause_days: int = Field(default=5, ge=0, le=60, description="days a reply stops the chase (0: never)")


class AfterRecovery(Strict):
    """What follows a payment that came late in the process: the relationship matters after the money."""

    from_step: str = Field(description="a case paid after this step ran (or a later one) counts as recovered")
    thank_you: bool = Field(default=True, description="send the debtor a thank-you and confirmation")
    thank_you_template: str = Field(default="payment_thanks", pattern=SLUG)
    follow_up_assignee: str | None = Field(
        default="account_manager", description="who gets a relationship follow-up task; None: no task"
    )
    follow_up_template: str = Field(default="relationship_followup", pattern=SLUG)


class AgencyDelivery(Strict):
    kind: Literal["folder", "http"]
    path: str | None = Field(default=None, description="folder: where case files are written")
    url: str | None = Field(default=None, description="http: where case files are POSTed (JSON)")

    @model_validator(mode="after")
    def _target(self) -> "AgencyDelivery":
        if self.kind == "folder" and not self.path:
            raise ValueError("a folder delivery needs a path")
        if self.kind == "http" and not (self.url and self.url.startswith(("http://", "https://"))):
            raise ValueError("an http delivery needs an http(s) url")
        return self


class Agency(Strict):
    name: str = Field(min_length=1)
    # The written mandate (CPCE R124-3). Without it the hand-off refuses to run.
    mandate_reference: str | None = None
    commission_rate: Decimal = Field(ge=0, le=100, description="percent of what the agency collects")
    delivery: AgencyDelivery


class LegalRules(Strict):
    formal_notice_deadline_days: int = Field(default=8, ge=1, le=60, description="counted from delivery")
    small_claims: bool = Field(default=False, description="use the small-claims route for claims up to 5000 EUR")
    imputation: Imputation = Imputation.interest_first
    agency: Agency | None = None
    warn_days_before_limitation: int | None = Field(
        default=None, ge=1, le=365, description="a task for a person this many days before the claim is time-barred"
    )


class EndRules(Strict):
    close_after_days: int = Field(default=30, ge=0, description="open days after the last step, for payments")


# A dispute's outcome is told to the debtor with email/dispute_<outcome> (relance.domain.case.DebtorNotice).
DISPUTE_OUTCOMES = ("rejected", "partially_accepted", "accepted")
SETTLEMENT_OFFER_TEMPLATE = "settlement_offer"  # the terms of a settlement offer or early-payment discount


class PauseRule(Strict):
    on_resume: Literal["continue", "catch_up"] = Field(
        default="continue",
        description="continue: the steps still ahead move later by the time spent paused; catch_up: they keep "
        "their dates and only the latest missed one runs",
    )


class PauseRules(Strict):
    """What a pause does to the policy's clock, per kind of pause (promises and plans have their own jumps)."""

    dispute: PauseRule = Field(default_factory=PauseRule)
    manual: PauseRule = Field(default_factory=PauseRule)
    customer_hold: PauseRule = Field(default_factory=PauseRule)


class Policy(Strict):
    name: str = Field(pattern=SLUG)
    version: int = Field(ge=1)
    description: str = ""
    selection: Selection = Field(default_factory=Selection)
    calendar: CalendarSpec = Field(default_factory=CalendarSpec)
    min_days_between_steps: int = Field(default=3, ge=0, le=60)
    steps: list[Step] = Field(min_length=1)
    promise: PromiseRules = Field(default_factory=PromiseRules)
    payment_plan: PlanRules = Field(default_factory=PlanRules)
    settlement: SettlementRules = Field(default_factory=SettlementRules)
    replies: ReplyRules = Field(default_factory=ReplyRules)
    portal: PortalRules = Field(default_factory=PortalRules)
    einvoicing: EInvoicingRules = Field(default_factory=EInvoicingRules)
    after_recovery: AfterRecovery | None = None
    on_payment_returned: str | None = Field(
        default=None, description="step chasing resumes at when a payment comes back (default: the final reminder)"
    )
    end: EndRules = Field(default_factory=EndRules)
    legal: LegalRules = Field(default_factory=LegalRules)
    pauses: PauseRules = Field(default_factory=PauseRules)
    direct_debit: DirectDebitRules | None = Field(
        default=None, description="returned SEPA direct debits: presented again, or another means asked for"
    )
    selected_for: str | None = Field(default=None, description="set when chosen: why (e.g. the customer's risk)")

    @model_validator(mode="after")
    def _sane_when_written(self, info: ValidationInfo) -> "Policy":
        """What a policy file may not say, checked when the file is read (`parse_policy`), not when a case's
        stored copy is decoded: a case started under an older, laxer reader must still replay."""
        if not (info.context or {}).get("policy_file"):
            return self
        for index, step in enumerate(self.steps):
            if step.stage is not None and len(step.stage) > MAX_STAGE:
                raise ValueError(f"@steps[{index}].stage: at most {MAX_STAGE} characters, not {len(step.stage):,}")
        for index, code in enumerate(self.selection.currencies):
            if code not in CURRENCIES:
                raise ValueError(f"@selection.currencies[{index}]: {code[:20]!r} is not an ISO 4217 currency code")
        return self

    @model_validator(mode="after")
    def _coherent_steps(self) -> "Policy":
        # Messages start with "@<path>: " so that policy files report the exact line (see parse_policy).
        ids = [step.id for step in self.steps]
        for index, step_id in enumerate(ids):
            if step_id in ids[:index]:
                raise ValueError(f"@steps[{index}].id: step id {step_id!r} is used twice")
        for index in range(1, len(self.steps)):
            before, after = self.steps[index - 1], self.steps[index]
            if after.offset_days < before.offset_days:
                raise ValueError(
                    f"@steps[{index}].offset_days: steps must be in offset order: {after.id} "
                    f"({after.offset_days}) comes after {before.id} ({before.offset_days})"
                )
        for where, target in (
            ("promise.on_broken", self.promise.on_broken),
            ("payment_plan.on_missed", self.payment_plan.on_missed),
            ("settlement.on_lapsed", self.settlement.on_lapsed),
            ("on_payment_returned", self.on_payment_returned),
            ("after_recovery.from_step", self.after_recovery.from_step if self.after_recovery else None),
        ):
            if target is not None and target not in ids:
                raise ValueError(f"@{where}: names step {target!r}, which is not one of {ids}")
        for index, step in enumerate(self.steps):
            if step.action is StepAction.agency_handoff and self.legal.agency is None:
                raise ValueError(f"@steps[{index}].action: agency_handoff needs legal.agency (name, mandate, delivery)")
        return self

    def step_index(self, step_id: str) -> int:
        return [step.id for step in self.steps].index(step_id)

    @property
    def label(self) -> str:
        return f"{self.name}@v{self.version}"

    def for_case(self, due: date) -> "Policy":
        """The policy as a case keeps it: holiday dates frozen from a year before the due date to ten after."""
        holidays = self.calendar.holidays
        if holidays is None:
            return self
        calendar = self.calendar.model_copy(update={"holidays": holidays.frozen(due.year - 1, due.year + 10)})
        return self.model_copy(update={"calendar": calendar})


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a policy file, located for a person to fix it."""

    file: str
    location: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.location or '<document>'}: {self.message}"


class PolicyError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Line (1-based) of the deepest YAML node on the error's path."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:
                # an unknown key is reported on the key itself
                key_node = next((k for k, _ in node.value if k.value == key), None)
                return key_node.start_mark.line + 1 if key_node is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


# libyaml when PyYAML was built with it (its wheels are): the pure-Python parser made policy loading slow.
LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_POLICY_BYTES = 256 * 1024
MAX_POLICY_DEPTH = 12  # the schema itself nests five levels; deeper is a mistake or an attack


def _check_structure(text: str, file: str) -> None:
    """Refuse what YAML allows but a policy never needs: deep nesting (the composer recurses), anchors and
    aliases (a few lines can expand to gigabytes), before anything is built from the text."""
    depth = 0
    for event in yaml.parse(text, Loader=LOADER):
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise PolicyError([Problem(file, "", line, "anchors and aliases (&name, *name) are not allowed")])
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_POLICY_DEPTH:
                raise PolicyError([Problem(file, "", line, f"nested deeper than {MAX_POLICY_DEPTH} levels")])
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1


def _read_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for line numbers) and its data, from one parse."""
    loader = LOADER(text)
    try:
        tree = loader.get_single_node()
        return tree, loader.construct_document(tree) if tree is not None else None
    finally:
        loader.dispose()


def _duplicate_keys(node: yaml.Node, file: str) -> list[Problem]:
    """YAML keeps the last of two equal keys without a word; a policy names each key once."""
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            line = key.start_mark.line + 1
            if key.value in first:
                message = f"key {key.value!r} appears twice (first on line {first[key.value]})"
                problems.append(Problem(file, str(key.value), line, message))
            else:
                first[key.value] = line
            problems.extend(_duplicate_keys(value, file))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            problems.extend(_duplicate_keys(item, file))
    return problems


def parse_policy(text: str, file: str, template_dir: Path | None = None) -> Policy:
    try:
        _check_structure(text, file)
        tree, data = _read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise PolicyError([Problem(file, "", line, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from exc
    if tree is not None and (duplicates := _duplicate_keys(tree, file)):
        raise PolicyError(duplicates)
    if not isinstance(data, dict):
        raise PolicyError([Problem(file, "", 1, "a policy is a YAML mapping (name, version, steps, ...)")])
    try:
        policy = Policy.model_validate(data, context={"policy_file": True})
        if policy.calendar.holidays is not None:
            policy.calendar.holidays.check_known()
    except ValueError as exc:
        if not isinstance(exc, ValidationError):
            raise PolicyError(
                [Problem(file, "calendar.holidays.country", _line_of(tree, ("calendar", "holidays")), str(exc))]
            ) from exc
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            message = err["msg"].removeprefix("Value error, ")
            if message.startswith("@"):
                path, _, message = message[1:].partition(": ")
                loc = (*loc, *_path(path))
            location = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
            problems.append(Problem(file, location, _line_of(tree, loc), message))
        raise PolicyError(problems) from exc
    if template_dir is not None:
        missing = missing_templates(policy, template_dir)
        if missing:
            problems = [Problem(file, loc, _line_of(tree, tuple(_path(loc))), msg) for loc, msg in missing]
            raise PolicyError(problems)
    return policy


def _path(location: str) -> list[int | str]:
    parts: list[int | str] = []
    for chunk in location.replace("]", "").split("."):
        name, _, index = chunk.partition("[")
        parts.append(name)
        if index:
            parts.append(int(index))
    return parts


def missing_templates(policy: Policy, template_dir: Path) -> list[tuple[str, str]]:
    wanted = [(f"steps[{i}].template", TEMPLATE_CHANNEL[s.action], s.template) for i, s in enumerate(policy.steps)]
    if policy.payment_plan.reminder_days_before is not None:
        wanted.append(("payment_plan.reminder_template", "email", policy.payment_plan.reminder_template))
    wanted += [("pauses", "email", f"dispute_{outcome}") for outcome in DISPUTE_OUTCOMES]
    wanted.append(("settlement", "email", SETTLEMENT_OFFER_TEMPLATE))
    if (after := policy.after_recovery) is not None:
        if after.thank_you:
            wanted.append(("after_recovery.thank_you_template", "email", after.thank_you_template))
        if after.follow_up_assignee is not None:
            wanted.append(("after_recovery.follow_up_template", "phone", after.follow_up_template))
    problems = []
    for location, channel, template in wanted:
        for lang in Language:
            path = template_dir / channel / f"{template}.{lang.value}.j2"
            if not path.is_file():
                problems.append((location, f"template {channel}/{template}.{lang.value}.j2 does not exist"))
    return problems


def load_policy(path: Path, template_dir: Path | None = None) -> Policy:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyError([Problem(str(path), "", None, f"cannot be read: {exc.strerror}")]) from exc
    if len(data) > MAX_POLICY_BYTES:
        raise PolicyError(
            [Problem(str(path), "", None, f"{len(data):,} bytes; a policy is at most {MAX_POLICY_BYTES:,}")]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        message = f"not UTF-8 text (byte 0x{data[exc.start]:02X}): save the policy as UTF-8"
        raise PolicyError([Problem(str(path), "", line, message)]) from exc
    if "\x00" in text:
        raise PolicyError(
            [Problem(str(path), "", None, "not a text file (it holds NUL bytes): save the policy as UTF-8")]
        )
    return parse_policy(text, str(path), template_dir)


def load_policies(directory: Path, template_dir: Path | None = None) -> dict[str, Policy]:
    """Newest version of every policy in a folder; any broken file fails the whole load, loudly."""
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not files:
        raise PolicyError([Problem(str(directory), "", None, "no policy files (*.yaml) in this folder")])
    problems: list[Problem] = []
    found: dict[str, Policy] = {}
    seen: dict[tuple[str, int], str] = {}
    for path in files:
        try:
            policy = load_policy(path, template_dir)
        except PolicyError as exc:
            problems.extend(exc.problems)
            continue
        key = (policy.name, policy.version)
        if key in seen:
            problems.append(Problem(str(path), "version", None, f"{policy.label} is also defined in {seen[key]}"))
            continue
        seen[key] = str(path)
        if policy.name not in found or found[policy.name].version < policy.version:
            found[policy.name] = policy
    if problems:
        raise PolicyError(problems)
    return found


class NoPolicy(Exception):
    pass


def select_policy(policies: dict[str, Policy], case: CaseInput) -> Policy:
    """The named policy, or the highest-priority policy whose rules fit the case (ties broken by name)."""
    if case.policy is not None:
        if case.policy not in policies:
            raise NoPolicy(f"policy {case.policy!r} does not exist; known: {sorted(policies)}")
        return policies[case.policy]
    fitting = [p for p in policies.values() if p.selection.mismatch(case) is None]
    if not fitting:
        reasons = "; ".join(f"{p.name}: {p.selection.mismatch(case)}" for p in policies.values())
        raise NoPolicy(f"no policy fits invoice {case.invoice_id} ({reasons})")
    return sorted(fitting, key=lambda p: (-p.selection.priority, p.name))[0]
