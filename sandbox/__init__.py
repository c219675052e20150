"""Offline stand-in for Log Analytics, Azure Monitor Metrics and ACS Email, over real HTTPS on loopback.

The app's real SDK clients run against it unmodified; only settings differ (endpoints, REQUESTS_CA_BUNDLE,
a static bearer token). ``python -m sandbox --help`` runs it as a standalone process.
"""

from .emulator import Sandbox
from .log_analytics import DEFAULT_WORKSPACE_ID

__all__ = ["DEFAULT_WORKSPACE_ID", "Sandbox"]
