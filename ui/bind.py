"""Where the web UI and its APIs may listen: loopback freely, any other address only behind a password and a token.

Kept free of Gradio imports so `paperchat ui` refuses a bad binding before loading anything.
"""

from __future__ import annotations

import ipaddress

from pydantic import SecretStr

from assistant.settings import SettingsError

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, auth: str | SecretStr | None) -> tuple[str, str] | None:
    """(user, password) for Gradio's login, or None; refuses a non-loopback host without auth."""
    if isinstance(auth, SecretStr):  # settings.ui_auth: unwrapped only here, for Gradio's login check
        auth = auth.get_secret_value()
    credentials = None
    if auth:
        user, sep, password = auth.partition(":")
        if not sep or not user or not password:
            raise SettingsError("ui_auth must be 'user:password' (both parts non-empty)")
        credentials = (user, password)
    if credentials is None and not is_loopback(host):
        raise SettingsError(f"refusing to serve the web UI on {host} without a password: set ui_auth to "
                            "'user:password' (PAPERCHAT_UI_AUTH or the config file), or bind 127.0.0.1")
    return credentials


def check_api_bind(host: str, token: str | SecretStr | None) -> str | None:
    """The bearer token /v1 and /mcp require, or None (loopback only); refuses a non-loopback host without one."""
    if isinstance(token, SecretStr):  # settings.api_token: unwrapped only here, for the constant-time check
        token = token.get_secret_value()
    if not token and not is_loopback(host):
        raise SettingsError(f"refusing to serve the API (/v1, /mcp) on {host} without a token: set api_token "
                            "(PAPERCHAT_API_TOKEN or the config file), or bind 127.0.0.1")
    return token or None
