"""What every area of the ``workbench`` command shares: failing with a message, who the user is, logging
them in, and the governance service.

The area modules import this one; it imports none of them.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from workbench.governance import GovernanceService, MlflowVersionStore, User


_STARTED = time.monotonic()


def step(message: str) -> None:
    """A progress line of a long command, on standard error with the seconds since the command started, so
    that standard output keeps only the result (and scripts reading it are unaffected)."""
    typer.echo(f"[{time.monotonic() - _STARTED:6.1f}s] {message}", err=True)


def fail(message: str) -> NoReturn:
    """Print ``message`` in red on standard error and stop the command with exit status 2."""
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(2)


def acting_user(user: str | None, old: str | None, old_option: str) -> str | None:
    """The person named by ``--user`` or by the command's older option name (kept, hidden, so existing
    scripts still work); naming two different people is refused."""
    if user and old and user != old:
        fail(f"--user {user} and {old_option} {old} name different people: give one of them")
    return user or old


def user_name(explicit: str | None) -> str:
    """The user named on the command line, else WORKBENCH_USER or the OS user."""
    from workbench.notebook import current_user

    return explicit or current_user()


def login(name: str | None) -> User:
    """Authenticate a user: the secret comes from WORKBENCH_PASSWORD or, at a terminal, a prompt."""
    import getpass

    from workbench.governance import AuthenticationError, UserError, UserStore

    store = UserStore()
    try:
        known = store.list()
    except UserError as error:
        fail(str(error))
    if not known:
        fail(
            "no users are configured: add them with `workbench users add NAME --role ROLE` "
            "(or `workbench users demo` for the demonstration users)"
        )
    if name is None and user_name(None) not in {user.name for user in known}:
        # nobody was named: say whom the command tried, since the person at the keyboard did not choose that name
        tried = "WORKBENCH_USER" if os.environ.get("WORKBENCH_USER") else "the operating-system user"
        fail(f"no --user given, and {tried} {user_name(None)!r} is not a registered user: name one with --user")
    name = user_name(name)
    secret = os.environ.get("WORKBENCH_PASSWORD")
    if secret is None:
        if not sys.stdin.isatty():
            fail(f"password for {name}: set WORKBENCH_PASSWORD or run at a terminal")
        secret = getpass.getpass(f"password for {name}: ")
    try:
        return store.authenticate(name, secret, channel="cli")
    except (AuthenticationError, UserError) as error:
        fail(str(error))


def governance_service() -> GovernanceService:
    """The governance service over the configured registry and audit trail."""
    from workbench.governance import service

    return service()


def registry_store_or_fail() -> MlflowVersionStore:
    """The registry as governance's version store."""
    from workbench.governance import MlflowVersionStore
    from workbench.registry import configure

    return MlflowVersionStore(configure())
