"""Reading a debtor's reply, pure: which message it answers (the Reply-To token), whether a person wrote it
or an auto-responder did, and what is new in it (without the quoted history). The webhook that receives it is
relance/api/inbound.py; what a reply does to a case is `contact.reply` (relance/domain/rules.py)."""

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from email.utils import getaddresses
from html.parser import HTMLParser

TOKEN = re.compile(r"^r\+([0-9a-f]{20})$")
# Subjects auto-responders use, in French and English ("Réponse automatique : …", "Out of Office: …").
AUTOMATIC_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[ -]?(reply|response)|autoreply|absent\b|absence\b|"
    r"r[ée]ponse automatique|message d'absence|je suis absent|en cong[ée]s?\b|vacation)",
    re.IGNORECASE,
)
# Where the quoted history of a reply begins (Gmail, Outlook, Apple Mail, Thunderbird; French and English).
QUOTE_STARTS = (
    re.compile(r"^\s*>"),
    re.compile(r"^\s*On .*wrote:\s*$"),
    re.compile(r"^\s*Le .*a [ée]crit\s*:\s*$"),
    re.compile(r"^\s*-{2,}\s*(Original Message|Message d'origine|Message original|Forwarded message)\s*-{2,}", re.I),
    re.compile(r"^\s*(From|De)\s*:\s*.+", re.I),
    re.compile(r"^\s*_{10,}\s*$"),
)


def token_for(message_key: str, secret: bytes) -> str:
    """The Reply-To token of a message: unguessable without the secret, the same for every attempt to send it."""
    return hmac.new(secret, message_key.encode(), hashlib.sha256).hexdigest()[:20]


def reply_address(token: str, domain: str) -> str:
    return f"r+{token}@{domain}"


def tokens_in(addresses: Iterable[str], domain: str) -> list[str]:
    """The tokens of our reply addresses among `addresses` (To, envelope recipients), in order, once each."""
    found: list[str] = []
    for _name, address in getaddresses(list(addresses)):
        local, _, host = address.strip().lower().rpartition("@")
        match = TOKEN.match(local)
        if match and host == domain.lower() and match.group(1) not in found:
            found.append(match.group(1))
    return found


def is_automatic(headers: Mapping[str, str], subject: str) -> bool:
    """An out-of-office or other machine's answer (RFC 3834 `Auto-Submitted`, the usual X- headers,
    `Precedence: auto_reply|bulk|junk`, or a subject auto-responders use): recorded, it pauses nothing."""
    seen = {name.lower(): value.strip().lower() for name, value in headers.items()}
    if seen.get("auto-submitted", "no") not in ("", "no"):
        return True
    if any(name in seen for name in ("x-autoreply", "x-autorespond", "x-autoreply-from", "x-mail-autoreply")):
        return True
    if seen.get("precedence") in ("auto_reply", "bulk", "junk"):
        return True
    return bool(AUTOMATIC_SUBJECT.match(subject))


def new_text(text: str) -> str:
    """The reply without the history it quotes, nor the blank lines around what is left."""
    lines = text.replace("\r\n", "\n").split("\n")
    end = len(lines)
    for n, line in enumerate(lines):
        wraps = line.strip().startswith("On ") and n + 1 < len(lines) and lines[n + 1].strip().endswith("wrote:")
        if wraps or any(start.match(line) for start in QUOTE_STARTS):
            end = n
            break
    return "\n".join(lines[:end]).strip()


class _Text(HTMLParser):
    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote", "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_text(html: str) -> str:
    """What an HTML-only reply says, as text: tags dropped, scripts and styles with their content (never run)."""
    reader = _Text()
    reader.feed(html)
    reader.close()
    lines = [" ".join(line.split()) for line in "".join(reader.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
