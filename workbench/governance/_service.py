"""The one place the lifecycle rules live; the CLI, the app and the scoring server all act through it.

Rules: each action needs an authenticated user holding the action's role and a written reason; the validator
is not the developer; the approver is neither; only validated versions are approved, unless an override is
justified in writing (recorded as a high-severity finding); approval records the artefact's sha256 and
deployment checks it; only approved versions are deployed. Every request, accepted or refused, leaves exactly
one audit record.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from workbench.governance._audit import AuditIntegrityError, AuditTrail
from workbench.governance._reconcile import version_differences
from workbench.governance._rollout_setting import MODES, write_setting
from workbench.governance._state import ModelState, changes_of, model_state, split_target
from workbench.governance._users import User
from workbench.governance._version_store import VersionStore
from workbench.registry import SERVABLE_STATUSES, STATUS_TAG, Status

ALIASES = ("champion", "challenger")
STATUS_FOR_ALIAS = {"champion": Status.PRODUCTION, "challenger": Status.CHALLENGER}


class GovernanceError(PermissionError):
    """A refused action; the refusal is already in the audit trail."""


@dataclass(frozen=True)
class Rule:
    """Who may do an action and from which states."""

    role: str | tuple[str, ...]
    from_states: tuple[str, ...]


RULES: dict[str, Rule] = {
    "register": Rule("developer", (Status.DEVELOPMENT,)),
    "start_validation": Rule("validator", (Status.DEVELOPMENT, Status.VALIDATED, Status.UNDER_REVIEW)),
    "validate": Rule("validator", (Status.DEVELOPMENT, Status.VALIDATED, Status.UNDER_REVIEW)),
    "approve": Rule("approver", (Status.VALIDATED,)),
    "approve_override": Rule("approver", (Status.DEVELOPMENT, Status.UNDER_REVIEW)),
    "reject": Rule("approver", (Status.DEVELOPMENT, Status.VALIDATED, Status.UNDER_REVIEW, Status.APPROVED)),
    "promote_champion": Rule("deployer", (Status.APPROVED, Status.CHALLENGER)),
    "promote_challenger": Rule("deployer", (Status.APPROVED,)),
    "archive": Rule(
        ("deployer", "admin"),
        (
            Status.DEVELOPMENT,
            Status.VALIDATED,
            Status.APPROVED,
            Status.REJECTED,
            Status.PRODUCTION,
            Status.CHALLENGER,
            Status.UNDER_REVIEW,
        ),
    ),
    "add_finding": Rule(
        "validator",
        (
            Status.DEVELOPMENT,
            Status.VALIDATED,
            Status.UNDER_REVIEW,
            Status.APPROVED,
            Status.PRODUCTION,
            Status.CHALLENGER,
        ),
    ),
    "set_rollout": Rule("deployer", (Status.CHALLENGER,)),
    "nominate_challenger": Rule("developer", (Status.DEVELOPMENT,)),
    "mark_under_review": Rule(
        ("validator", "admin"), (Status.PRODUCTION, Status.CHALLENGER, Status.VALIDATED, Status.APPROVED)
    ),
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class GovernanceService:
    """Applies the lifecycle rules to registered versions; the audit trail is the record, the registry a mirror.

    Each request takes the model's lock (a ``filelock`` beside a file trail, an advisory lock in PostgreSQL, so
    CLI commands, the app and servers in other processes are serialised), repairs any record the registry has not
    yet applied, checks the rules against the state the trail decides, appends its record durably and only then
    changes the registry.
    """

    def __init__(self, store: VersionStore, audit: AuditTrail) -> None:
        self.store = store
        self.audit = audit
        self.repairs: list[str] = []  # what the last request repaired before it acted

    # --- the trail, the lock and the mirror -------------------------------------------------------------------

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """The model's lock (re-entrant within this process); a lock that cannot be taken refuses the request."""
        with ExitStack() as stack:
            try:
                stack.enter_context(self.audit.model_lock(name))
            except (AuditIntegrityError, OSError) as error:
                raise GovernanceError(f"refused: the lock of model {name!r} cannot be taken ({error})") from None
            yield

    def state(self, name: str) -> ModelState:
        """The model's state as its records decide it."""
        try:
            return model_state(self.audit.verified_records(f"{name}/"), name)
        except AuditIntegrityError as error:
            raise GovernanceError(f"refused: {error}") from None

    def _apply(self, record: dict[str, Any]) -> None:
        """Mirror one record's change into the registry, then move the model's anchor to it (idempotent)."""
        target = split_target(record["target"])
        if target is None:
            return
        name, version = target
        apply = changes_of(record)
        if apply.get("tags"):
            self.store.set_tags(name, version, {k: str(v) for k, v in apply["tags"].items()})
        for alias, holder in (apply.get("aliases") or {}).items():
            if holder is None:
                if self.store.alias_holder(name, alias) is not None:
                    self.store.remove_alias(name, alias)
            elif self.store.alias_holder(name, alias) != int(holder):
                self.store.set_alias(name, alias, int(holder))
        self.store.set_anchor(name, int(record["seq"]), str(record["hash"]))

    def repair(self, name: str) -> list[str]:
        """Apply the model's records that the registry has not applied (a crash or a full disk between the
        record and the change); returns what was repaired. Call with the model's lock held."""
        anchor = self.store.anchor(name)
        if anchor is None and not self.store.versions(name):
            return []
        done = anchor[0] if anchor else 0
        try:
            records = self.audit.verified_records(f"{name}/")
        except AuditIntegrityError as error:
            raise GovernanceError(f"refused: {error}") from None
        if anchor is not None and not any(r.get("seq") == done and r.get("hash") == anchor[1] for r in records):
            raise GovernanceError(
                f"refused: the registry's anchor on {name!r} names audit record {done}, which {self.audit.where} "
                "does not hold: the trail was deleted, cut short or replaced. Run `workbench audit verify` and "
                f"restore the trail from its backup{self.audit.file_left_behind()}"
            )
        repaired = []
        for record in records:
            if int(record.get("seq", 0)) <= done or split_target(record.get("target", "")) is None:
                continue
            if split_target(record["target"])[0] != name:
                continue
            self._apply(record)
            if changes_of(record):
                repaired.append(
                    f"repaired: applied audit record {record['seq']} ({record['action']} {record['target']}) "
                    "that the registry had not applied"
                )
        return repaired

    def _begin(self, name: str) -> None:
        self.repairs = self.repair(name)

    def _append(self, **fields: Any) -> dict[str, Any]:
        try:
            return self.audit.append(**fields)
        except AuditIntegrityError as error:
            raise GovernanceError(f"refused: {error}") from None

    # --- the mechanics of one request ---------------------------------------------------------------------

    def _role(self, user: User, rule: Rule) -> str | None:
        roles = (rule.role,) if isinstance(rule.role, str) else rule.role
        return next((r for r in roles if user.has(r)), None)

    def _request(
        self,
        user: User,
        action: str,
        name: str,
        version: int,
        reason: str,
        checks: list[tuple[bool, str]],
        changes: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
        rule_name: str | None = None,
        aliases: dict[str, int | None] | None = None,
    ) -> dict[str, Any]:
        """Check the rule and the extra checks; record then apply the change, or record and raise the refusal.

        Call with the model's lock held (the actions do), so that the checks see the state the change applies to.
        """
        rule = RULES[rule_name or action]
        target = f"{name}/{version}"
        role = self._role(user, rule)
        try:
            before = self._tags(name, version, strict=True).get(STATUS_TAG, Status.DEVELOPMENT)
        except LookupError as error:
            self._refuse(user, role or "-", action, target, reason, None, str(error), details)
        needed = rule.role if isinstance(rule.role, str) else " or ".join(rule.role)
        failures = []
        if role is None:
            failures.append(f"{user.name} does not hold the {needed} role needed to {action.replace('_', ' ')}")
        if not reason or not reason.strip():
            failures.append("reason: a written reason is required for every action")
        if before not in rule.from_states:
            failures.append(
                f"{target} is {before}; {action.replace('_', ' ')} needs one of: {', '.join(rule.from_states)}"
            )
        failures += [message for ok, message in checks if not ok]
        if failures:
            self._refuse(user, role or "-", action, target, reason, before, "; ".join(failures), details)
        after = (changes or {}).get(STATUS_TAG, before)
        apply: dict[str, Any] = {}
        if changes:
            apply["tags"] = dict(changes)
        if aliases:
            apply["aliases"] = dict(aliases)
        record = self._append(
            actor=user.name,
            role=role or "-",
            action=action,
            target=target,
            reason=reason,
            before=before,
            after=after,
            outcome="accepted",
            details={**(details or {}), **({"apply": apply} if apply else {})},
        )
        self._apply_recorded(record)
        return record

    def _apply_recorded(self, record: dict[str, Any]) -> None:
        """Apply a record just written; if the registry cannot take it, say so: the next command repairs it."""
        try:
            self._apply(record)
        except Exception as error:  # the registry's own errors (a full disk, a lost database connection)
            raise GovernanceError(
                f"{record['action']} {record['target']} is recorded (audit record {record['seq']}) but the registry "
                f"could not be updated ({error}); the next governance command applies it from the trail"
            ) from None

    def _refuse(
        self,
        user: User,
        role: str,
        action: str,
        target: str,
        reason: str,
        before: str | None,
        message: str,
        details: dict[str, Any] | None,
    ) -> None:
        record = self._append(
            actor=user.name,
            role=role,
            action=action,
            target=target,
            reason=reason,
            before=before,
            after=before,
            outcome="refused",
            details={**(details or {}), "refusal": message},
        )
        name = split_target(target)
        if name is not None and self.store.versions(name[0]):
            self.store.set_anchor(name[0], int(record["seq"]), str(record["hash"]))
        raise GovernanceError(f"refused: {message}")

    def _tags(self, name: str, version: int | None, strict: bool = False) -> dict[str, str]:
        """The version's tags as the trail decides them ({} for an unknown version unless ``strict``)."""
        if version is None:
            return {}
        try:
            registry = self.store.tags(name, version)
        except LookupError:
            if strict:
                raise
            return {}
        return self.state(name).version(version, registry)

    def _artefact_sha256(self, name: str, version: int, tags: dict[str, str]) -> tuple[str, list[tuple[bool, str]]]:
        """The artefact's sha256 now, or "" and a failed check naming why it cannot be read."""
        if not tags:
            return "", []
        try:
            return self.store.artefact_sha256(name, version), []
        except LookupError as error:
            return "", [(False, str(error))]

    def _alias_holder(self, name: str, alias: str) -> int | None:
        return self.state(name).aliases.get(alias)

    # --- actions ------------------------------------------------------------------------------------------
    # Each public action takes the model's lock, repairs, then checks and acts on the trail's state.

    def register(self, user: User, name: str, version: int, reason: str = "registered by the training suite"):
        """The developer's registration of a new version (status development); records the artefact's sha256."""
        with self.lock(name):
            self._begin(name)
            tags = self._tags(name, version)
            known = [
                r["seq"]
                for r in self.audit.records(f"{name}/{version}")
                if r["target"] == f"{name}/{version}" and r["action"] == "register" and r["outcome"] == "accepted"
            ]
            registered_sha = self.state(name).governed(version).get("model_sha256")
            try:
                registry_sha = self.store.tags(name, version).get("model_sha256")
            except LookupError:
                registry_sha = None  # refused below as an unknown version
            return self._request(
                user,
                "register",
                name,
                version,
                reason,
                [
                    (
                        tags.get("developed_by", user.name) == user.name,
                        f"the version was developed by {tags.get('developed_by')}, not {user.name}",
                    ),
                    (
                        not known or registered_sha == registry_sha,
                        f"the audit trail already holds {name}/{version} (record {known[0] if known else 0}) with "
                        "another artefact: this registry is not the one the trail records; restore its backup",
                    ),
                ],
                changes={
                    STATUS_TAG: Status.DEVELOPMENT,
                    "developed_by": user.name,
                    **({"model_sha256": tags["model_sha256"]} if tags.get("model_sha256") else {}),
                },
            )

    def _independent(self, user: User, tags: dict[str, str], name: str, version: int, duty: str) -> list:
        """Nobody performs two of develop, validate, approve and deploy on one version."""
        done = {"developed_by": "developed", "validated_by": "validated", "approved_by": "approved"}
        done["deployed_by"] = "deployed"
        return [
            (tags.get(key) != user.name, f"{user.name} {verb} {name}/{version} and cannot {duty} it")
            for key, verb in done.items()
            if not key.startswith(duty[:5])
        ]

    def start_validation(self, user: User, name: str, version: int, reason: str = "independent validation"):
        """The validator's request to validate; refused for anyone who developed, approved or deployed it."""
        with self.lock(name):
            self._begin(name)
            tags = self._tags(name, version)
            return self._request(
                user,
                "start_validation",
                name,
                version,
                reason,
                self._independent(user, tags, name, version, "validate"),
            )

    def record_validation(
        self,
        user: User,
        name: str,
        version: int,
        outcome: str,
        reason: str,
        open_findings: dict[str, int] | None = None,
        run_id: str = "",
    ):
        """The validator's conclusion: ``validated`` moves the status, ``findings open`` keeps it."""
        with self.lock(name):
            self._begin(name)
            tags = self._tags(name, version)
            counts = open_findings or {}
            checks = self._independent(user, tags, name, version, "validate") + [
                (
                    outcome in ("validated", "findings open"),
                    f"outcome: {outcome!r} is not 'validated' or 'findings open'",
                ),
                (
                    outcome != "validated" or counts.get("high", 0) == 0,
                    "outcome: a version with open high-severity findings cannot be validated",
                ),
            ]
            changes = {
                "validated_by": user.name,
                "validation_date": _now(),
                "validation_outcome": outcome,
                **{f"open_findings_{k}": str(v) for k, v in counts.items()},
            }
            if run_id:
                changes["validation_run_id"] = run_id
            before = tags.get(STATUS_TAG, Status.DEVELOPMENT)
            if outcome == "validated":
                changes[STATUS_TAG] = Status.VALIDATED
            elif before == Status.VALIDATED:
                changes[STATUS_TAG] = (
                    Status.UNDER_REVIEW
                )  # a re-validation that finds high-severity issues withdraws it
            return self._request(
                user,
                "validate",
                name,
                version,
                reason,
                checks,
                changes,
                details={"outcome": outcome, "open_findings": counts, "run_id": run_id},
            )

    def approve(
        self, user: User, name: str, version: int, comment: str, conditions: str = "", override_justification: str = ""
    ):
        """The committee's approval; records the artefact's sha256 that deployment will insist on."""
        with self.lock(name):
            self._begin(name)
            tags = self._tags(name, version)
            override = bool(override_justification.strip())
            current_sha, unreadable = self._artefact_sha256(name, version, tags)
            checks = (
                unreadable
                + self._independent(user, tags, name, version, "approve")
                + [
                    (
                        not tags or current_sha == tags.get("model_sha256"),
                        f"the artefact's sha256 {current_sha[:12]}... differs from the registered "
                        f"{tags.get('model_sha256', '')[:12]}...: the model was changed after registration",
                    ),
                ]
            )
            changes = {
                STATUS_TAG: Status.APPROVED,
                "approved_by": user.name,
                "approval_date": _now(),
                "approved_model_sha256": current_sha,
                "approval_comment": comment,
                "approval_conditions": conditions,
            }
            details = {"conditions": conditions, "model_sha256": current_sha}
            if override:
                changes |= {
                    "approval_override": override_justification,
                    "override_finding": "high: approved without completed validation",
                }
                details |= {
                    "override_justification": override_justification,
                    "finding": {
                        "severity": "high",
                        "title": "Approved without completed validation",
                        "detail": override_justification,
                    },
                }
            return self._request(
                user,
                "approve",
                name,
                version,
                comment,
                checks,
                changes,
                details,
                rule_name="approve_override" if override else "approve",
            )

    def reject(self, user: User, name: str, version: int, comment: str):
        """The committee's rejection."""
        with self.lock(name):
            self._begin(name)
            tags = self._tags(name, version)
            checks = [
                (user.name != tags.get("developed_by"), f"{user.name} developed {name}/{version} and cannot reject it"),
                (user.name != tags.get("validated_by"), f"{user.name} validated {name}/{version} and cannot reject it"),
            ]
            return self._request(
                user,
                "reject",
                name,
                version,
                comment,
                checks,
                {
                    STATUS_TAG: Status.REJECTED,
                    "rejected_by": user.name,
                    "rejection_date": _now(),
                    "rejection_comment": comment,
                },
            )

    def promote(self, user: User, name: str, version: int, alias: str, reason: str):
        """Make an approved version the champion (production) or the challenger; checks the approved hash."""
        if alias not in ALIASES:
            raise ValueError(f"alias: {alias!r} is not one of {ALIASES}")
        with self.lock(name):
            self._begin(name)
            tags = self._tags(name, version)
            current_sha, unreadable = self._artefact_sha256(name, version, tags)
            people = [tags.get("developed_by"), tags.get("validated_by"), tags.get("approved_by")]
            checks = unreadable + [
                (
                    not tags or current_sha == tags.get("approved_model_sha256"),
                    f"the artefact's sha256 {current_sha[:12]}... is not the approved "
                    f"{tags.get('approved_model_sha256', '(none)')[:12]}... the trail holds: refusing to deploy",
                ),
                (
                    not tags or bool(tags.get("validated_by")),
                    f"{name}/{version} has no recorded independent validation (approved by override): "
                    "validate it first",
                ),
                (
                    not tags or (all(people) and len(set(people)) == 3),
                    "developer, validator and approver must be three different people",
                ),
                *self._independent(user, tags, name, version, "deploy"),
            ]
            state = self.state(name)
            try:
                outside = version_differences(state, version, self.store.tags(name, version))
            except LookupError:
                outside = []  # refused as an unknown version
            checks += [(not outside, "; ".join(outside) + ": refusing to deploy")]
            previous = state.aliases.get(alias)
            aliases: dict[str, int | None] = {alias: version}
            if alias == "champion" and state.aliases.get("challenger") == version:
                aliases["challenger"] = None
            record = self._request(
                user,
                f"promote_{alias}",
                name,
                version,
                reason,
                checks,
                {STATUS_TAG: STATUS_FOR_ALIAS[alias], f"{alias}_since": _now(), "deployed_by": user.name},
                details={"alias": alias, "previous": previous, "model_sha256": current_sha},
                aliases=aliases,
            )
            if previous is not None and previous != version:
                replaced = Status.ARCHIVED if alias == "champion" else Status.APPROVED
                self._apply_recorded(
                    self._append(
                        actor=user.name,
                        role=record["role"],
                        action=f"replaced_as_{alias}",
                        target=f"{name}/{previous}",
                        reason=f"{name}/{version} became {alias}: {reason}",
                        before=STATUS_FOR_ALIAS[alias],
                        after=replaced,
                        outcome="accepted",
                        details={"by": version, "apply": {"tags": {STATUS_TAG: replaced}}},
                    )
                )
            return record

    def nominate_challenger(
        self, user: User, name: str, version: int, reason: str, details: dict[str, Any] | None = None
    ):
        """A retrained version takes ``@challenger`` while it is validated; servers load it only once approved.

        Refused while a deployed version (approved or later) holds the alias: taking it would stop that
        version's shadow or canary traffic, which is a deployer's decision.
        """
        with self.lock(name):
            self._begin(name)
            holder = self._alias_holder(name, "challenger")
            status = self._tags(name, holder).get(STATUS_TAG) if holder not in (None, version) else None
            checks = [
                (
                    status not in SERVABLE_STATUSES,
                    f"@challenger is held by {name}/{holder} ({status}); a deployer archives it or promotes this "
                    "version once it is approved",
                )
            ]
            return self._request(
                user,
                "nominate_challenger",
                name,
                version,
                reason,
                checks,
                details=details,
                aliases={"challenger": version},
            )

    def archive(self, user: User, name: str, version: int, reason: str):
        """Retire a version; any alias pointing at it is removed."""
        with self.lock(name):
            self._begin(name)
            held = {alias: None for alias, holder in self.state(name).aliases.items() if holder == version}
            return self._request(
                user, "archive", name, version, reason, [], {STATUS_TAG: Status.ARCHIVED}, aliases=held or None
            )

    def add_finding(
        self, user: User, name: str, version: int, severity: str, title: str, remediation: str, reason: str = ""
    ):
        """A validator's finding, beyond those the suite raised; a high one withdraws a validated version.

        The open count is computed from the trail under the model's lock, so concurrent findings add up exactly.
        """
        with self.lock(name):
            self._begin(name)
            tags = self._tags(name, version)
            checks = [
                (user.name != tags.get("developed_by"), f"{user.name} developed {name}/{version} and cannot review it"),
                (severity in ("high", "medium", "low"), f"severity: {severity!r} is not high, medium or low"),
                (bool(title.strip()), "title: a finding needs a title"),
                (bool(remediation.strip()), "remediation: a finding needs the remediation expected"),
            ]
            key = f"open_findings_{severity}"
            changes = {key: str(int(tags.get(key, 0) or 0) + 1)} if severity in ("high", "medium", "low") else {}
            if severity == "high" and tags.get(STATUS_TAG) == Status.VALIDATED:
                changes[STATUS_TAG] = Status.UNDER_REVIEW
            return self._request(
                user,
                "add_finding",
                name,
                version,
                reason or title,
                checks,
                changes,
                details={
                    "finding": {"severity": severity, "title": title, "remediation": remediation, "status": "open"}
                },
            )

    def mark_under_review(self, user: User, name: str, version: int, reason: str):
        """A monitoring breach or a concern puts a version under review (it keeps serving until replaced)."""
        with self.lock(name):
            self._begin(name)
            return self._request(
                user, "mark_under_review", name, version, reason, [], {STATUS_TAG: Status.UNDER_REVIEW}
            )

    def set_rollout(self, user: User, name: str, mode: str, reason: str, share: float = 0.0):
        """Put the @challenger in shadow, in canary on a share of traffic, or take it out (``off``).

        Every scoring-server process follows the new setting within its refresh interval.
        """
        with self.lock(name):
            self._begin(name)
            version = self._alias_holder(name, "challenger")
            checks = [(mode in MODES, f"mode: {mode!r} is not one of {', '.join(MODES)}")]
            if mode == "canary":
                checks.append((0.0 < share < 1.0, f"share: a canary needs a share between 0 and 1, got {share}"))
            if version is None:
                if mode != "off":
                    self._refuse(user, "-", "set_rollout", f"{name}/-", reason, None, "no @challenger is set", None)
                return write_setting(name, "off", challenger_version=None, actor=user.name, reason=reason)
            record = self._request(
                user,
                "set_rollout",
                name,
                version,
                reason,
                checks,
                details={"mode": mode, "share": share if mode == "canary" else 0.0},
            )
            write_setting(name, mode, share=share, challenger_version=version, actor=user.name, reason=reason)
            return record
