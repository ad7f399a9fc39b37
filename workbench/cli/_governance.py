"""``workbench approve``, ``reject``, ``promote``, ``archive``, ``finding``, ``inventory``, ``users`` and
``audit``: the committee's, the deployer's and the administrator's commands.

Each action authenticates its user and goes through the governance service, which enforces the rules and
writes the audit trail; a refusal prints the reason and exits with status 2.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from workbench.cli._common import acting_user, fail, governance_service, login, registry_store_or_fail

app = typer.Typer(help="Committee and deployment actions on model versions, and the inventory.", no_args_is_help=True)
users_app = typer.Typer(
    help="Manage users and their roles (secrets are stored as salted scrypt hashes).", no_args_is_help=True
)
audit_app = typer.Typer(help="Read and verify the hash-chained audit trail.", no_args_is_help=True)


def _new_secret(name: str) -> str:
    import getpass

    secret = os.environ.get("WORKBENCH_NEW_PASSWORD")
    if secret is not None:
        return secret
    if not sys.stdin.isatty():
        fail(f"password for new user {name}: set WORKBENCH_NEW_PASSWORD or run at a terminal")
    first, second = getpass.getpass(f"new password for {name}: "), getpass.getpass("repeat: ")
    if first != second:
        fail("password: the two entries differ")
    return first


def _require_admin(name: str | None) -> str:
    """Once an admin exists, changing users needs an authenticated admin; returns who acts ("-" before)."""
    from workbench.governance import UserError, UserStore

    try:
        has_admin = any(u.has("admin") for u in UserStore().list())
    except UserError as error:
        fail(str(error))
    if not has_admin:
        return "-"
    admin = login(name)
    if not admin.has("admin"):
        fail(f"{admin.name} does not hold the admin role needed to manage users")
    return admin.name


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="user name")],
    role: Annotated[
        list[str], typer.Option("--role", help="developer, validator, approver, deployer, admin or client")
    ],
    user: Annotated[str | None, typer.Option(help="the admin making the change")] = None,
    as_user: Annotated[str | None, typer.Option("--as", hidden=True, help="older name of --user")] = None,
) -> None:
    """Add a user; the password comes from WORKBENCH_NEW_PASSWORD or a prompt."""
    from workbench.governance import UserError, UserStore

    actor = _require_admin(acting_user(user, as_user, "--as"))
    try:
        user = UserStore().add(name, role, _new_secret(name), actor=actor)
    except UserError as error:
        fail(str(error))
    typer.echo(f"added {user.name} ({', '.join(user.roles)})")


@users_app.command("list")
def users_list() -> None:
    """List users and roles."""
    from workbench.governance import UserError, UserStore, users_path

    try:
        users = UserStore().list()
    except UserError as error:
        fail(str(error))
    typer.echo(f"{len(users)} user(s) in {users_path()}")
    for user in users:
        typer.echo(f"  {user.name:12} {', '.join(user.roles):40} since {user.created}")


@users_app.command("remove")
def users_remove(
    name: Annotated[str, typer.Argument(help="user name")],
    user: Annotated[str | None, typer.Option(help="the admin making the change")] = None,
    as_user: Annotated[str | None, typer.Option("--as", hidden=True, help="older name of --user")] = None,
) -> None:
    """Remove a user (their past actions stay in the audit trail)."""
    from workbench.governance import UserError, UserStore

    actor = _require_admin(acting_user(user, as_user, "--as"))
    try:
        UserStore().remove(name, actor=actor)
    except UserError as error:
        fail(str(error))
    typer.echo(f"removed {name}")


@users_app.command("roles")
def users_roles(
    name: Annotated[str, typer.Argument(help="user name")],
    role: Annotated[list[str], typer.Option("--role", help="the user's roles from now on")],
    user: Annotated[str | None, typer.Option(help="the admin making the change")] = None,
    as_user: Annotated[str | None, typer.Option("--as", hidden=True, help="older name of --user")] = None,
) -> None:
    """Replace a user's roles (audited)."""
    from workbench.governance import UserError, UserStore

    actor = _require_admin(acting_user(user, as_user, "--as"))
    try:
        user = UserStore().set_roles(name, role, actor=actor)
    except UserError as error:
        fail(str(error))
    typer.echo(f"{user.name} now holds {', '.join(user.roles)}")


@users_app.command("unlock")
def users_unlock(
    name: Annotated[str, typer.Argument(help="user name")],
    user: Annotated[str | None, typer.Option(help="the admin making the change")] = None,
    as_user: Annotated[str | None, typer.Option("--as", hidden=True, help="older name of --user")] = None,
) -> None:
    """Clear a user's failed logins and lock (audited)."""
    from workbench.governance import UserError, UserStore

    actor = _require_admin(acting_user(user, as_user, "--as"))
    try:
        found = UserStore().unlock(name, actor=actor)
    except UserError as error:
        fail(str(error))
    typer.echo(f"unlocked {name}" if found else f"{name} had no failed logins")


@users_app.command("token")
def users_token(
    name: Annotated[str, typer.Argument(help="user name (a scoring client, or an admin for /metrics)")],
    label: Annotated[str, typer.Option(help="what the token is for, e.g. the calling system")] = "",
    revoke: Annotated[bool, typer.Option(help="revoke every token of the user instead")] = False,
    user: Annotated[str | None, typer.Option(help="the admin making the change")] = None,
    as_user: Annotated[str | None, typer.Option("--as", hidden=True, help="older name of --user")] = None,
) -> None:
    """Issue a bearer token for the scoring server (printed once; only its hash is kept), or revoke them."""
    from workbench.governance import UserError, UserStore

    actor = _require_admin(acting_user(user, as_user, "--as"))
    try:
        if revoke:
            typer.echo(f"revoked {UserStore().revoke_tokens(name, actor=actor)} token(s) of {name}")
            return
        typer.echo(UserStore().issue_token(name, label, actor=actor))
    except UserError as error:
        fail(str(error))


@users_app.command("demo")
def users_demo(
    password: Annotated[str, typer.Option(help="password for every demonstration user")] = "demo-password",
) -> None:
    """Create the demonstration users (priya developer, marco validator, helen approver, sam deployer, ada
    admin, los scoring client) when they do not exist yet. For demonstrations only: they share one known password."""
    from workbench.governance import DEMO_USERS, AuditTrail, UserError, UserStore, create_key

    trail = AuditTrail()
    fresh = not trail.started()
    created = create_key(trail.path) if fresh else None  # an existing trail keeps the key it was signed with
    if created is not None:
        typer.echo(f"created the demonstration audit key {created} (keep it out of registry_store/ and backed up)")
    store = UserStore()
    try:
        existing = {u.name for u in store.list()}
        for name, roles in DEMO_USERS.items():
            if name not in existing:
                store.add(name, roles, password, actor="demo")
                typer.echo(f"added demonstration user {name} ({', '.join(roles)})")
    except UserError as error:
        fail(str(error))


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the whole chain against the audit key and the registry's anchors; name every forged, edited,
    deleted, inserted or reordered record, and every tag or alias changed outside the workbench."""
    from workbench.governance import AuditTrail, GovernanceError, GovernanceService, reconcile

    trail = AuditTrail()
    store = registry_store_or_fail()
    problems = trail.verify(store.anchors())
    if not problems:
        service = GovernanceService(store, trail)
        for model in sorted({name for name, _ in store.versions()}):
            try:
                with service.lock(model):
                    for line in service.repair(model):
                        typer.echo(line)
            except GovernanceError as error:
                typer.echo(str(error), err=True)
        problems = trail.verify(store.anchors())
    count = len(trail.records())
    outside = reconcile(store, trail) if not problems else []
    if not problems and not outside:
        typer.secho(
            f"audit trail intact: {count} records, chain, key, head and registry anchors verified; the registry "
            f"matches the trail ({trail.where})",
            fg=typer.colors.GREEN,
        )
        return
    if problems:
        typer.secho(f"audit trail TAMPERED: {len(problems)} problem(s) in {trail.where}", err=True, fg=typer.colors.RED)
        for problem in problems:
            typer.echo(f"  {problem.kind}: {problem.message}", err=True)
    if outside:
        typer.secho(
            f"registry changed outside the workbench: {len(outside)} difference(s) from the audit trail",
            err=True,
            fg=typer.colors.RED,
        )
        for line in outside:
            typer.echo(f"  {line}", err=True)
    raise typer.Exit(1)


@audit_app.command("log")
def audit_log(model: Annotated[str | None, typer.Option(help="only this model's records")] = None) -> None:
    """Print the history, oldest first."""
    import pandas as pd

    from workbench.governance import AuditTrail

    rows = [
        {
            "seq": r["seq"],
            "time": r["time"][:19],
            "actor": r["actor"] if r["role"] in ("", "-", None) else f"{r['actor']} ({r['role']})",
            "action": r["action"],
            "target": r["target"],
            "change": _change(r["before"], r["after"]),
            "outcome": r["outcome"],
            "reason": r["reason"],
            "details": _audit_details(r["details"]),
        }
        for r in AuditTrail().records(f"{model}/" if model else None)
    ]
    if not rows:
        typer.echo("no audit records" + (f" for {model}" if model else ""))
        return
    typer.echo(_aligned(pd.DataFrame(rows)))


def _change(before: str | None, after: str | None) -> str:
    return f"{before or '-'} -> {after or '-'}" if before != after else (before or "-")


def _audit_details(details: dict) -> str:
    """What a committee member looks for in a record: conditions, an override's justification, a refusal."""
    shown = []
    if details.get("conditions"):
        shown.append(f"conditions: {details['conditions']}")
    if details.get("override_justification"):
        shown.append(f"OVERRIDE: {details['override_justification']}")
    if details.get("refusal"):
        shown.append(f"REFUSED: {details['refusal']}")
    return "; ".join(shown)


@audit_app.command("rotate-key")
def audit_rotate_key(
    user: Annotated[str | None, typer.Option(help="the admin rotating the key")] = None,
    as_user: Annotated[str | None, typer.Option("--as", hidden=True, help="older name of --user")] = None,
) -> None:
    """Retire the audit key (kept beside it to verify older records) and sign new records with a fresh one."""
    from workbench.governance import AuditKeyError, AuditTrail, rotate_key

    admin = login(acting_user(user, as_user, "--as"))
    if not admin.has("admin"):
        fail(f"{admin.name} does not hold the admin role needed to rotate the audit key")
    trail = AuditTrail()
    problems = trail.verify()
    if problems:
        fail(f"{trail.where} does not verify ({problems[0].message}); run `workbench audit verify` first")
    try:
        old, new = rotate_key(trail.path)
    except AuditKeyError as error:
        fail(str(error))
    AuditTrail().append(
        actor=admin.name,
        role="admin",
        action="rotate_audit_key",
        target="audit",
        reason="key rotation",
        before=old,
        after=new,
        outcome="accepted",
    )
    typer.echo(f"audit key rotated: {old} retired, {new} signs from now on")


@audit_app.command("migrate-db")
def audit_migrate_db(
    owner_url: Annotated[
        str, typer.Option(help="the database as its owner: postgresql://OWNER:PASSWORD@HOST:PORT/DATABASE")
    ],
    app_role: Annotated[
        str | None, typer.Option(help="the role WORKBENCH_DATABASE_URL connects as: granted SELECT and INSERT only")
    ] = None,
    copy_trail: Annotated[
        bool, typer.Option(help="copy the project's file trail (verified first) into the empty database trail")
    ] = False,
) -> None:
    """Create the audit trail's and the decisions' tables in PostgreSQL as the database's owner, and grant the
    application's role reading and appending only (PostgreSQL then refuses it UPDATE, DELETE and TRUNCATE)."""
    import psycopg

    from workbench.governance import (
        AuditIntegrityError,
        AuditTrail,
        audit_path,
        copy_trail_to_database,
        migrate_trail_database,
    )
    from workbench.serving import migrate_decision_database

    if not owner_url.startswith(("postgresql://", "postgres://")):
        fail(f"--owner-url: {owner_url.split('@')[-1]!r} is not a postgresql:// URL")
    try:
        migrate_trail_database(owner_url, app_role)
        migrate_decision_database(owner_url, app_role)
    except psycopg.Error as error:
        fail(f"--owner-url: the migration failed: {(str(error).strip().splitlines() or ['?'])[0]}")
    granted = f"; {app_role} may read and append only" if app_role else ""
    typer.echo(f"audit and decision tables ready{granted}")
    if copy_trail:
        try:
            copied = copy_trail_to_database(owner_url, AuditTrail(audit_path()))
        except (AuditIntegrityError, ValueError, OSError) as error:
            fail(f"--copy-trail: {error}")
        except psycopg.Error as error:
            fail(f"--copy-trail: {(str(error).strip().splitlines() or ['?'])[0]}")
        typer.echo(f"copied {copied} audit records from {audit_path()}; set WORKBENCH_DATABASE_URL to use them")


@audit_app.command("adopt")
def audit_adopt(
    user: Annotated[str | None, typer.Option(help="the admin adopting the trail")] = None,
    as_user: Annotated[str | None, typer.Option("--as", hidden=True, help="older name of --user")] = None,
) -> None:
    """Sign a trail written before records were keyed (after checking its old chain) and record the registry's
    state as the trail's starting point."""
    from workbench.governance import AuditIntegrityError, AuditTrail, adopt, is_legacy

    trail = AuditTrail()
    if not is_legacy(trail):
        fail(f"{trail.where}: nothing to adopt (the trail is empty or already keyed)")
    admin = login(acting_user(user, as_user, "--as"))
    if not admin.has("admin"):
        fail(f"{admin.name} does not hold the admin role needed to adopt the audit trail")
    try:
        count = adopt(trail, registry_store_or_fail(), admin.name)
    except AuditIntegrityError as error:
        fail(str(error))
    typer.echo(f"adopted {count} records under the audit key; the registry's state is recorded as the starting point")


def _act(action, *args, **kwargs) -> None:
    from workbench.governance import GovernanceError
    from workbench.registry import VersionNotFoundError

    service = getattr(action, "__self__", None)
    try:
        record = action(*args, **kwargs)
    except (GovernanceError, VersionNotFoundError, ValueError) as error:
        for line in getattr(service, "repairs", []):
            typer.echo(line)
        fail(str(error))
    for line in getattr(service, "repairs", []):
        typer.echo(line)
    typer.echo(
        f"{record['action']} {record['target']}: {record['before']} -> {record['after']} (audit record {record['seq']})"
    )


@app.command()
def approve(
    name: str,
    version: int,
    comment: Annotated[str, typer.Option(help="why")],
    user: Annotated[str | None, typer.Option(help="the approver")] = None,
    conditions: Annotated[str, typer.Option(help="conditions of the approval")] = "",
    override: Annotated[
        str,
        typer.Option(
            help="justification to approve a version that is not validated (recorded as a high-severity finding)"
        ),
    ] = "",
) -> None:
    """Approve a validated version (committee)."""
    _act(governance_service().approve, login(user), name, version, comment, conditions, override)


@app.command()
def reject(
    name: str,
    version: int,
    comment: Annotated[str, typer.Option(help="why")],
    user: Annotated[str | None, typer.Option(help="the approver")] = None,
) -> None:
    """Reject a version (committee)."""
    _act(governance_service().reject, login(user), name, version, comment)


@app.command()
def promote(
    name: str,
    version: int,
    reason: Annotated[str, typer.Option(help="why")],
    to: Annotated[str, typer.Option(help="champion or challenger")] = "champion",
    user: Annotated[str | None, typer.Option(help="the deployer")] = None,
) -> None:
    """Deploy an approved version as @champion (production) or @challenger; checks the approved sha256."""
    _act(governance_service().promote, login(user), name, version, to, reason)


@app.command()
def archive(
    name: str,
    version: int,
    reason: Annotated[str, typer.Option(help="why")],
    user: Annotated[str | None, typer.Option(help="deployer or admin")] = None,
) -> None:
    """Retire a version."""
    _act(governance_service().archive, login(user), name, version, reason)


@app.command("finding")
def add_finding(
    name: str,
    version: int,
    title: Annotated[str, typer.Option(help="what is wrong")],
    remediation: Annotated[str, typer.Option(help="what must be done")],
    severity: Annotated[str, typer.Option(help="high, medium or low")] = "medium",
    user: Annotated[str | None, typer.Option(help="the validator")] = None,
) -> None:
    """Record a validator's finding on a version (a high one withdraws a validated version)."""
    _act(governance_service().add_finding, login(user), name, version, severity, title, remediation)


@app.command("inventory")
def show_inventory() -> None:
    """Every model and version: kind, status, tier, owner, last validation, open findings, next review."""
    from workbench.governance import inventory
    from workbench.registry import configure

    client = configure()
    table = inventory(client)
    if table.empty:
        typer.echo("no registered models")
        return
    shown = table.assign(
        version=table["version"].map("v{}".format),
        findings=[f"{r.open_high}H/{r.open_medium}M/{r.open_low}L" for r in table.itertuples()],
        overdue=table["overdue"].map({True: "OVERDUE", False: ""}),
    ).rename(columns={"risk_tier": "tier", "last_validation": "validated", "next_review_due": "next review"})
    columns = ["model", "version", "kind", "status", "alias", "tier", "owner", "validated", "findings"]
    typer.echo(_aligned(shown[[*columns, "next review", "overdue", "artefact"]]))


def _aligned(table) -> str:
    """A table as aligned text with a header row: empty cells as '-', text left-aligned, nothing cut."""
    text = table.astype(str).replace({"": "-", "None": "-", "nan": "-"})
    widths = {c: max([len(str(c)), *map(len, text[c])]) for c in text.columns}
    formatters = {c: (lambda value, width=widths[c]: value.ljust(width)) for c in text.columns}
    rendered = text.to_string(index=False, justify="left", formatters=formatters)
    return "\n".join(line.rstrip() for line in rendered.splitlines())
