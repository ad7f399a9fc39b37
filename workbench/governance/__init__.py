"""Governance: users and roles, the lifecycle rules, and the hash-chained audit trail."""

from workbench.governance._audit import AuditTrail, Problem, audit_path
from workbench.governance._inventory import inventory
from workbench.governance._service import ALIASES, RULES, GovernanceError, GovernanceService
from workbench.governance._store import InMemoryVersionStore, MlflowVersionStore, VersionStore
from workbench.governance._users import (
    DEMO_USERS,
    MIN_SECRET_LENGTH,
    ROLES,
    AuthenticationError,
    User,
    UserError,
    UserStore,
    users_path,
)

__all__ = [
    "ALIASES",
    "DEMO_USERS",
    "MIN_SECRET_LENGTH",
    "ROLES",
    "RULES",
    "AuditTrail",
    "AuthenticationError",
    "GovernanceError",
    "GovernanceService",
    "InMemoryVersionStore",
    "MlflowVersionStore",
    "Problem",
    "User",
    "UserError",
    "UserStore",
    "VersionStore",
    "audit_path",
    "inventory",
    "users_path",
]


def service(client=None) -> GovernanceService:
    """The governance service over the configured registry and audit trail."""
    from workbench.registry import configure

    return GovernanceService(MlflowVersionStore(client or configure()), AuditTrail())
