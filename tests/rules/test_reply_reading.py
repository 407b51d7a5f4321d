"""Reading a debtor's reply (relance/domain/replies.py), as table tests: which of our messages it answers, an
auto-responder or a person, and what is new in it."""

import pytest

from relance.domain.limits import check_message, clean_message
from relance.domain.replies import html_text, is_automatic, new_text, reply_address, token_for, tokens_in

DOMAIN = "reply.vendor.example"


def test_a_token_is_the_same_for_every_attempt_and_unguessable_without_the_secret():
    token = token_for("invoice-F-1:courtesy", b"secret-one")
    assert token == token_for("invoice-F-1:courtesy", b"secret-one") != token_for("invoice-F-1:courtesy", b"two")
    assert len(token) == 20 and reply_address(token, DOMAIN) == f"r+{token}@{DOMAIN}"


@pytest.mark.parametrize(
    ("addresses", "found"),
    [
        ([f"r+{'a' * 20}@{DOMAIN}"], ["a" * 20]),
        ([f"Relances <R+{'A' * 20}@Reply.Vendor.Example>"], ["a" * 20]),  # a server that changed the case
        ([f"r+{'a' * 20}@{DOMAIN}, r+{'b' * 20}@{DOMAIN}", f"r+{'a' * 20}@{DOMAIN}"], ["a" * 20, "b" * 20]),
        ([f"r+{'a' * 20}@other.example"], []),  # another domain
        ([f"r+{'a' * 19}@{DOMAIN}", f"r+{'z' * 20}@{DOMAIN}", f"x+{'a' * 20}@{DOMAIN}"], []),  # not our shape
        (["", "not an address"], []),
    ],
)
def test_which_of_our_messages_a_reply_answers(addresses, found):
    assert tokens_in(addresses, DOMAIN) == found


@pytest.mark.parametrize(
    ("headers", "subject", "automatic"),
    [
        ({}, "Re: Facture F-1", False),
        ({"Auto-Submitted": "auto-replied"}, "Re: Facture F-1", True),
        ({"Auto-Submitted": "no"}, "Re: Facture F-1", False),  # RFC 3834: written by a person
        ({"X-Autoreply": "yes"}, "Re: F-1", True),
        ({"Precedence": "bulk"}, "Re: F-1", True),
        ({"X-Auto-Response-Suppress": "All"}, "Re: F-1", False),  # Outlook sets it on mails people write
        ({}, "Réponse automatique : Facture F-1", True),
        ({}, "Out of Office: Invoice F-1", True),
        ({}, "Automatic reply: Invoice F-1", True),
        ({}, "Absence du 1er au 15 mai", True),
        ({}, "Re: absence de bon de commande", False),  # the word, not an auto-responder's subject
    ],
)
def test_an_auto_responder_is_told_from_a_person(headers, subject, automatic):
    assert is_automatic(headers, subject) is automatic


@pytest.mark.parametrize(
    ("text", "new"),
    [
        ("Payé hier.\n\nOn Mon, 27 Apr 2026 at 09:00, Vendor <r@v.example> wrote:\n> Rappel", "Payé hier."),
        ("Payé hier.\nOn Mon, 27 Apr 2026 at 09:00 Vendor <r@v.example>\nwrote:\n> Rappel", "Payé hier."),
        ("Payé hier.\r\n\r\nLe lun. 27 avr. 2026 à 09:00, Vendor a écrit :\r\n> Rappel", "Payé hier."),
        ("Payé hier.\n\n-----Original Message-----\nFrom: Vendor", "Payé hier."),
        ("Payé hier.\n\n________________________________\nDe : Vendor\nEnvoyé : lundi", "Payé hier."),
        ("Payé hier.\n> quoted\nmore", "Payé hier."),
        ("Une ligne\n\nune autre\n", "Une ligne\n\nune autre"),
        ("", ""),
    ],
)
def test_what_is_new_in_a_reply(text, new):
    assert new_text(text) == new


def test_an_html_only_reply_is_read_as_text_never_run():
    html = "<html><head><title>t</title></head><body><p>Payé <b>hier</b></p><script>alert(1)</script><div>Jean</div>"
    assert html_text(html) == "Payé hier\n\nJean"


def test_a_reply_text_keeps_its_lines_and_loses_other_controls():
    assert clean_message("a\r\nb\tc\x1b[31md\u202e", 100) == "a\nb\tc[31md"
    assert check_message("a\nb\tc") == "a\nb    c"
    with pytest.raises(ValueError, match="control character U\\+001B"):
        check_message("a\x1b")
    assert clean_message("x" * 10, 5) == "xxxx…"
