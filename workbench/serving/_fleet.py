"""The models one server process serves: each a :class:`ModelServer`, loaded, or refused with the reason.

``workbench serve`` without ``--model`` serves every registered model with a @champion, and picks up a model
promoted later; with ``--model A --model B`` it serves that set. A model that cannot be loaded (no approved
@champion, a changed artefact) does not stop the others: its routes answer 503 with the reason, ``/health``
lists it, and it is tried again with a growing pause (2 s doubling to a minute), so fixing it in the registry
is enough.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from mlflow import MlflowClient

from workbench.governance import AuditTrail
from workbench.serving._decision_store import DecisionStore
from workbench.serving._deployment import DeploymentError
from workbench.serving._registry_watch import RegistryWatch
from workbench.serving._server import ModelServer

log = logging.getLogger("workbench.serving")

RETRY_FIRST_SECONDS, RETRY_MOST_SECONDS = 2.0, 60.0


def models_with_champion(client: MlflowClient) -> list[str]:
    """Registered models whose @champion alias is set."""
    return sorted(m.name for m in client.search_registered_models() if "champion" in (m.aliases or {}))


class Fleet:
    """Every model this process serves, sharing one decision store."""

    def __init__(
        self,
        client: MlflowClient,
        decisions: DecisionStore,
        audit: AuditTrail,
        *,
        names: list[str] | None = None,
        refresh_seconds: float = 2.0,
        compile_path: bool = True,
    ) -> None:
        self.client = client
        self.decisions = decisions
        self.audit = audit
        self.chosen = list(dict.fromkeys(names)) if names else None  # None: every model with a @champion
        self.refresh_seconds = refresh_seconds
        self.compile_path = compile_path
        self.servers: dict[str, ModelServer] = {}
        self.refused: dict[str, str] = {}
        self._retry: dict[str, tuple[float, float]] = {}  # name -> (next attempt, pause)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.watch = RegistryWatch(client.tracking_uri)

    @classmethod
    def of(cls, server: ModelServer) -> Fleet:
        """A fleet of one model server already built (and started) by the caller."""
        fleet = cls(server.client, server.decisions, server.audit, names=[server.model], refresh_seconds=0)
        fleet.servers[server.model] = server
        return fleet

    @property
    def names(self) -> list[str]:
        """Every model this process is asked to serve, loaded or not."""
        return sorted({*self.servers, *self.refused})

    @property
    def single(self) -> str | None:
        """The model's name when exactly one is served (``/score`` and ``/invocations`` answer for it)."""
        names = self.names
        return names[0] if len(names) == 1 else None

    def _wanted(self) -> list[str]:
        return self.chosen if self.chosen is not None else models_with_champion(self.client)

    def _load(self, name: str) -> None:
        server = ModelServer(
            name,
            self.client,
            self.decisions,
            self.audit,
            refresh_seconds=self.refresh_seconds,
            compile_path=self.compile_path,
        )
        try:
            server.start()
        except DeploymentError as refusal:
            if self.refused.get(name) != str(refusal):
                log.error("not serving %s: %s", name, refusal)
            self.refused[name] = str(refusal)
            _, pause = self._retry.get(name, (0.0, RETRY_FIRST_SECONDS / 2))
            pause = min(pause * 2, RETRY_MOST_SECONDS)
            self._retry[name] = (time.monotonic() + pause, pause)
            return
        self.servers[name] = server
        self.refused.pop(name, None)
        self._retry.pop(name, None)
        log.info("serving %s/%s", name, server.champion.version)

    def start(self) -> None:
        """Load every model (refusals noted), then follow the registry in the background."""
        for name in self._wanted():
            self._load(name)
        if self.refresh_seconds > 0:
            self._thread = threading.Thread(target=self._follow, name="fleet-follower", daemon=True)
            self._thread.start()

    def _follow(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            try:
                self.follow_round()
            except Exception:  # a registry hiccup must not stop the server; the next round retries
                log.exception("following the registry failed")

    def follow_round(self) -> None:
        """Load models promoted since (when serving all) and retry refused ones whose pause is over.

        MLflow is asked only when the registry may have changed (:class:`RegistryWatch`) or a retry is due.
        """
        now = time.monotonic()
        due = [name for name in self.refused if self._retry.get(name, (0.0, 0.0))[0] <= now]
        if not due and self.watch.unchanged():
            return
        stamp = self.watch.stamp()
        for name in self._wanted():
            if name in self.servers:
                continue
            if name not in self.refused or name in due:
                self._load(name)
        self.watch.asked(stamp)

    def stop(self) -> None:
        """Stop following the registry (every model)."""
        self._stop.set()
        for server in self.servers.values():
            server.stop()

    def health(self) -> dict[str, Any]:
        """Per model: what is served, or why not."""
        models: dict[str, Any] = {name: server.health() for name, server in list(self.servers.items())}
        for name, reason in list(self.refused.items()):
            models[name] = {"status": "unavailable", "model": name, "reason": reason}
        return dict(sorted(models.items()))
