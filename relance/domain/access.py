"""Who may do what through the HTTP API: four roles, each a superset of the one before it.

- sales: read a customer's standing, open cases and balances; no contact details, no action.
- collector: also case status and statements, every ops action of the daily work, tasks.
- legal: also court and agency actions and formal notice documents.
- admin: also write-offs, policy re-application, and API tokens.
"""

from enum import StrEnum


class Role(StrEnum):
    sales = "sales"
    collector = "collector"
    legal = "legal"
    admin = "admin"


RANK = {Role.sales: 0, Role.collector: 1, Role.legal: 2, Role.admin: 3}

LEGAL_ACTIONS = frozenset(
    {
        "registered_letter_delivered", "mail_returned", "court_order_issued", "order_served", "opposition_filed",
        "judgment_paid", "agency_update",
    }
)  # fmt: skip
ADMIN_ACTIONS = frozenset({"write_off", "reapply_policy"})


def role_for_action(action: str) -> Role:
    """The least role that may send this ops action."""
    if action in ADMIN_ACTIONS:
        return Role.admin
    if action in LEGAL_ACTIONS:
        return Role.legal
    return Role.collector


def may(role: Role, needed: Role) -> bool:
    return RANK[role] >= RANK[needed]
