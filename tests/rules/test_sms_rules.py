"""What an SMS may be (relance/domain/sms.py), as table tests: a mobile number in E.164, the length of a text in
segments of its encoding, a STOP; and `relance policy check` refusing an SMS template that runs too long."""

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from relance.cli.main import app
from relance.domain.policy import StepAction, load_policy
from relance.domain.sms import is_stop, mobile_number, segments, sms_text
from relance.rendering.messages import sms_problems
from relance.settings import Settings
from tests.builders import ROOT


@pytest.mark.parametrize(
    ("text", "encoding", "units", "count"),
    [
        ("Bonjour", "GSM-7", 7, 1),
        ("é" * 160, "GSM-7", 160, 1),
        ("é" * 161, "GSM-7", 161, 2),  # 153 a segment once split
        ("€" * 80, "GSM-7", 160, 1),  # the euro sign is an escape: two septets
        ("€" * 81, "GSM-7", 162, 2),
        ("œuvre", "UCS-2", 5, 1),  # one character outside GSM-7: the whole text in UCS-2
        ("ç" * 70, "UCS-2", 70, 1),  # a lower-case c cedilla is not GSM-7 (only Ç is)
        ("ç" * 71, "UCS-2", 71, 2),  # 67 a segment once split
        ("😀" * 35, "UCS-2", 70, 1),  # an emoji takes two UTF-16 units
    ],
)
def test_how_many_segments_a_text_takes(text, encoding, units, count):
    size = segments(text)
    assert (size.encoding, size.units, size.count) == (encoding, units, count)


def test_typography_is_made_plain_for_an_sms():
    assert sms_text("1\u202f250,00\u00a0€ « dû » — l’échéance…\n\nMerci") == '1 250,00 € " dû " - l\'échéance... Merci'


@pytest.mark.parametrize(
    ("phone", "country", "e164", "refusal"),
    [
        ("06 12 34 56 78", "FR", "+33612345678", None),
        ("+33 7 81 23 45 67", None, "+33781234567", None),
        ("+44 7400 123456", "FR", "+447400123456", None),  # a UK mobile, whatever the address
        ("01 42 68 53 00", "FR", None, "'01 42 68 53 00' is not a mobile number: it cannot receive an SMS"),
        ("06 12", "FR", None, "'06 12' is not a valid phone number"),
        (None, "FR", None, "no phone number"),
    ],
)
def test_a_number_is_a_mobile_in_e164_or_refused_with_why(phone, country, e164, refusal):
    if refusal is None:
        assert mobile_number(phone, country) == e164
    else:
        with pytest.raises(ValueError) as err:
            mobile_number(phone, country)
        assert str(err.value) == refusal


@pytest.mark.parametrize(
    ("body", "stop"), [("STOP", True), (" stop ", True), ("Arrêt", True), ("ARRET.", True), ("Stop please", False),
                       ("Payé hier", False), ("", False)]
)  # fmt: skip
def test_a_stop_is_told_from_a_text(body, stop):
    assert is_stop(body) is stop


def test_policy_check_refuses_an_sms_template_that_runs_too_long(tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(Settings().template_dir, templates)
    for lang in ("fr", "en"):  # an SMS that says too much: its text takes four segments for a long invoice
        (templates / "sms" / f"chatty.{lang}.j2").write_text(
            "{% block subject %}x{% endblock %}{% block body %}" + "Facture {{ invoice_id }}. " * 20 + "{% endblock %}",
            encoding="utf-8",
        )

    class WithTemplates(Settings):
        @property
        def template_dir(self) -> Path:
            return templates

    policy = load_policy(ROOT / "policies" / "b2b-standard.yaml")
    policy.steps[1] = policy.steps[1].model_copy(update={"action": StepAction.sms, "template": "chatty"})
    assert sms_problems(policy, WithTemplates()) == [
        f"steps[1] (reminder-1): template sms/chatty.{lang} takes 5 GSM-7 segments (619 units) for a long invoice;"
        " at most 3"
        for lang in ("fr", "en")
    ]
    policy.steps[1] = policy.steps[1].model_copy(update={"template": "sms_reminder"})
    assert sms_problems(policy, WithTemplates()) == []  # the shipped one fits
    shipped = CliRunner().invoke(app, ["policy", "check", str(ROOT / "policies")], terminal_width=300)
    assert shipped.exit_code == 0, shipped.output


def test_the_default_sms_backend_writes_each_sms_once_as_a_file(tmp_path):
    from activities.sms_delivery import OutgoingSms, SmsOutbox

    outbox = SmsOutbox(tmp_path / "sms")
    assert outbox.find_sent("invoice-F/1:reminder-1") is None
    sent = outbox.send(OutgoingSms("invoice-F/1:reminder-1", "invoice-F/1", "+33612345678", "Facture F/1"))
    assert sent == "sms:invoice-F_1_reminder-1" == outbox.find_sent("invoice-F/1:reminder-1")
    (written,) = (tmp_path / "sms").iterdir()
    assert written.name == "invoice-F_1_reminder-1.json"
    assert '"to": "+33612345678"' in written.read_text(encoding="utf-8")
