"""Where a case file leaves for a collection agency: its folder, or its HTTP endpoint (one POST per case,
with the case's idempotency key). Beside activities/email_delivery.py and activities/letter_delivery.py;
the hand-off step itself is in activities/legal_escalation.py."""

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from activities.delivery import DeliveryFailed, DeliveryInDoubt, DeliveryRefused, write_whole
from relance.domain.policy import Agency


def _folder_target(agency: Agency, case_id: str) -> Path:
    return Path(agency.delivery.path or ".") / f"{case_id}.json"


def delivered_to_folder(agency: Agency, case_id: str) -> str | None:
    target = _folder_target(agency, case_id)
    return f"folder:{target}" if target.exists() else None


def deliver_case_file(agency: Agency, case_id: str, idempotency_key: str, case_file: dict[str, Any]) -> str:
    """Write the case file to the agency's folder or POST it to its endpoint; the delivery's id.

    A 4xx (but 429) is a refusal, a 5xx or no connection a failure worth retrying, a timeout a doubt."""
    body = json.dumps(case_file, ensure_ascii=False).encode()
    if agency.delivery.kind == "folder":
        target = _folder_target(agency, case_id)
        write_whole(target, body)
        return f"folder:{target}"
    assert agency.delivery.url is not None
    post = urllib.request.Request(
        agency.delivery.url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
    )
    try:
        with urllib.request.urlopen(post, timeout=30) as answer:
            reply = answer.read()
    except urllib.error.HTTPError as err:
        message = f"{agency.name} answered {err.code}: {err.read()[:300].decode(errors='replace')}"
        raise (DeliveryRefused if 400 <= err.code < 500 and err.code != 429 else DeliveryFailed)(message) from err
    except TimeoutError as err:
        raise DeliveryInDoubt(f"{agency.name} did not answer in time: the case file may have arrived") from err
    except urllib.error.URLError as err:
        raise DeliveryFailed(f"{agency.name} unreachable: {err.reason}") from err
    try:
        reference = json.loads(reply).get("id")
    except (ValueError, AttributeError):
        reference = None
    return f"http:{reference or idempotency_key}"
