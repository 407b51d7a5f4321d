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
