"""The audit key: the secret that authenticates every audit record, kept where the registry's files are not.

Whoever can write ``registry_store/`` can rewrite the trail's files, so a plain hash chain only shows that
someone recomputed it. Each record and the head therefore carry an HMAC-SHA256 under a key read from
``WORKBENCH_AUDIT_KEY`` (64 hex characters, e.g. from a secret manager), or from the file named by
``WORKBENCH_AUDIT_KEY_FILE``, or by default from ``secrets/audit.key`` beside (never inside) the project's
``registry_store/``. The demonstration key is created by ``workbench users demo``; a brand-new trail creates
its key on its first record. Retired keys stay in the same folder as ``audit.key.<key id>`` so older records
still verify after a rotation (``workbench audit rotate-key``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

KEY_ENV = "WORKBENCH_AUDIT_KEY"
KEY_FILE_ENV = "WORKBENCH_AUDIT_KEY_FILE"


class AuditKeyError(RuntimeError):
    """The audit key is missing or unreadable; the message names where it was looked for and what to do."""


def key_id(key: bytes) -> str:
    """A short public name of a key (the first 16 hex digits of its sha256), recorded in every record."""
    return hashlib.sha256(b"workbench-audit-key" + key).hexdigest()[:16]


def default_key_path(trail: Path) -> Path:
    """``secrets/audit.key`` beside the ``registry_store/`` that holds the trail, else beside the trail."""
    trail = Path(trail).resolve()
    for folder in trail.parents:
        if folder.name == "registry_store":
            return folder.parent / "secrets" / "audit.key"
    return trail.parent / "secrets" / "audit.key"


def key_path(trail: Path) -> Path:
    """The key file in use (``WORKBENCH_AUDIT_KEY_FILE`` or the default)."""
    configured = os.environ.get(KEY_FILE_ENV)
    return Path(configured).expanduser() if configured else default_key_path(trail)


def _parse(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise AuditKeyError(f"{where}: the audit key must be 64 hexadecimal characters") from None
    if len(key) < 32:
        raise AuditKeyError(f"{where}: the audit key must be 64 hexadecimal characters (256 bits)")
    return key


@dataclass(frozen=True)
class Keyring:
    """The current key (signs new records) and retired ones (still verify the records they signed)."""

    current: bytes
    retired: dict[str, bytes]
    source: str

    @property
    def current_id(self) -> str:
        """The current key's id."""
        return key_id(self.current)

    def get(self, identity: str) -> bytes | None:
        """The key with this id, if this keyring holds it."""
        if identity == self.current_id:
            return self.current
        return self.retired.get(identity)

    def mac(self, message: str, identity: str | None = None) -> str | None:
        """HMAC-SHA256 of ``message`` under the named key (current by default); None for an unknown key."""
        key = self.current if identity is None else self.get(identity)
        if key is None:
            return None
        return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def _retired(folder: Path) -> dict[str, bytes]:
    found = {}
    if folder.is_dir():
        for path in folder.glob("audit.key.*"):
            try:
                key = _parse(path.read_text("utf-8"), str(path))
            except (OSError, AuditKeyError):
                continue
            found[key_id(key)] = key
    return found


def load_keyring(trail: Path) -> Keyring:
    """The keyring for a trail; :class:`AuditKeyError` when no key is configured or it cannot be read."""
    path = key_path(trail)
    retired = _retired(path.parent)
    if os.environ.get(KEY_ENV):
        return Keyring(_parse(os.environ[KEY_ENV], KEY_ENV), retired, KEY_ENV)
    if not path.is_file():
        raise AuditKeyError(
            f"{path}: the audit key is missing. Restore it from its backup, or set {KEY_ENV} or {KEY_FILE_ENV}; "
            "a demonstration project gets one from `workbench users demo`"
        )
    try:
        text = path.read_text("utf-8")
    except OSError as error:
        raise AuditKeyError(f"{path}: the audit key cannot be read ({error.strerror})") from None
    return Keyring(_parse(text, str(path)), retired, str(path))


def create_key(trail: Path) -> Path | None:
    """Write a new random key to the key file (mode 0600) unless a key is configured; its path if written."""
    if os.environ.get(KEY_ENV):
        return None
    path = key_path(trail)
    if path.is_file():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return path


def rotate_key(trail: Path) -> tuple[str, str]:
    """Retire the key file's key (kept as ``audit.key.<id>``) and write a new one; (old id, new id).

    Only for a key kept in a file: a key from the environment is rotated where it is stored.
    """
    if os.environ.get(KEY_ENV):
        raise AuditKeyError(f"{KEY_ENV} holds the key: rotate it in the secret store that sets it")
    ring = load_keyring(trail)
    path = key_path(trail)
    old = ring.current_id
    retired = path.with_name(f"audit.key.{old}")
    retired.write_text(ring.current.hex() + "\n", "utf-8")
    os.chmod(retired, 0o600)
    fresh = path.with_suffix(".new")
    descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    fresh.replace(path)
    return old, load_keyring(trail).current_id
