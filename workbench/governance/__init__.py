"""Governance: users and roles, the lifecycle rules, the rollout setting, and the keyed, anchored audit trail
that decides every version's lifecycle state (the registry's tags and aliases mirror it)."""

from workbench.governance._adopt import adopt, is_legacy
from workbench.governance._audit import AuditIntegrityError, AuditTrail, Problem, audit_path, trail_database_url
from workbench.governance._inventory import inventory
from workbench.governance._keys import AuditKeyError, create_key, key_path, rotate_key
from workbench.governance._reconcile import reconcile, version_differences
from workbench.governance._rollout_setting import (
    MODES,
    RolloutError,
    RolloutSetting,
    read_setting,
    rollout_path,
    write_setting,
)
from workbench.governance._service import ALIASES, RULES, GovernanceError, GovernanceService
from workbench.governance._state import GOVERNED_TAGS, ModelState, model_state
from workbench.governance._throttle import LoginPolicy, LoginThrottle
from workbench.governance._users import (
    DEMO_USERS,
    MIN_SECRET_LENGTH,
    ROLES,
    AuthenticationError,
    User,
    UserError,
    UsersFileError,
    UserStore,
    token_sha256,
    users_path,
)
from workbench.governance._version_store import InMemoryVersionStore, MlflowVersionStore, VersionStore

__all__ = [
    "ALIASES",
    "GOVERNED_TAGS",
    "AuditIntegrityError",
    "AuditKeyError",
    "adopt",
    "create_key",
    "is_legacy",
    "key_path",
    "rotate_key",
    "ModelState",
    "model_state",
    "reconcile",
    "version_differences",
    "DEMO_USERS",
    "MIN_SECRET_LENGTH",
    "MODES",
    "ROLES",
    "RULES",
    "AuditTrail",
    "AuthenticationError",
    "GovernanceError",
    "GovernanceService",
    "InMemoryVersionStore",
    "MlflowVersionStore",
    "Problem",
    "RolloutError",
    "RolloutSetting",
    "User",
    "UserError",
    "UserStore",
    "UsersFileError",
    "LoginPolicy",
    "LoginThrottle",
    "VersionStore",
    "audit_path",
    "copy_trail_to_database",
    "migrate_trail_database",
    "trail_database_url",
    "inventory",
    "read_setting",
    "rollout_path",
    "token_sha256",
    "users_path",
    "write_setting",
]


def service(client=None) -> GovernanceService:
    """The governance service over the configured registry and audit trail."""
    from workbench.registry import configure

    return GovernanceService(MlflowVersionStore(client or configure()), AuditTrail())


def migrate_trail_database(owner_url: str, app_role: str | None = None) -> None:
    """Create the audit trail's tables in PostgreSQL as the database's owner and grant ``app_role`` SELECT and
    INSERT only (imported on use: psycopg is not needed by a file trail)."""
    from workbench.governance._trail_postgres import migrate

    migrate(owner_url, app_role)


def copy_trail_to_database(owner_url: str, trail: AuditTrail) -> int:
    """Copy a verified file trail into an empty PostgreSQL trail (as the database's owner); returns the number
    of records copied. Refused, with the first problem, when the file trail does not verify."""
    from workbench.governance._trail_postgres import copy_file_trail

    problems = trail.verify()
    if problems:
        raise AuditIntegrityError(f"{trail.where} does not verify ({problems[0].message}); nothing was copied")
    return copy_file_trail(owner_url, trail.path, trail.storage.head())
