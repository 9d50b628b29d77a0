"""The predict server's guards: a bearer token, a warning for public binds, and a request deadline.

* :class:`BearerToken` checks ``Authorization: Bearer <token>`` in constant time.
* :func:`warn_if_exposed` warns when ``--host`` binds beyond loopback without a token.
* The deadline on reading a request is :mod:`estlab.export.server_protocol`'s (it needs uvicorn).

Examples
--------
>>> BearerToken("s3cret").allows("Bearer s3cret"), BearerToken("s3cret").allows("Bearer guess")
(True, False)
>>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0")
(True, False)
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os

logger = logging.getLogger("estlab.serve")

#: environment variable holding the bearer token (preferred to ``--auth-token``, which ``ps`` shows)
TOKEN_ENV = "ESTLAB_SERVE_TOKEN"


class BearerToken:
    """An ``Authorization: Bearer`` check, compared in constant time.

    Examples
    --------
    >>> BearerToken("abc").allows(None)
    False
    """

    def __init__(self, token: str) -> None:
        if not token or token != token.strip() or any(ord(c) < 33 or ord(c) > 126 for c in token):
            raise ValueError(
                "auth token must be non-empty printable ASCII without spaces (e.g. from "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        self._expected = token.encode("ascii")

    def allows(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header value carries the token (scheme ``Bearer``, any case)."""
        if header is None:
            return False
        scheme, _, given = header.strip().partition(" ")
        try:
            given_bytes = given.strip().encode("ascii")
        except UnicodeEncodeError:
            return False
        # compare_digest always runs, so the answer's timing says nothing about the token
        matches = hmac.compare_digest(given_bytes, self._expected)
        return matches and scheme.lower() == "bearer"


def resolve_token(token: str | None) -> str | None:
    """The token to require: ``token`` if given, else ``$ESTLAB_SERVE_TOKEN``, else None (no check).

    Examples
    --------
    >>> resolve_token("given")
    'given'
    """
    if token:
        return token
    return os.environ.get(TOKEN_ENV) or None


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``127.0.0.0/8``, ``::1``, ``localhost``).

    Examples
    --------
    >>> is_loopback("localhost"), is_loopback("::1"), is_loopback("192.168.1.4")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def warn_if_exposed(host: str, token: str | None) -> str | None:
    """Log (and return) a warning when ``host`` is reachable from other machines and no token is set.

    Examples
    --------
    >>> warn_if_exposed("127.0.0.1", None) is None
    True
    >>> "without authentication" in warn_if_exposed("0.0.0.0", None)
    True
    """
    if is_loopback(host) or token:
        return None
    message = (
        f"--host {host} serves the model to other machines without authentication: anyone who can reach "
        f"this port can query it. Set {TOKEN_ENV} (or --auth-token) to require a bearer token, or bind "
        "127.0.0.1 behind a proxy."
    )
    logger.warning(message)
    return message
