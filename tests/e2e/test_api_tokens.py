"""API tokens (issue: the HTTP API): made once and kept only as a hash, looked up on every request, revoked at
once; the roles and what each may do."""

import os
import subprocess
import sys
from typing import ClassVar

import pytest
from sqlalchemy import text

from relance.api.cases import ACTIONS, CASE_ACTIONS
from relance.domain.access import Role, Undeclared, may, role_for_action
from relance.domain.actions import Action
from relance.ledger.api_tokens import PREFIX, Caller, TokenError, caller_for, create_token, list_tokens, revoke_token
from relance.ledger.db import engine_for
from tests.builders import ROOT


def test_a_token_is_kept_as_a_hash_found_by_its_bearer_and_revoked_at_once(ledger_url):
    engine = engine_for(ledger_url)
    token = create_token(engine, "ERP Sage (import)", Role.collector, "ops")
    other = create_token(engine, "Alice, sales", Role.sales, "ops")
    assert token.startswith(PREFIX) and len(token) > 40 and token != other
    with engine.connect() as connection:
        stored = " ".join(str(v) for row in connection.execute(text("SELECT * FROM api_tokens")) for v in row)
    assert token not in stored and token[len(PREFIX) :] not in stored
    assert caller_for(engine, token) == Caller("ERP Sage (import)", Role.collector)
    assert caller_for(engine, token + "x") is None and caller_for(engine, "Bearer " + token) is None
    with pytest.raises(TokenError, match="a token named 'Alice, sales' exists"):
        create_token(engine, "Alice, sales", Role.admin, "ops")
    with pytest.raises(TokenError, match="1 to 120 printable characters"):
        create_token(engine, "bad\nname", Role.admin, "ops")
    assert revoke_token(engine, "ERP Sage (import)") is True
    assert caller_for(engine, token) is None
    assert revoke_token(engine, "ERP Sage (import)") is False
    assert caller_for(engine, other) == Caller("Alice, sales", Role.sales)
    listed = {t.name: (t.role, t.revoked_at is not None, t.created_by) for t in list_tokens(engine)}
    assert listed == {"Alice, sales": ("sales", False, "ops"), "ERP Sage (import)": ("collector", True, "ops")}


ROLE_TABLE = [
    ("payment_received", Role.collector),
    ("dispute_opened", Role.collector),
    ("promise_to_pay", Role.collector),
    ("settlement_offered", Role.collector),
    ("court_order_issued", Role.legal),
    ("agency_update", Role.legal),
    ("registered_letter_delivered", Role.legal),
    ("write_off", Role.admin),
    ("reapply_policy", Role.admin),
]


@pytest.mark.parametrize(("action", "least"), ROLE_TABLE)
def test_each_action_needs_its_least_role(action, least):
    assert role_for_action(ACTIONS[action]) == least
    assert [r for r in Role if may(r, least)] == list(Role)[list(Role).index(least) :]


def test_every_case_action_declares_a_role_and_sales_may_send_none():
    assert all(not may(Role.sales, role_for_action(action)) for action in CASE_ACTIONS)


def test_an_action_that_declares_no_role_is_refused_to_everyone():
    class Teleport(Action):  # a new action someone forgot to give a role
        name: ClassVar[str] = "teleport"

    with pytest.raises(Undeclared, match="action 'teleport' declares no least role: refused to everyone"):
        role_for_action(Teleport)


def test_the_token_commands(tmp_path):
    env = {**os.environ, "RELANCE_DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}", "RELANCE_USER": "camille"}

    def relance(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "relance.cli.main", "token", *args]
        return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)

    made = relance("create", "--role", "legal", "--name", "Maître Durand")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().startswith(PREFIX) and "shown once" in made.stderr
    refused = relance("create", "--role", "boss", "--name", "x")
    assert refused.returncode == 1 and "--role: 'boss' is not one of sales, collector, legal, admin" in refused.stderr
    assert relance("revoke", "Maître Durand").returncode == 0
    again = relance("revoke", "Maître Durand")
    assert again.returncode == 1 and "no active token named 'Maître Durand'" in again.stderr
    listed = relance("list")
    assert "Maître Durand  legal" in listed.stdout and "revoked" in listed.stdout
    assert made.stdout.strip() not in listed.stdout
