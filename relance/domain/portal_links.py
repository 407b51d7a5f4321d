"""Links to the debtor's own page, pure: signed with RELANCE_PORTAL_SECRET (itsdangerous), scoped to one customer,
expiring after RELANCE_PORTAL_DAYS. Whether the customer's links were withdrawn since is the ledger's to say
(relance/ledger/portal.py)."""

from datetime import datetime

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "relance-portal-v1"


class LinkRefused(Exception):
    """A link that opens nothing; the class says why (the page says it in words)."""


class LinkInvalid(LinkRefused):
    """Not a link of ours (or altered)."""


class LinkExpired(LinkRefused):
    """Signed too long ago."""


class LinkRevoked(LinkRefused):
    """Signed before the customer's links were withdrawn."""


def sign_link(secret: str, customer_id: str, lang: str = "fr") -> str:
    """A link for the customer, whose page opens in `lang` (the customer's language) unless the reader asks."""
    return URLSafeTimedSerializer(secret, salt=SALT).dumps({"c": customer_id, "l": lang})


def open_link(secret: str, token: str, max_days: int) -> tuple[str, datetime, str]:
    """The customer the link is for, when it was signed, and its language; LinkInvalid or LinkExpired otherwise."""
    serializer = URLSafeTimedSerializer(secret, salt=SALT)
    try:
        payload, signed_at = serializer.loads(token, max_age=max_days * 86400, return_timestamp=True)
    except SignatureExpired:
        raise LinkExpired("this link has expired") from None
    except BadSignature:
        raise LinkInvalid("this link is not valid") from None
    customer, lang = _customer_and_language(payload)
    return customer, signed_at, lang


def signed_customer(secret: str, token: str) -> tuple[str, str]:
    """The customer and language of a link signed by us, however old (for a fresh link sent to the address on
    file, never to the reader); LinkInvalid when we did not sign it."""
    try:
        payload = URLSafeTimedSerializer(secret, salt=SALT).loads(token)
    except BadSignature:
        raise LinkInvalid("this link is not valid") from None
    return _customer_and_language(payload)


def _customer_and_language(payload: object) -> tuple[str, str]:
    """What a signed link says: its customer (LinkInvalid without one) and its language (French by default)."""
    customer = payload.get("c") if isinstance(payload, dict) else None
    if not isinstance(customer, str) or not customer:
        raise LinkInvalid("this link is not valid")
    lang = payload.get("l") if isinstance(payload, dict) else None
    return customer, lang if lang in ("fr", "en") else "fr"


FORM_SALT = "relance-portal-form-v1"


def form_token(secret: str, link: str) -> str:
    """The value every form of the page carries: signed, bound to the link it was served under."""
    return URLSafeTimedSerializer(secret, salt=FORM_SALT).dumps({"l": link[-24:]})


def form_is_ours(secret: str, link: str, token: str, max_hours: int = 12) -> bool:
    """Whether a posted form came from this link's page, lately (never from another site's form)."""
    try:
        payload = URLSafeTimedSerializer(secret, salt=FORM_SALT).loads(token, max_age=max_hours * 3600)
    except BadSignature:  # SignatureExpired is one
        return False
    return isinstance(payload, dict) and payload.get("l") == link[-24:]
