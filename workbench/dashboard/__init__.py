"""The Panel approval dashboard (`workbench app`): inventory, evidence, decisions by role, monitoring, audit log."""

from workbench.dashboard._auth import AppConfigError, cookie_secret, session_hours
from workbench.dashboard._dashboard import Dashboard, create_dashboard, serve

__all__ = ["AppConfigError", "Dashboard", "cookie_secret", "create_dashboard", "serve", "session_hours"]
