"""Policy files: validation with located errors, selection rules, and the shipped policies."""

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from relance.domain.policy import NoPolicy, Policy, PolicyError, load_policies, parse_policy, select_policy
from relance.settings import Settings
from tests.builders import ROOT, invoice

TEMPLATES = Settings().template_dir

ACTIONS = "'email', 'phone_task', 'formal_notice', 'injonction_dossier', 'agency_handoff', 'letter' or 'sms'"

VALID = """\
name: test-policy
version: 2
selection: {customer_kinds: [business]}
steps:
  - {id: first, offset_days: 1, action: email, template: reminder_1}
  - {id: second, offset_days: 8, action: phone_task, template: call_script}
promise: {on_broken: second}
"""


def problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(PolicyError) as err:
        parse_policy(text, "p.yaml", TEMPLATES)
    return [(p.line, p.location, p.message) for p in err.value.problems]


def test_a_valid_policy_loads_with_defaults():
    policy = parse_policy(VALID, "p.yaml", TEMPLATES)
    assert (policy.label, policy.calendar.timezone, policy.min_days_between_steps) == (
        "test-policy@v2",
        "Europe/Paris",
        3,
    )
    assert [s.stage_name for s in policy.steps] == ["reminder", "reminder"]


BROKEN = [
    (
        VALID + "replies: {pause_days: 61}\n",
        [(8, "replies.pause_days", "Input should be less than or equal to 60")],
    ),
    (
        VALID.replace("action: phone_task, template: call_script", "action: sms, template: call_script"),
        [
            (6, "steps[1].template", "template sms/call_script.fr.j2 does not exist"),
            (6, "steps[1].template", "template sms/call_script.en.j2 does not exist"),
        ],
    ),
    (
        "steps:\n  - {id: a, offset_days: 1, action: email, template: reminder_1}\n",
        [(1, "name", "Field required"), (1, "version", "Field required")],
    ),
    (
        VALID.replace("action: phone_task", "action: fax"),
        [(6, "steps[1].action", f"Input should be {ACTIONS}")],
    ),
    (
        VALID.replace("offset_days: 8", "offset_days: -1"),
        [(6, "steps[1].offset_days", "steps must be in offset order: second (-1) comes after first (1)")],
    ),
    (
        VALID.replace("on_broken: second", "on_broken: third"),
        [(7, "promise.on_broken", "names step 'third', which is not one of ['first', 'second']")],
    ),
    (
        VALID.replace("template: reminder_1", "template: no_such_template"),
        [
            (5, "steps[0].template", "template email/no_such_template.fr.j2 does not exist"),
            (5, "steps[0].template", "template email/no_such_template.en.j2 does not exist"),
        ],
    ),
    (
        VALID + "calendar: {timezone: Europe/Pariss, sending_window: {start: '18:00', end: '09:00'}}\n",
        [
            (8, "calendar.timezone", "unknown time zone 'Europe/Pariss'"),
            (8, "calendar.sending_window", "sending window start 18:00:00 must be before its end 09:00:00"),
        ],
    ),
    (
        VALID + "calendar: {holidays: {country: XX}}\n",
        [(8, "calendar.holidays.country", "no holiday calendar for country 'XX'")],
    ),
    (VALID + "colour: blue\n", [(8, "colour", "Extra inputs are not permitted")]),
    (VALID.replace("id: first", "id: second"), [(6, "steps[1].id", "step id 'second' is used twice")]),
    ("name: [unclosed\n", [(2, "", "not valid YAML: did not find expected ',' or ']'")]),
    ("- just a list\n", [(1, "", "a policy is a YAML mapping (name, version, steps, ...)")]),
    (
        VALID + "direct_debit: {represent_after_days: 40, settle: 5}\n",
        [
            (8, "direct_debit.represent_after_days", "Input should be less than or equal to 20"),
            (8, "direct_debit.settle", "Extra inputs are not permitted"),
        ],
    ),
    # hostile edges (issue 34, item 6): a boolean for days, a currency that is not one, a stage of a novel
    (
        VALID.replace("offset_days: 1,", "offset_days: true,"),
        [(5, "steps[0].offset_days", "Input should be a valid integer")],
    ),
    (
        VALID.replace("customer_kinds: [business]", "customer_kinds: [business], currencies: [EUR, EURO]"),
        [(3, "selection.currencies[1]", "'EURO' is not an ISO 4217 currency code")],
    ),
    (
        VALID.replace("template: reminder_1}", "template: reminder_1, stage: " + "a" * 5000 + "}"),
        [(5, "steps[0].stage", "at most 50 characters, not 5,000")],
    ),
]


@pytest.mark.parametrize(("text", "expected"), BROKEN, ids=[f"broken-{i}" for i in range(len(BROKEN))])
def test_invalid_policies_are_rejected_with_their_location(text, expected):
    assert problems(text) == expected


def test_policy_check_command_reports_every_problem_and_fails(tmp_path: Path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(VALID)
    bad.write_text(VALID.replace("action: phone_task", "action: fax").replace("version: 2", "version: 0"))
    result = subprocess.run(
        [sys.executable, "-m", "relance.cli.main", "policy", "check", str(good), str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert result.returncode == 1
    assert f"ok {good}: test-policy@v2, 2 steps" in result.stdout
    assert f"{bad}:2: version: Input should be greater than or equal to 1" in result.stderr
    assert f"{bad}:6: steps[1].action: Input should be {ACTIONS}" in " ".join(result.stderr.split())  # wrapped
    assert "2 problem(s) found" in result.stderr


def test_shipped_policies_are_valid():
    policies = load_policies(ROOT / "policies", TEMPLATES)
    assert sorted(policies) == ["b2b-high-risk", "b2b-standard", "consumer", "key-accounts"]


def test_two_files_with_the_same_name_and_version_are_refused(tmp_path: Path):
    (tmp_path / "a.yaml").write_text(VALID)
    (tmp_path / "b.yaml").write_text(VALID)
    with pytest.raises(PolicyError, match=r"test-policy@v2 is also defined in .*a.yaml"):
        load_policies(tmp_path, TEMPLATES)


def test_the_newest_version_of_a_policy_is_used_for_new_cases(tmp_path: Path):
    (tmp_path / "v2.yaml").write_text(VALID)
    (tmp_path / "v3.yaml").write_text(VALID.replace("version: 2", "version: 3"))
    assert load_policies(tmp_path, TEMPLATES)["test-policy"].version == 3


SELECTION = [
    # kind, segment, amount, named policy -> chosen
    ("business", None, "1250.00", None, "b2b-standard"),
    ("business", "smb", "99999.00", None, "b2b-standard"),
    ("business", "key-account", "50.00", None, "key-accounts"),
    ("consumer", None, "80.00", None, "consumer"),
    ("consumer", "key-account", "80.00", None, "consumer"),
    ("business", None, "1250.00", "consumer", "consumer"),
]


@pytest.mark.parametrize(("kind", "segment", "amount", "named", "chosen"), SELECTION)
def test_policy_selection(kind, segment, amount, named, chosen):
    policies = load_policies(ROOT / "policies", TEMPLATES)
    case = invoice(kind=kind, amount=amount, customer={"segment": segment}, policy=named)
    assert select_policy(policies, case).name == chosen


def test_selection_explains_why_nothing_fits(tmp_path: Path):
    (tmp_path / "p.yaml").write_text(
        VALID.replace("customer_kinds: [business]", "customer_kinds: [business], min_amount: 5000")
    )
    policies = load_policies(tmp_path, TEMPLATES)
    with pytest.raises(NoPolicy, match=r"no policy fits invoice X-1 \(test-policy: amount 1250.00 below 5000\)"):
        select_policy(policies, invoice("X-1"))
    with pytest.raises(NoPolicy, match=r"policy 'other' does not exist; known: \['test-policy'\]"):
        select_policy(policies, invoice("X-2", policy="other"))


def test_a_case_keeps_its_holiday_dates():
    policy = load_policies(ROOT / "policies", TEMPLATES)["b2b-standard"]
    frozen = policy.for_case(invoice().due_date)
    dates = frozen.calendar.holidays.dates
    assert (dates[0].isoformat(), dates[-1].isoformat(), len(dates)) == ("2025-01-01", "2036-12-25", 132)
    assert frozen.model_dump()["steps"] == policy.model_dump()["steps"]
    assert Decimal(str(frozen.steps[0].conditions.min_balance)) == Decimal("50.00")


def test_policy_explain_prints_the_dated_schedule():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "relance.cli.main",
            "policy",
            "explain",
            "b2b-standard",
            "--due",
            "2026-04-30",
            "--now",
            "2026-04-29T20:00",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    rows = [" ".join(line.replace("│", " ").split()) for line in result.stdout.splitlines() if "│" in line]
    schedule, statuses = rows[:7], rows[7:]
    assert [row.split(" ")[0] for row in statuses] == [str(code) for code in range(200, 214)]
    assert "211 Paiement transmis no reminder for 7 days, then the chase resumes (a person checks the bank)" in statuses
    assert schedule == [
        "courtesy email pre_due Thu 2026-04-30 09:00 if balance ≥ 50.00",
        "reminder-1 email reminder_1 Mon 2026-05-04 09:00",
        "reminder-2 email reminder_2 Mon 2026-05-11 09:00",
        "call-1 phone_task call_script Fri 2026-05-15 09:00 if balance ≥ 500.00",
        "final-reminder email final_reminder Tue 2026-05-26 09:00",
        "formal-notice formal_notice formal_notice Thu 2026-06-04 09:00 if balance ≥ 100.00",
        "injonction injonction_dossier file_injonction Fri 2026-06-19 09:00 if balance ≥ 100.00",
    ]


def test_policy_explain_as_json():
    args = ["policy", "explain", "b2b-standard", "--due", "2026-04-30", "--now", "2026-05-05T10:00", "--json"]
    result = subprocess.run(
        [sys.executable, "-m", "relance.cli.main", *args], capture_output=True, text=True, cwd=ROOT, env={"PATH": ""}
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["policy"] == "b2b-standard@v3"
    assert shown["skipped"] == [
        {"step": "courtesy", "why": "missed while the case was late or paused; only the latest missed step runs"}
    ]
    assert [(s["step"], s["at"]) for s in shown["planned"]] == [
        ("reminder-1", "2026-05-05T10:00:00+02:00"),  # the latest missed step runs at once
        ("reminder-2", "2026-05-11T09:00:00+02:00"),
        ("call-1", "2026-05-15T09:00:00+02:00"),
        ("final-reminder", "2026-05-26T09:00:00+02:00"),
        ("formal-notice", "2026-06-04T09:00:00+02:00"),
        ("injonction", "2026-06-19T09:00:00+02:00"),
    ]


HOSTILE_FILES = [
    (
        "latin-1.yaml",
        VALID.replace("test-policy", "café").encode("latin-1"),
        [(1, "", "not UTF-8 text (byte 0xE9): save the policy as UTF-8")],
    ),
    ("utf-16.yaml", VALID.encode("utf-16"), [(1, "", "not UTF-8 text (byte 0xFF): save the policy as UTF-8")]),
    (
        "nested.yaml",  # libyaml's own limit
        (VALID + "extra: " + "[" * 5000 + "]" * 5000 + "\n").encode(),
        [(8, "", "not valid YAML: exceeded maximum nesting depth")],
    ),
    (
        "nested-20.yaml",
        (VALID + "x: " + "[" * 20 + "]" * 20 + "\n").encode(),
        [(8, "", "nested deeper than 12 levels")],
    ),
    (
        "twice.yaml",
        (VALID + "name: other-policy\n").encode(),
        [(8, "name", "key 'name' appears twice (first on line 1)")],
    ),
    (
        "nested-twice.yaml",
        VALID.replace("{customer_kinds: [business]}", "{priority: 1, priority: 2}").encode(),
        [(3, "priority", "key 'priority' appears twice (first on line 3)")],
    ),
    (
        "aliases.yaml",
        (VALID + "x: &a [1, 2]\ny: [*a, *a]\n").encode(),
        [(8, "", "anchors and aliases (&name, *name) are not allowed")],
    ),
    (
        "binary.yaml",
        b"name: x\x00\x01\x02",
        [(None, "", "not a text file (it holds NUL bytes): save the policy as UTF-8")],
    ),
    ("huge.yaml", b"# " + b"x" * 300_000, [(None, "", "300,002 bytes; a policy is at most 262,144")]),
]


@pytest.mark.parametrize(("name", "data", "expected"), HOSTILE_FILES, ids=[f[0] for f in HOSTILE_FILES])
def test_a_hostile_policy_file_is_refused_with_its_reason(tmp_path: Path, name, data, expected):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(PolicyError) as refused:
        load_policies(tmp_path, TEMPLATES)
    assert [(p.line, p.location, p.message) for p in refused.value.problems] == expected


def test_policy_check_prints_hostile_files_without_a_traceback(tmp_path: Path):
    for name, data, _ in HOSTILE_FILES:
        (tmp_path / name).write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-m", "relance.cli.main", "policy", "check", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )
    assert (result.returncode, "Traceback" in result.stderr) == (1, False), result.stderr
    assert result.stderr.strip().endswith(f"error: {len(HOSTILE_FILES)} problem(s) found")


def test_a_stored_policy_from_a_laxer_reader_still_decodes():
    """The file-only checks do not apply to a case's stored copy: a case started before them replays."""
    stored = yaml.safe_load(VALID.replace("customer_kinds: [business]", "currencies: [EURO]"))
    stored["steps"][0]["stage"] = "a" * 5000
    assert Policy.model_validate(stored).selection.currencies == ["EURO"]
