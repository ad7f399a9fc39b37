"""Users and roles, kept in a file with salted scrypt hashes of their secrets (never the secrets themselves).

The file lives beside the registry (``registry_store/governance/users.json`` by default, or ``WORKBENCH_USERS``)
so that the CLI, the app and the scoring server authenticate against the same people.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from workbench.governance._audit import AuditIntegrityError, AuditTrail
from workbench.governance._throttle import LoginThrottle, Throttled
from workbench.paths import registry_store

ROLES = ("developer", "validator", "approver", "deployer", "admin", "client")
# the demonstration people (`workbench users demo`, the tests and benchmarks): one of each role
DEMO_USERS = {
    "priya": ["developer"],
    "marco": ["validator"],
    "helen": ["approver"],
    "sam": ["deployer"],
    "ada": ["admin"],
    "los": ["client"],
}
TOKEN_PREFIX = "wbt_"
_NAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
MIN_SECRET_LENGTH = 8


class UserError(ValueError):
    """A user-management request that cannot be done (bad name, unknown role, duplicate, missing user)."""


class UsersFileError(UserError):
    """The users file cannot be read; the message names it and what to do."""


class AuthenticationError(PermissionError):
    """Unknown user or wrong secret (the message never says which), or a throttled or locked login."""


@dataclass
class User:
    """A person (or a scoring client) and the roles they hold."""

    name: str
    roles: list[str]
    salt: str
    secret_hash: str
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    tokens: list[dict[str, str]] = field(default_factory=list)

    def has(self, role: str) -> bool:
        """True if the user holds ``role``."""
        return role in self.roles


def users_path() -> Path:
    """Where the users file is."""
    configured = os.environ.get("WORKBENCH_USERS")
    return Path(configured).expanduser() if configured else registry_store() / "governance" / "users.json"


def _hash(secret: str, salt: bytes) -> str:
    return base64.b64encode(hashlib.scrypt(secret.encode("utf-8"), salt=salt, **_SCRYPT)).decode("ascii")


def token_sha256(token: str) -> str:
    """Tokens are 256 random bits, so a plain sha256 is a safe and fast lookup key."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class UserStore:
    """Reads and writes the users file; every change rewrites it atomically and is recorded in the audit trail.

    Security events (users added or removed, roles changed, tokens issued or revoked, failed and throttled
    logins, unlocks) are audit records like any governance action: appended before the file changes.
    """

    def __init__(self, path: Path | None = None, audit: AuditTrail | None = None) -> None:
        self.path = path or users_path()
        self._audit = audit
        self._throttle: LoginThrottle | None = None

    @property
    def audit(self) -> AuditTrail:
        """The trail security events go to (the one beside the users file unless given)."""
        if self._audit is None:
            self._audit = AuditTrail() if self.path == users_path() else AuditTrail(self.path.parent / "audit.jsonl")
        return self._audit

    @property
    def throttle(self) -> LoginThrottle:
        """Failed-login counts beside the users file."""
        if self._throttle is None:
            self._throttle = LoginThrottle(self.path.with_name("logins.json"))
        return self._throttle

    def _event(self, actor: str, action: str, name: str, reason: str, before=None, after=None, **details) -> None:
        try:
            self.audit.append(
                actor=actor,
                role="admin" if actor not in ("-", "demo", name) else "-",
                action=action,
                target=f"user:{name}",
                reason=reason,
                before=None if before is None else str(before),
                after=None if after is None else str(after),
                outcome="refused" if action.startswith("login_") else "accepted",
                details=details,
            )
        except AuditIntegrityError as error:
            raise UserError(f"not done, the audit trail cannot record it: {error}") from None

    def _load(self) -> dict[str, User]:
        if not self.path.is_file():
            return {}
        try:
            raw = json.loads(self.path.read_text("utf-8"))
            if not isinstance(raw, dict):
                raise TypeError("the file does not hold an object of users")
            return {name: User(**record) for name, record in raw.items()}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError) as error:
            raise UsersFileError(
                f"{self.path}: the users file cannot be read ({error}); restore it from its backup "
                "(nothing was changed)"
            ) from None

    def _save(self, users: dict[str, User]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({n: asdict(u) for n, u in sorted(users.items())}, indent=2), "utf-8")
        os.chmod(temporary, 0o600)
        temporary.replace(self.path)

    def list(self) -> list[User]:
        """Every user, by name."""
        return sorted(self._load().values(), key=lambda u: u.name)

    def get(self, name: str) -> User:
        """One user, or :class:`UserError`."""
        users = self._load()
        if name not in users:
            raise UserError(f"user: no user named {name!r}")
        return users[name]

    @staticmethod
    def _check_roles(roles: list[str]) -> None:
        unknown = [r for r in roles if r not in ROLES]
        if not roles or unknown:
            raise UserError(f"role: {', '.join(unknown) or '(none)'} is not a role; roles are {', '.join(ROLES)}")

    def add(self, name: str, roles: list[str], secret: str, actor: str = "-") -> User:
        """Create a user with roles and a secret (stored as a salted scrypt hash)."""
        if not _NAME.match(name):
            raise UserError(f"name: {name!r} must be 2-32 characters: lowercase letters, digits, '.', '_', '-'")
        self._check_roles(roles)
        if len(secret) < MIN_SECRET_LENGTH:
            raise UserError(f"password: must be at least {MIN_SECRET_LENGTH} characters")
        users = self._load()
        if name in users:
            raise UserError(f"name: user {name!r} already exists")
        salt = secrets.token_bytes(16)
        user = User(
            name=name,
            roles=sorted(set(roles), key=ROLES.index),
            salt=base64.b64encode(salt).decode(),
            secret_hash=_hash(secret, salt),
        )
        self._event(actor, "user_add", name, "user added", None, ",".join(user.roles))
        users[name] = user
        self._save(users)
        return user

    def set_roles(self, name: str, roles: list[str], actor: str = "-") -> User:
        """Replace a user's roles."""
        self._check_roles(roles)
        users = self._load()
        if name not in users:
            raise UserError(f"user: no user named {name!r}")
        new = sorted(set(roles), key=ROLES.index)
        self._event(actor, "user_roles", name, "roles changed", ",".join(users[name].roles), ",".join(new))
        users[name].roles = new
        self._save(users)
        return users[name]

    def remove(self, name: str, actor: str = "-") -> None:
        """Delete a user (their past actions stay in the audit trail)."""
        users = self._load()
        if name not in users:
            raise UserError(f"user: no user named {name!r}")
        self._event(actor, "user_remove", name, "user removed", ",".join(users[name].roles), None)
        del users[name]
        self._save(users)

    def issue_token(self, name: str, label: str = "", actor: str = "-") -> str:
        """A new bearer token for a user (shown once; only its sha256 is kept)."""
        users = self._load()
        if name not in users:
            raise UserError(f"user: no user named {name!r}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = token_sha256(token)
        self._event(actor, "token_issue", name, label or "token issued", token_sha256=digest[:16], label=label)
        users[name].tokens.append(
            {"sha256": digest, "label": label, "created": datetime.now(UTC).isoformat(timespec="seconds")}
        )
        self._save(users)
        return token

    def revoke_tokens(self, name: str, actor: str = "-") -> int:
        """Remove every token of a user; returns how many there were."""
        users = self._load()
        if name not in users:
            raise UserError(f"user: no user named {name!r}")
        count = len(users[name].tokens)
        self._event(actor, "token_revoke", name, "tokens revoked", count, 0)
        users[name].tokens = []
        self._save(users)
        return count

    def unlock(self, name: str, actor: str = "-") -> bool:
        """Clear a user's failed logins and lock (an administrator's action)."""
        self._event(actor, "user_unlock", name, "login unlocked")
        return self.throttle.clear(name)

    def token_index(self) -> dict[str, User]:
        """Token sha256 to user, for servers that check a token per request."""
        return {t["sha256"]: user for user in self._load().values() for t in user.tokens}

    def authenticate(self, name: str, secret: str, channel: str = "cli") -> User:
        """The user if the secret matches, else :class:`AuthenticationError` (constant-time comparison).

        Attempts are throttled (:mod:`workbench.governance._throttle`); failed and throttled ones are audited.
        """
        try:
            self.throttle.check(name)
        except Throttled as error:
            self._event(name, "login_throttled", name, str(error), channel=channel)
            raise AuthenticationError(str(error)) from None
        user = self._load().get(name)
        if user is None:
            _hash(secret, b"0" * 16)  # same work for unknown users: no timing oracle
        if user is None or not hmac.compare_digest(_hash(secret, base64.b64decode(user.salt)), user.secret_hash):
            entry = self.throttle.failed(name)
            self._event(
                name,
                "login_failed",
                name,
                "unknown user or wrong password",
                failures=entry["failures"],
                channel=channel,
            )
            raise AuthenticationError("authentication failed: unknown user or wrong password")
        self.throttle.succeeded(name)
        return user
