"""The platform's API, as far as we use it: posting a CDAR we owe. Each approved platform (PA) has its own API;
this adapter posts the XML with a bearer token and our key as the idempotency key, and says whether the
platform took it, refused it for good, or should be asked again later."""

from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Answer:
    accepted: bool
    final: bool  # a refusal that asking again will not change (4xx but 408, 409, 429)
    said: str


async def post_cdar(url: str, token: str | None, key: str, xml: bytes, timeout: float = 30.0) -> Answer:
    headers = {"Content-Type": "application/xml", "Idempotency-Key": key}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            response = await http.post(url, content=xml, headers=headers)
    except httpx.HTTPError as err:
        return Answer(False, False, f"not reached: {type(err).__name__}: {str(err)[:200]}")
    said = f"HTTP {response.status_code}: {' '.join(response.text.split())[:500]}"
    if response.is_success or response.status_code == 409:  # 409: the same key was taken before
        return Answer(True, True, said)
    final = 400 <= response.status_code < 500 and response.status_code not in (408, 425, 429)
    return Answer(False, final, said)
