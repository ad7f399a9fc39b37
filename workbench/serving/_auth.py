"""Bearer tokens for the scoring server, checked against the governance users file.

Tokens are issued per user (``workbench users token NAME``) and stored as sha256 digests; the server keeps
the digest-to-user index in memory and re-reads the users file when it changes (checked at most once a
second), so a revoked token stops working within a second without a restart. A users file that cannot be read (a
half-written or damaged file) leaves the last good index in place and is logged by name until it reads again:
no request fails for it, and no token it no longer holds survives a repaired file.
"""

from __future__ import annotations

import logging
import time

from workbench.governance import User, UsersFileError, UserStore, token_sha256

log = logging.getLogger(__name__)


class TokenIndex:
    """Who holds a token, from the users file, refreshed when the file changes."""

    def __init__(self, store: UserStore | None = None, recheck_seconds: float = 1.0) -> None:
        self.store = store or UserStore()
        self.recheck_seconds = recheck_seconds
        self._index: dict[str, User] = {}
        self._stamp: float | None = None
        self._checked = 0.0

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < self.recheck_seconds and self._stamp is not None:
            return
        self._checked = now
        try:
            stamp = self.store.path.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = -1
        if stamp != self._stamp:
            try:
                self._index = self.store.token_index() if stamp != -1 else {}
            except UsersFileError as error:
                # keep the last good index; the stamp stays old, so the file is read again at the next check
                log.error("%s; the server keeps the tokens it last read", error)
                return
            self._stamp = stamp

    def user(self, token: str) -> User | None:
        """The token's holder, or None."""
        self._refresh()
        return self._index.get(token_sha256(token))
