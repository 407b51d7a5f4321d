"""Why an invoice is paid late: the cause a person learns on a call, a promise, a dispute or a write-off.

One taxonomy for every place a cause is recorded, so that `relance report` can break lateness down and the
risk score can tell a customer who forgot from one who cannot pay.
"""

from enum import StrEnum


class LatenessCause(StrEnum):
    forgot = "forgot"
    cash_flow = "cash_flow"  # cash-flow difficulty
    dispute = "dispute"
    wrong_contact = "wrong_contact"  # wrong address, contact changed
    insolvency = "insolvency"  # sauvegarde, redressement, liquidation
    billing_error = "billing_error"
    awaiting_po = "awaiting_po"  # awaiting a purchase order or an internal approval
    other = "other"


LABELS = {
    "fr": {
        "forgot": "oubli",
        "cash_flow": "difficultés de trésorerie",
        "dispute": "litige",
        "wrong_contact": "mauvaise adresse ou contact changé",
        "insolvency": "procédure collective",
        "billing_error": "erreur de facturation",
        "awaiting_po": "attente de bon de commande",
        "other": "autre",
    },
    "en": {
        "forgot": "forgot",
        "cash_flow": "cash-flow difficulty",
        "dispute": "dispute",
        "wrong_contact": "wrong address or contact changed",
        "insolvency": "insolvency proceedings",
        "billing_error": "billing error",
        "awaiting_po": "awaiting a purchase order",
        "other": "other",
    },
}


# What a debtor may say is wrong with an invoice (their page): the reason opens the dispute's text, in French
# as the reports group it ("<reason>: <their words>"), shown to the debtor in their language.
DISPUTE_REASONS = {
    "fr": {
        "not_received": "marchandise ou prestation non reçue",
        "damaged": "marchandise endommagée ou non conforme",
        "price": "prix ou remise contesté",
        "duplicate": "facture en double",
        "already_paid": "déjà payée",
        "billing_error": "erreur de facturation",
        "other": "autre",
    },
    "en": {
        "not_received": "goods or service not received",
        "damaged": "goods damaged or not as ordered",
        "price": "price or discount disputed",
        "duplicate": "duplicate invoice",
        "already_paid": "already paid",
        "billing_error": "billing error",
        "other": "other",
    },
}
