"""Our modules the workflow sandbox passes through (workflows/, relance/domain/) run without its run-time
checks, so they are checked here instead: no clock, randomness, environment, file, process, network or
thread access, and no module-level state a workflow could change for another (workflows/sandbox.py says why
they are passed through). Import-linter keeps I/O libraries out of both (pyproject.toml)."""

import ast
from pathlib import Path

import pytest

from relance.converter import data_converter
from workflows.sandbox import OUR_PASSTHROUGH, PASSTHROUGH, workflow_runner

ROOT = Path(__file__).resolve().parent.parent.parent
FORBIDDEN_MODULES = {
    "random", "secrets", "uuid", "time", "os", "socket", "subprocess", "threading", "multiprocessing",
    "shutil", "tempfile", "urllib", "http", "requests", "httpx", "sqlalchemy", "sendgrid", "signal",
}  # fmt: skip
# receivers whose calls read the clock or the machine: datetime.now(), date.today(), ...
CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today")}
FORBIDDEN_BUILTINS = {"open", "input", "exec", "eval", "breakpoint"}
FILE_METHODS = {"read_text", "read_bytes", "write_text", "write_bytes", "glob", "rglob", "iterdir", "mkdir", "unlink"}
# Reading policy and rate files is the domain's, for the activities that call it; workflows never do (below).
FILE_READERS = {("relance/domain/policy.py", "load_policy"), ("relance/domain/policy.py", "load_policies")}
READER_NAMES = {name for _, name in FILE_READERS}


def passed_through_files() -> list[Path]:
    return sorted(f for package in OUR_PASSTHROUGH for f in (ROOT / package.replace(".", "/")).rglob("*.py"))


def problems_in(source: str, relative: str) -> list[str]:
    """What in this module (its text, and its path from the project root) escapes a workflow's determinism."""
    tree = ast.parse(source)
    found: list[str] = []
    functions = {id(node): fn.name for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef) for node in ast.walk(fn)}

    def where(node: ast.AST) -> str:
        return f"{relative}:{getattr(node, 'lineno', '?')}"

    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                if name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"{where(node)} imports {name}")
        elif isinstance(node, ast.Global):
            found.append(f"{where(node)} rebinds {', '.join(node.names)} outside its scope")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_BUILTINS:
                found.append(f"{where(node)} calls {func.id}()")
            if isinstance(func, ast.Name) and func.id in READER_NAMES and relative.startswith("workflows/"):
                found.append(f"{where(node)} reads files through {func.id}() inside a workflow")
            if isinstance(func, ast.Attribute):
                receiver = func.value.id if isinstance(func.value, ast.Name) else None
                if (receiver, func.attr) in CLOCK_CALLS:
                    found.append(f"{where(node)} reads the machine's clock ({receiver}.{func.attr})")
                if func.attr in FILE_METHODS and (relative, functions.get(id(node))) not in FILE_READERS:
                    found.append(f"{where(node)} touches files (.{func.attr})")
    for statement in tree.body:  # module level: constants only, never state a workflow could change
        targets = statement.targets if isinstance(statement, ast.Assign) else []
        if isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        value = getattr(statement, "value", None)
        mutable = isinstance(value, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp) or (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id in {"list", "dict", "set", "defaultdict", "Counter", "deque"}
        )
        for target in targets:
            if mutable and isinstance(target, ast.Name) and not target.id.isupper() and target.id != "__all__":
                found.append(f"{where(statement)} keeps mutable module state in {target.id}")
    return found


def test_the_modules_passed_through_the_sandbox_are_ours_and_the_pure_data_libraries():
    assert set(OUR_PASSTHROUGH) == {"relance.domain", "workflows"}
    runner = workflow_runner(data_converter)
    assert set(PASSTHROUGH) <= runner.restrictions.passthrough_modules
    assert not runner.restrictions.passthrough_all_modules  # anything else a workflow imports is re-imported


def test_passed_through_modules_reach_no_clock_randomness_file_network_or_shared_state():
    files = passed_through_files()
    assert len(files) > 20  # the scan reads the packages, not an empty folder
    problems = [p for f in files for p in problems_in(f.read_text(encoding="utf-8"), f.relative_to(ROOT).as_posix())]
    assert problems == []


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("from datetime import datetime\nx = datetime.now()\n", "reads the machine's clock (datetime.now)"),
        ("from datetime import date\ndef f():\n    return date.today()\n", "reads the machine's clock (date.today)"),
        ("import random\n", "imports random"),
        ("from uuid import uuid4\n", "imports uuid"),
        ("import os\n", "imports os"),
        ("from time import monotonic\n", "imports time"),
        ("def f():\n    return open('x').read()\n", "calls open()"),
        ("def f(p):\n    return p.read_text()\n", "touches files (.read_text)"),
        ("seen = []\n", "keeps mutable module state in seen"),
        ("cache: dict[str, int] = {}\n", "keeps mutable module state in cache"),
        ("n = 0\ndef f():\n    global n\n    n += 1\n", "rebinds n outside its scope"),
        ("import urllib.request\n", "imports urllib.request"),
    ],
)
def test_the_scan_catches_each_kind_of_escape(source, problem):
    found = problems_in(source, "workflows/probe.py")
    assert [p.split(" ", 1)[1] for p in found] == [problem]


def test_workflows_may_not_read_policy_files_themselves():
    found = problems_in("from relance.domain.policy import load_policies\nx = load_policies(1)\n", "workflows/probe.py")
    assert [p.split(" ", 1)[1] for p in found] == ["reads files through load_policies() inside a workflow"]
