"""The Panel approval dashboard (`workbench app`): inventory, evidence and decisions by role."""

from workbench.dashboard._dashboard import Dashboard, create_dashboard, serve

__all__ = ["Dashboard", "create_dashboard", "serve"]
