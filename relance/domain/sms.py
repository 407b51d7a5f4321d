"""What an SMS may be: a mobile number in E.164, and a text within a few segments (GSM-7, or UCS-2 as soon as
one character is outside GSM-7: an "œ" or an emoji halves what a segment holds). Pure; phonenumbers reads
its own metadata."""

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

# GSM 03.38: the basic set, and the extension set (each costs two septets)
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("^{}\\[~]|€\f")
MAX_SEGMENTS = 3  # past this an SMS costs more than a reminder is worth, and some handsets drop it
MOBILE = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
STOP_WORDS = frozenset({"STOP", "STOPALL", "ARRET", "ARRÊT", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE"})


@dataclass(frozen=True)
class Segments:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    count: int


# Typography that costs an SMS its GSM-7 alphabet (and so half its length) for nothing a phone shows differently
PLAIN = str.maketrans({"\u202f": " ", "\u00a0": " ", "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                       "\u00ab": '"', "\u00bb": '"', "\u2013": "-", "\u2014": "-", "\u2026": "..."})  # fmt: skip


def sms_text(text: str) -> str:
    """A rendered message as an SMS carries it: plain spaces, quotes and dashes; one paragraph."""
    return " ".join(text.translate(PLAIN).split())


def segments(text: str) -> Segments:
    """How many SMS a text takes: 160 GSM-7 septets (153 each when split) or 70 UCS-2 units (67 when split)."""
    if all(c in GSM_BASIC or c in GSM_EXTENSION for c in text):
        units = sum(2 if c in GSM_EXTENSION else 1 for c in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = 70, 67, "UCS-2"
    count = 1 if units <= single else -(-units // part)
    return Segments(encoding, units, count)


def mobile_number(phone: str | None, country: str | None) -> str:
    """The number in E.164 when it is a valid mobile one (a landline cannot receive an SMS); ValueError naming
    what is wrong otherwise."""
    if not phone:
        raise ValueError("no phone number")
    try:
        number = phonenumbers.parse(phone, country or "FR")
    except NumberParseException as err:
        raise ValueError(f"{phone!r} is not a phone number ({err})") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{phone!r} is not a valid phone number")
    if phonenumbers.number_type(number) not in MOBILE:
        raise ValueError(f"{phone!r} is not a mobile number: it cannot receive an SMS")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_stop(body: str) -> bool:
    """An inbound SMS that asks for no more (STOP, ARRET, UNSUBSCRIBE…, as carriers and Twilio read them)."""
    return body.strip().upper().rstrip(".! ") in STOP_WORDS
