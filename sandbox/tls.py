"""The sandbox's own certificate authority, so real HTTPS clients trust it via REQUESTS_CA_BUNDLE."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme


def make_server_context(state_dir: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1/localhost and the path of the CA PEM that clients must trust.

    A fresh CA per sandbox: nothing to clean up in a system trust store, and a stale bundle from an earlier
    run fails loudly instead of silently trusting something else.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_path = state_dir / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    cert.private_key_and_cert_chain_pem.write_to_path(str(state_dir / "server.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context, ca_path
