"""The command line derives its list of actions from the rule table: `relance act` names every declared action
with its least role and fields, and refuses a name the table does not declare (before reaching Temporal)."""

import pytest
from typer.testing import CliRunner

from relance.cli.main import app
from relance.domain.rules import OPS_ACTIONS


def test_relance_act_lists_every_declared_action_with_its_role_and_fields():
    shown = " ".join(CliRunner().invoke(app, ["act", "--help"], terminal_width=200).output.split())
    for action in OPS_ACTIONS:
        assert action.least_role is not None
        fields = ", ".join(name for name in action.model_fields if name != "by")
        assert f"{action.name} ({action.least_role.value}): {fields}".strip() in shown, action.name


def test_relance_act_refuses_what_the_table_does_not_declare_or_what_is_not_a_json_object():
    runner = CliRunner()
    unknown = runner.invoke(app, ["act", "F-1", "frobnicate", "{}"], terminal_width=200)
    assert unknown.exit_code == 1 and "unknown action 'frobnicate'; declared: payment_received," in unknown.output
    for payload, said in (("{not", "payload: not JSON (Expecting property name"), ("[1]", "must be a JSON object")):
        refused = runner.invoke(app, ["act", "F-1", "pause", payload], terminal_width=200)
        assert refused.exit_code == 1 and said in " ".join(refused.output.split()), refused.output
    bad = runner.invoke(app, ["act", "F-1", "pause", '{"until": "soon"}'], terminal_width=200)
    said = "pause: until: must be a date written YYYY-MM-DD, got 'soon'; reason: Field required"
    assert bad.exit_code == 1 and said in " ".join(bad.output.split()), bad.output


def test_relance_portal_link_prints_a_link_that_opens_the_customers_page_only(monkeypatch):
    from relance.domain.portal_links import LinkInvalid
    from relance.ledger.portal import read_link
    from relance.settings import get_settings

    monkeypatch.setenv("RELANCE_PORTAL_SECRET", "portal-secret-0123456789")
    monkeypatch.setenv("RELANCE_PUBLIC_URL", "https://relance.vendor.example/")
    get_settings.cache_clear()
    try:
        printed = CliRunner().invoke(app, ["portal", "link", "C-ACME"], terminal_width=300)
    finally:
        get_settings.cache_clear()
    url = printed.output.strip()
    assert printed.exit_code == 0 and url.startswith("https://relance.vendor.example/portal/"), printed.output
    token = url.rsplit("/", 1)[1]
    with pytest.raises(LinkInvalid):
        read_link(None, "another-secret-0123456", token, 30)  # refused before the ledger is read
