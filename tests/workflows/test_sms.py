"""SMS (issue "Hearing the debtor", item 3): an `sms` step sends one SMS through Twilio's official client
(against a local endpoint answering as Twilio's documentation shows) to the debtor's mobile in E.164; Twilio's
signed status callback records its delivery; a STOP sent back turns SMS off for that number, recorded on the
case, and the next SMS step is skipped; a landline gets none; unsigned or forged callbacks are refused."""

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from relance.api.app import api_app
from relance.ledger.db import engine_for
from relance.ledger.sms_ledger import opted_out
from tests.builders import invoice, minute, paris
from tests.conftest import policies_copy
from tests.recording_endpoint import RecordingEndpoint, Reply

START = paris(2026, 4, 20, 8)
SID, TOKEN, PUBLIC = "AC0123456789abcdef0123456789abcdef", "twilio-test-token", "https://relance.vendor.example"
MOBILE = {"id": "C-SMS", "phone": "06 12 34 56 78"}
# what Twilio answers to POST /2010-04-01/Accounts/{sid}/Messages.json (its documented shape, shortened)
CREATED = {"sid": "SM0000000000000000000000000000aaaa", "status": "queued", "to": "+33612345678",
           "from": "+33700000000", "body": "", "num_segments": "1", "direction": "outbound-api",
           "api_version": "2010-04-01", "account_sid": SID, "date_created": "Mon, 27 Apr 2026 07:00:00 +0000",
           "uri": f"/2010-04-01/Accounts/{SID}/Messages/SM0000000000000000000000000000aaaa.json"}  # fmt: skip


def with_sms(data: dict[str, Any]) -> None:
    """b2b-standard with reminder-1 and reminder-2 sent by SMS."""
    for step in data["steps"]:
        if step["id"] in ("reminder-1", "reminder-2"):
            step["action"], step["template"] = "sms", "sms_reminder"


@pytest.fixture
def endpoint() -> Iterator[RecordingEndpoint]:
    recorder = RecordingEndpoint()
    recorder.default = Reply(status=201, body=CREATED)
    yield recorder
    recorder.close()


@pytest.fixture
def settings(settings, tmp_path: Path, endpoint: RecordingEndpoint):
    return settings.model_copy(
        update={
            "policy_dir": policies_copy(tmp_path, with_sms),
            "sms_backend": "twilio",
            "twilio_account_sid": SID,
            "twilio_auth_token": SecretStr(TOKEN),
            "twilio_from": "+33700000000",
            "twilio_api_base": endpoint.url,
            "public_url": PUBLIC,
            "portal_secret": SecretStr("portal-secret-0123456789"),
        }
    )


def signed(path: str, params: dict[str, str], token: str = TOKEN) -> dict[str, Any]:
    """A request as Twilio makes it: the form, signed over the URL it calls and the fields."""
    signature = RequestValidator(token).compute_signature(PUBLIC + path, params)
    headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
    return {"content": urlencode(params), "headers": headers}


async def test_an_sms_step_sends_one_sms_its_delivery_is_recorded_and_stop_turns_them_off(
    env, open_case, worker, endpoint
):
    case = await open_case(invoice("SMS-1", starts_at=START, customer=MOBILE))
    status = await case.advance_to(paris(2026, 5, 1, 12))  # reminder-1: +1 day, 1 May is a holiday: 4 May
    status = await case.advance_to(paris(2026, 5, 4, 12))
    (texted,) = [s for s in status.steps if s.step_id == "reminder-1"]
    assert (texted.status, texted.channel, minute(texted.at)) == ("done", "sms", paris(2026, 5, 4, 9))
    (sent,) = [r for r in endpoint.requests if r.path.endswith("/Messages.json")]
    assert sent.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert (sent.body["To"], sent.body["From"]) == ("+33612345678", "+33700000000")
    assert sent.body["StatusCallback"] == f"{PUBLIC}/webhooks/twilio/status"
    assert "facture SMS-1" in sent.body["Body"] and "STOP" in sent.body["Body"]
    assert texted.detail.startswith("SMS to +33612345678 (2 GSM-7 segments): ")
    (code,) = re.findall(rf"Vos factures : {PUBLIC}/p/([a-z2-9]{{12}}) STOP", sent.body["Body"])  # a short link

    async def client():
        return env.client

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api_app(worker, client)), base_url="http://api"
    ) as http:
        delivered = {"MessageSid": CREATED["sid"], "MessageStatus": "delivered", "AccountSid": SID,
                     "To": "+33612345678", "From": "+33700000000", "ApiVersion": "2010-04-01"}  # fmt: skip
        answer = await http.post("/webhooks/twilio/status", **signed("/webhooks/twilio/status", delivered))
        assert answer.json() == {"invoice-SMS-1": "applied"}, answer.text
        again = await http.post("/webhooks/twilio/status", **signed("/webhooks/twilio/status", delivered))
        assert again.json() == {"invoice-SMS-1": "already"}
        unsigned = await http.post("/webhooks/twilio/status", content=urlencode(delivered),
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert unsigned.status_code == 401
        as_json = await http.post("/webhooks/twilio/status", json=delivered, headers={"X-Twilio-Signature": "x"})
        assert (as_json.status_code, as_json.json()["detail"]) == (
            415,
            "Twilio posts application/x-www-form-urlencoded",
        )
        forged = await http.post("/webhooks/twilio/status", **signed("/webhooks/twilio/status", delivered, "other"))
        assert (forged.status_code, forged.json()["detail"]) == (
            401,
            "the Twilio signature does not match this request",
        )
        stray = {"MessageSid": "SM00000000000000000000000000000zzz", "MessageStatus": "failed", "ErrorCode": "30005"}
        kept = await http.post("/webhooks/twilio/status", **signed("/webhooks/twilio/status", stray))
        assert kept.json() == {"refused": "SM00000000000000000000000000000zzz"}  # kept in the refused input
        stop = {"MessageSid": "SM0000000000000000000000000000bbbb", "From": "+33612345678", "To": "+33700000000",
                "Body": "Stop", "AccountSid": SID, "NumMedia": "0"}  # fmt: skip
        answered = await http.post("/webhooks/twilio/inbound", **signed("/webhooks/twilio/inbound", stop))
        assert answered.status_code == 200 and "<Response></Response>" in answered.text
        short = await http.get(f"/p/{code.upper()}")  # as typed from the phone's screen, case aside
        assert (short.status_code, short.headers["location"]) == (303, f"/portal/{code}")
        page = await http.get(short.headers["location"])
        assert page.status_code == 200 and "SMS-1" in page.text
        unknown = await http.get("/p/abcdefghjkmn", follow_redirects=True)  # a code nobody was given
        assert (unknown.status_code, 'data-refusal="invalid"' in unknown.text) == (404, True)
        assert (await http.get("/p/not-a-code")).status_code == 404

    status = await case.status()
    assert status.deliveries["reminder-1"].delivered is not None
    assert [h.event for h in status.history if h.event.startswith("sms_")] == ["sms_delivered", "sms_stopped"]
    assert opted_out(engine_for(worker.database_url), "+33612345678") is not None
    status = await case.advance_to(paris(2026, 5, 11, 12))  # reminder-2 (+10): no SMS to a number that stopped
    (skipped,) = [s for s in status.steps if s.step_id == "reminder-2"]
    assert (skipped.status, skipped.detail) == ("failed", f"no SMS: +33612345678 answered STOP on {date.today()}")
    assert len([r for r in endpoint.requests if r.path.endswith("/Messages.json")]) == 1


async def test_a_landline_gets_no_sms_and_the_step_says_why(env, open_case, worker, endpoint):
    case = await open_case(invoice("SMS-2", starts_at=START, customer={"id": "C-FIXE", "phone": "01 42 68 53 00"}))
    status = await case.advance_to(paris(2026, 5, 4, 12))
    (texted,) = [s for s in status.steps if s.step_id == "reminder-1"]
    assert (texted.status, texted.detail) == (
        "failed", "no SMS: '01 42 68 53 00' is not a mobile number: it cannot receive an SMS"
    )  # fmt: skip
    assert endpoint.requests == []
