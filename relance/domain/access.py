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


class Undeclared(LookupError):
    """An action declares no least role: nobody may send it (fail closed) until it does."""


def role_for_action(action: type) -> Role:
    """The least role that may send this ops action, as the action declares it (`Action.least_role`)."""
    role = getattr(action, "least_role", None)
    if not isinstance(role, Role):
        raise Undeclared(f"action {getattr(action, 'name', action)!r} declares no least role: refused to everyone")
    return role


def may(role: Role, needed: Role) -> bool:
    return RANK[role] >= RANK[needed]
