"""Which URLs a message may link to: https on Azure's own hosts only; any other shows its host as plain text.

Used by the webhook (when an alert arrives) and by the channels (when stored data is read back to render it).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

# The hosts of the links Azure Monitor puts in its payloads (investigationLink, linkToSearchResultsUI,
# LinkToSearchResults: the Azure portal) and of Azure ML studio; the sovereign clouds' portals and studios are
# their documented variants. Any other host, however Azure-like (portal.azure.com.evil.example), is not linked.
AZURE_LINK_HOSTS = frozenset(
    {
        "portal.azure.com",
        "portal.azure.us",
        "portal.azure.cn",
        "ml.azure.com",
        "ml.azure.us",
        "studio.ml.azure.cn",
    }
)


def portal_resource_url(resource_id: str) -> str | None:
    """The Azure portal's page of a resource; None for anything that is not an ARM resource id."""
    if not resource_id.lower().startswith("/subscriptions/"):
        return None
    return f"https://portal.azure.com/#resource{quote(resource_id, safe='/')}/overview"


def safe_link(url: Any) -> str | None:
    """The URL if a message may link to it: https, on one of AZURE_LINK_HOSTS, no credentials or port, nothing a
    mail client could read differently (whitespace, quotes, angle brackets, backslashes); else None."""
    if not isinstance(url, str) or len(url) > 8000 or not re.fullmatch(r"https://[^\s\"'<>\\]+", url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.hostname not in AZURE_LINK_HOSTS or port or parts.username is not None:
        return None
    return url


def unlinked_text(url: Any) -> str:
    """How a message shows a link it does not make: the host as text that no mail client turns into a link."""
    try:
        host = urlsplit(url).hostname if isinstance(url, str) else None
    except ValueError:
        host = None
    if not host:
        return "(not an https link; not shown)"
    why = "a malformed link" if host in AZURE_LINK_HOSTS else "not an Azure address"
    return f"{host[:200].replace('.', '[.]')} ({why}; not linked)"
