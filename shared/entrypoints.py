"""What the Functions host and the CLI call: the app built once per process from the environment."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.app import AlertingApp


@cache
def alerting_app() -> AlertingApp:
    # Imported here, not at module level: `import function_app` must stay cheap for cold starts.
    from shared.app import AlertingApp
    from shared.settings import Settings

    return AlertingApp(Settings.from_environ())
