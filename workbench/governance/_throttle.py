"""Login throttling: after a few wrong passwords a user must wait, growing each time; after more, the account
is locked until an administrator unlocks it or the lock expires.

A wait is enforced by refusing, without checking the password, any attempt made before the next allowed time
(so a guesser learns nothing from it and no server worker sleeps). The counts live in a small JSON file beside
the users file, changed under a ``filelock`` so that the CLI, the app and every server process share them.
The policy (how many failures before delays, the first delay, how many before the lock, its length) comes from
the environment so that an installation can set it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock


@dataclass(frozen=True)
class LoginPolicy:
    """When wrong passwords start to cost time and when they lock the account."""

    delay_after: int = 5
    first_delay_seconds: float = 1.0
    max_delay_seconds: float = 60.0
    lock_after: int = 10
    lock_minutes: float = 15.0

    @classmethod
    def from_environment(cls) -> LoginPolicy:
        """``WORKBENCH_LOGIN_DELAY_AFTER``, ``..._FIRST_DELAY``, ``..._LOCK_AFTER``, ``..._LOCK_MINUTES``."""
        default = cls()

        def number(name: str, fallback: float) -> float:
            raw = os.environ.get(f"WORKBENCH_LOGIN_{name}")
            if raw is None:
                return fallback
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"WORKBENCH_LOGIN_{name}: {raw!r} is not a number") from None
            if value < 0:
                raise ValueError(f"WORKBENCH_LOGIN_{name}: must not be negative, got {raw!r}")
            return value

        return cls(
            delay_after=int(number("DELAY_AFTER", default.delay_after)),
            first_delay_seconds=number("FIRST_DELAY", default.first_delay_seconds),
            lock_after=int(number("LOCK_AFTER", default.lock_after)),
            lock_minutes=number("LOCK_MINUTES", default.lock_minutes),
        )

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures (doubling from the first delay)."""
        if failures < self.delay_after:
            return 0.0
        return min(self.max_delay_seconds, self.first_delay_seconds * 2 ** (failures - self.delay_after))


class Throttled(PermissionError):
    """A login attempt refused before its password was checked (too early, or the account is locked)."""


class LoginThrottle:
    """Consecutive failures per user name, shared by every process through one locked file."""

    def __init__(self, path: Path, policy: LoginPolicy | None = None, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.policy = policy or LoginPolicy.from_environment()
        self.clock = clock
        self._lock = FileLock(str(self.path.with_suffix(".lock")))

    def _read(self) -> dict[str, dict[str, Any]]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {}  # counts are a safeguard, not a record: a damaged file restarts them (the trail keeps each)
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, dict[str, Any]]) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=1, sort_keys=True), "utf-8")
        temporary.replace(self.path)

    def check(self, name: str) -> None:
        """Raise :class:`Throttled` if ``name`` may not try a password now."""
        entry = self._read().get(name)
        if not entry:
            return
        now = self.clock()
        if entry.get("locked_until", 0) > now:
            minutes = (entry["locked_until"] - now) / 60
            raise Throttled(
                f"login: {name} is locked after {entry['failures']} failed attempts for another {minutes:.0f} "
                "minute(s); an administrator can unlock it (`workbench users unlock`)"
            )
        wait = entry.get("not_before", 0) - now
        if wait > 0:
            raise Throttled(f"login: too many failed attempts for {name}; try again in {wait:.0f} s")

    def failed(self, name: str) -> dict[str, Any]:
        """Count one failure; returns the user's entry (failures, not_before, locked_until)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            data = self._read()
            entry = data.get(name, {"failures": 0})
            entry["failures"] = int(entry.get("failures", 0)) + 1
            now = self.clock()
            entry["not_before"] = now + self.policy.delay(entry["failures"])
            if entry["failures"] >= self.policy.lock_after:
                entry["locked_until"] = now + self.policy.lock_minutes * 60
            data[name] = entry
            self._write(data)
            return entry

    def succeeded(self, name: str) -> None:
        """A right password clears the count."""
        self.clear(name)

    def clear(self, name: str) -> bool:
        """Forget a user's failures (and lock); True if there were any."""
        if not self.path.is_file():
            return False
        with self._lock:
            data = self._read()
            found = data.pop(name, None) is not None
            if found:
                self._write(data)
            return found
