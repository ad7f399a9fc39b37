"""The Panel approval dashboard."""

from workbench.app._dashboard import Dashboard, create_app, serve

__all__ = ["Dashboard", "create_app", "serve"]
