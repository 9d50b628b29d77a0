"""uvicorn's HTTP protocol with a deadline on reading a request, and the server's uvicorn config.

A connection that has not delivered a complete request head within ``read_timeout`` seconds of
connecting (or of its previous answer) is closed, so a client dripping bytes cannot hold it forever;
the body's own deadline is checked by the app while it reads it (408). Idle keep-alive connections
are closed by uvicorn after ``timeout_keep_alive``.

Examples
--------
>>> http_protocol().startswith("estlab.export.server_protocol:Timed")
True
>>> ServeConfig("estlab.export.server:app_from_environment", read_timeout=5.0).read_timeout
5.0
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

import uvicorn

logger = logging.getLogger("estlab.serve")


def timed_protocol(base: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """A subclass of uvicorn's HTTP protocol ``base`` that closes connections slow to send a request.

    ``read_timeout`` is the uvicorn config's (a :class:`ServeConfig`); in ``--workers`` processes, whose
    config uvicorn makes, it is read from the settings :func:`estlab.export.server.serve` passes them.

    Examples
    --------
    >>> from uvicorn.protocols.http.h11_impl import H11Protocol
    >>> timed_protocol(H11Protocol).__name__
    'TimedH11Protocol'
    """

    class Timed(base):  # type: ignore[valid-type, misc]
        _estlab_timer: asyncio.TimerHandle | None = None

        def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(config, *args, **kwargs)
            self._estlab_read_timeout = _read_timeout(config)

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._estlab_arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._estlab_arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._estlab_timer is not None:
                self._estlab_timer.cancel()
            super().connection_lost(exc)

        def _estlab_arm(self) -> None:
            if self._estlab_timer is not None:
                self._estlab_timer.cancel()
            loop = asyncio.get_running_loop()
            self._estlab_timer = loop.call_later(self._estlab_read_timeout, self._estlab_expire)

        def _estlab_expire(self) -> None:
            cycle = getattr(self, "cycle", None)
            waiting_for_head = cycle is None or getattr(cycle, "response_complete", True)
            transport = getattr(self, "transport", None)
            if waiting_for_head and transport is not None and not transport.is_closing():
                logger.info(
                    "closing a connection that sent no complete request in %.0f s", self._estlab_read_timeout
                )
                transport.close()

    Timed.__name__ = Timed.__qualname__ = f"Timed{base.__name__}"
    return Timed


def _read_timeout(config: Any) -> float:
    value = getattr(config, "read_timeout", None)
    if value is None:
        settings = os.environ.get("ESTLAB_SERVE_SETTINGS")
        value = json.loads(settings).get("read_timeout", 30.0) if settings else 30.0
    return float(value)


def _protocols() -> dict[str, type[asyncio.Protocol]]:
    from uvicorn.protocols.http.h11_impl import H11Protocol

    found: dict[str, type[asyncio.Protocol]] = {"h11": H11Protocol}
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools not installed
        pass
    else:
        found["httptools"] = HttpToolsProtocol
    return found


_BASES = _protocols()
TimedH11Protocol = timed_protocol(_BASES["h11"])
TimedHttpToolsProtocol = timed_protocol(_BASES["httptools"]) if "httptools" in _BASES else None


def http_protocol() -> str:
    """The import string of the fastest timed protocol available (httptools when installed, else h11).

    Examples
    --------
    >>> http_protocol().startswith("estlab.export.server_protocol:Timed")
    True
    """
    name = "TimedHttpToolsProtocol" if TimedHttpToolsProtocol is not None else "TimedH11Protocol"
    return f"{__name__}:{name}"


class ServeConfig(uvicorn.Config):
    """uvicorn's config plus ``read_timeout`` (seconds), which the timed protocols read.

    Examples
    --------
    >>> ServeConfig("m:app").read_timeout
    30.0
    """

    def __init__(self, app: Any, *, read_timeout: float = 30.0, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.read_timeout = float(read_timeout)
