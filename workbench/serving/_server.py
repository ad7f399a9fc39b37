"""What one scoring-server process holds and does, apart from HTTP: deployments, routing, records, rollback.

The champion and challenger are swapped as whole objects (a request reads each once), so a new @champion set
in the registry is loaded beside the old one by a background thread and takes over between two requests,
without dropping any.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from mlflow import MlflowClient

from workbench.decision import spec_reason_codes
from workbench.governance import AuditTrail, MlflowVersionStore, RolloutSetting, read_setting, write_setting
from workbench.serving._decision_store import DecisionStore, new_decision_id
from workbench.serving._deployment import Deployment, DeploymentError, load_deployment
from workbench.serving._inputs import InputError
from workbench.serving._registry_watch import RegistryWatch
from workbench.serving._rollout import CanaryJudge

log = logging.getLogger("workbench.serving")

SYSTEM_ACTOR = "scoring-server"


@dataclass
class Outcome:
    """One answered application: the record that was made durable, and the route that answered."""

    record: dict[str, Any]

    def response(self) -> dict[str, Any]:
        """The JSON a client receives for this application."""
        r = self.record
        return {
            "decision_id": r["id"],
            "score": r["score"],
            "decision": r["decision"],
            "reasons": r["reasons"],
            "model": r["model"],
            "version": r["version"],
            "route": r["route"],
        }


#: (second since the epoch, its ISO text): the date and time part changes once a second, not once a request
_second: tuple[int, str] = (-1, "")


def _now() -> str:
    """UTC time as ISO 8601 with microseconds, as ``datetime.now(UTC).isoformat()`` gives, at a third the cost."""
    global _second
    seconds, nanoseconds = divmod(time.time_ns(), 1_000_000_000)
    second = _second
    if second[0] != seconds:
        second = _second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{second[1]}.{nanoseconds // 1000:06d}+00:00"


class ModelServer:
    """Champion, optional challenger, rollout setting and the decision log for one registered model."""

    def __init__(
        self,
        model: str,
        client: MlflowClient,
        decisions: DecisionStore,
        audit: AuditTrail,
        *,
        refresh_seconds: float = 2.0,
        compile_path: bool = True,
    ) -> None:
        self.model = model
        self.client = client
        self.versions = MlflowVersionStore(client)
        self.decisions = decisions
        self.audit = audit
        self.refresh_seconds = refresh_seconds
        self.compile_path = compile_path
        self.champion: Deployment | None = None
        self.challenger: Deployment | None = None
        self._refused_challenger: tuple[int, str] | None = None
        self.setting = RolloutSetting()
        self.judge: CanaryJudge | None = None
        self.events: list[dict[str, Any]] = []
        self._judge_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.random = random.Random()
        self.watch = RegistryWatch(client.tracking_uri)  # configure() keeps the registry in the tracking store

    # --- loading and following the registry ---------------------------------------------------------------

    def _alias(self, alias: str) -> int | None:
        return self.versions.alias_holder(self.model, alias)

    def _load(self, version: int) -> Deployment:
        return load_deployment(self.client, self.model, version, compile_path=self.compile_path)

    def start(self) -> None:
        """Load the @champion (required) and the @challenger, then follow the registry in the background."""
        version = self._alias("champion")
        if version is None:
            raise DeploymentError(f"{self.model} has no @champion; promote an approved version first")
        self.champion = self._load(version)
        self.refresh()
        if self.refresh_seconds > 0:
            self._thread = threading.Thread(target=self._follow, name="registry-follower", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop following the registry."""
        self._stop.set()

    def _follow(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            try:
                self.follow_round()
            except Exception:  # a registry hiccup must not stop the server; the next round retries
                log.exception("refreshing %s from the registry failed", self.model)

    def follow_round(self) -> None:
        """One round of following: ask the registry unless its files say nothing changed; re-read the setting."""
        if self.watch.unchanged():
            self.refresh_setting()
            return
        stamp = self.watch.stamp()
        self.refresh()
        self.watch.asked(stamp)

    def _event(self, kind: str, **details: Any) -> None:
        self.events.append({"time": _now(), "event": kind, **details})
        del self.events[:-50]
        log.info("%s %s", kind, details)

    def refresh(self) -> None:
        """Pick up a new @champion / @challenger and the current rollout setting."""
        champion = self._alias("champion")
        if champion is not None and self.champion is not None and champion != self.champion.version:
            try:
                replacement = self._load(champion)
            except DeploymentError as refusal:
                self._event("champion_refused", version=champion, reason=str(refusal))
            else:
                previous, self.champion = self.champion.version, replacement
                self._event("champion_changed", previous=previous, version=champion)
        challenger = self._alias("challenger")
        current = self.challenger.version if self.challenger else None
        if challenger != current:
            if challenger is None:
                self.challenger = None
                self._event("challenger_removed", version=current)
            else:
                try:
                    self.challenger = self._load(challenger)
                    self._event("challenger_loaded", version=challenger)
                except DeploymentError as refusal:
                    self.challenger = None
                    # a nominated, not yet approved challenger is re-checked every round; say so once
                    if self._refused_challenger != (challenger, str(refusal)):
                        self._refused_challenger = (challenger, str(refusal))
                        self._event("challenger_refused", version=challenger, reason=str(refusal))
        self.refresh_setting()

    # --- scoring ------------------------------------------------------------------------------------------

    def _challenger_in_play(self) -> tuple[Deployment | None, RolloutSetting]:
        setting, challenger = self.setting, self.challenger
        if setting.mode == "off" or challenger is None or setting.challenger_version != challenger.version:
            return None, setting
        return challenger, setting

    def decide(self, applications: Any, client: str | None) -> tuple[list[Outcome], list[dict[str, Any]]]:
        """Validate and score applications; returns the answers and every record to make durable first.

        Raises :class:`InputError` (nothing is recorded) when an application breaks the contract.
        """
        started = time.perf_counter()
        champion = self.champion
        rows = champion.schema.check(applications)
        scores, contributions = champion.scorer.score(rows)
        reasons = spec_reason_codes(champion.spec, contributions, rows)
        latency = (time.perf_counter() - started) * 1000.0
        when = _now()
        records = [
            {
                "id": new_decision_id(),
                "time": when,
                "model": champion.name,
                "version": champion.version,
                "model_sha256": champion.model_sha256,
                "route": "champion",
                "input": row,
                "score": float(score),
                "decision": champion.rule.label(score),
                "reasons": reason,
                "latency_ms": latency,
                "client": client,
                "related": None,
            }
            for row, score, reason in zip(rows, scores, reasons, strict=True)
        ]
        answers = [Outcome(r) for r in records]
        challenger, setting = self._challenger_in_play()
        if challenger is None:
            return answers, records
        if setting.mode == "shadow":
            picked = list(range(len(rows)))
        else:
            picked = [i for i in range(len(rows)) if self.random.random() < setting.share]
        if not picked:
            return answers, records
        challenger_records, failed, took = self._score_challenger(challenger, [applications[i] for i in picked])
        route = "shadow" if setting.mode == "shadow" else "canary"
        for position, i in enumerate(picked):
            champion_record = records[i]
            if failed:
                if route == "canary":
                    self._observe(error=True, latency_ms=took, canary=None, champion=champion_record["score"])
                continue
            record = {**challenger_records[position], "route": route, "client": client, "time": when}
            if route == "shadow":
                record["related"] = champion_record["id"]
                records.append(record)
                continue
            # the canary answers; the champion's decision is recorded in its shadow, linked, for comparison
            champion_record["route"] = "shadow"
            champion_record["related"] = record["id"]
            records.append(record)
            answers[i] = Outcome(record)
            self._observe(error=False, latency_ms=took, canary=record["score"], champion=champion_record["score"])
        return answers, records

    def _score_challenger(
        self, challenger: Deployment, applications: list[Any]
    ) -> tuple[list[dict[str, Any]], bool, float]:
        started = time.perf_counter()
        try:
            rows = challenger.schema.check(applications)
            scores, contributions = challenger.scorer.score(rows)
            reasons = spec_reason_codes(challenger.spec, contributions, rows)
        except (InputError, ArithmeticError, ValueError, RuntimeError, KeyError, TypeError) as error:
            log.warning("challenger %s/%s failed: %s", self.model, challenger.version, error)
            return [], True, (time.perf_counter() - started) * 1000.0
        took = (time.perf_counter() - started) * 1000.0
        records = [
            {
                "id": new_decision_id(),
                "model": challenger.name,
                "version": challenger.version,
                "model_sha256": challenger.model_sha256,
                "input": row,
                "score": float(score),
                "decision": challenger.rule.label(score),
                "reasons": reason,
                "latency_ms": took,
                "related": None,
            }
            for row, score, reason in zip(rows, scores, reasons, strict=True)
        ]
        return records, False, took

    def _observe(self, *, error: bool, latency_ms: float, canary: float | None, champion: float) -> None:
        with self._judge_lock:
            if self.judge is not None:
                self.judge.observe(error=error, latency_ms=latency_ms, canary_score=canary, champion_score=champion)

    def judge_canary(self) -> str | None:
        """Roll the canary back if it breaches a limit; returns the reason when it did."""
        with self._judge_lock:
            setting, judge = self.setting, self.judge
            if setting.mode != "canary" or judge is None or not judge.due():
                return None
            verdict = judge.verdict()
            if verdict is None:
                return None
            self.judge = None  # no second verdict from this process
        reason = f"automatic rollback of the canary: {verdict.reason}"
        written = write_setting(
            self.model,
            "off",
            challenger_version=setting.challenger_version,
            actor=SYSTEM_ACTOR,
            reason=reason,
            expected_generation=setting.generation,
        )
        if written is not None:  # another process may have rolled it back first
            self.audit.append(
                actor=SYSTEM_ACTOR,
                role="system",
                action="rollback_canary",
                target=f"{self.model}/{setting.challenger_version}",
                reason=reason,
                before="canary",
                after="off",
                outcome="accepted",
                details={"share": setting.share, **verdict.measurements},
            )
            self.setting = written
        self._event("canary_rolled_back", reason=reason, measurements=verdict.measurements)
        self.refresh_setting()
        return reason

    def refresh_setting(self) -> None:
        """Re-read the rollout setting now (after a rollback or in tests)."""
        setting = read_setting(self.model)
        with self._judge_lock:
            if setting.generation != self.setting.generation or self.judge is None:
                self.setting = setting
                self.judge = CanaryJudge(self.champion.spec.serving.rollout, self.champion.reference_scores)

    def health(self) -> dict[str, Any]:
        """What this process serves and how."""
        challenger, setting = self._challenger_in_play()
        return {
            "status": "ok" if self.champion else "not ready",
            "process": os.getpid(),  # which scoring worker answered
            "model": self.model,
            "champion": self.champion.describe() if self.champion else None,
            "challenger": self.challenger.describe() if self.challenger else None,
            "rollout": {
                "mode": setting.mode,
                "share": setting.share,
                "active": challenger is not None,
                "changed": setting.changed,
                "changed_by": setting.changed_by,
                "reason": setting.reason,
            },
            "events": self.events[-10:],
        }
