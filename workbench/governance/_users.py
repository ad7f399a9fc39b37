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


class AuthenticationError(PermissionError):
    """Unknown user or wrong secret; the message never says which."""


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
    """Reads and writes the users file; every change rewrites it atomically."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or users_path()

    def _load(self) -> dict[str, User]:
        if not self.path.is_file():
            return {}
        raw = json.loads(self.path.read_text("utf-8"))
        return {name: User(**record) for name, record in raw.items()}

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

    def add(self, name: str, roles: list[str], secret: str) -> User:
        """Create a user with roles and a secret (stored as a salted scrypt hash)."""
        if not _NAME.match(name):
            raise UserError(f"name: {name!r} must be 2-32 characters: lowercase letters, digits, '.', '_', '-'")
        unknown = [r for r in roles if r not in ROLES]
        if not roles or unknown:
            raise UserError(f"role: {', '.join(unknown) or '(none)'} is not a role; roles are {', '.join(ROLES)}")
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
        users[name] = user
        self._save(users)
        return user

    def remove(self, name: str) -> None:
        """Delete a user (their past actions stay in the audit trail)."""
        users = self._load()
        if name not in users:
            raise UserError(f"user: no user named {name!r}")
        del users[name]
        self._save(users)

    def issue_token(self, name: str, label: str = "") -> str:
        """A new bearer token for a user (shown once; only its sha256 is kept)."""
        users = self._load()
        if name not in users:
            raise UserError(f"user: no user named {name!r}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        users[name].tokens.append(
            {
                "sha256": token_sha256(token),
                "label": label,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
        self._save(users)
        return token

    def revoke_tokens(self, name: str) -> int:
        """Remove every token of a user; returns how many there were."""
        users = self._load()
        if name not in users:
            raise UserError(f"user: no user named {name!r}")
        count = len(users[name].tokens)
        users[name].tokens = []
        self._save(users)
        return count

    def token_index(self) -> dict[str, User]:
        """Token sha256 to user, for servers that check a token per request."""
        return {t["sha256"]: user for user in self._load().values() for t in user.tokens}

    def authenticate(self, name: str, secret: str) -> User:
        """The user if the secret matches, else :class:`AuthenticationError` (constant-time comparison)."""
        user = self._load().get(name)
        if user is None:
            _hash(secret, b"0" * 16)  # same work for unknown users: no timing oracle
            raise AuthenticationError("authentication failed: unknown user or wrong password")
        if not hmac.compare_digest(_hash(secret, base64.b64decode(user.salt)), user.secret_hash):
            raise AuthenticationError("authentication failed: unknown user or wrong password")
        return user
