"""The command line derives its list of actions from the rule table: `relance act` names every declared action
with its least role and fields, and refuses a name the table does not declare (before reaching Temporal)."""

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
