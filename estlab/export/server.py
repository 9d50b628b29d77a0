"""A predict server speaking TensorFlow Serving's REST API, on Starlette + uvicorn.

Endpoints (``NAME`` is ``--model-name``; ``/versions/V`` may follow it, V being the export's timestamp):

* ``POST /v1/models/NAME:predict`` with ``{"instances": [...]}`` → ``{"predictions": [...]}``, or
  ``{"inputs": {...}}`` → ``{"outputs": ...}``; optional ``"signature_name"`` (``serving_default``,
  ``predict``, ``classification``, ``regression``).
* ``POST /v1/models/NAME:classify`` / ``:regress`` with ``{"context": {...}, "examples": [{...}, ...]}``
  → ``{"results": [[[label, score], ...], ...]}`` / ``{"results": [value, ...]}`` from the export's
  ``classification`` / ``regression`` signature (:mod:`~estlab.export.rest_examples`).
* ``GET /v1/models/NAME`` → ``{"model_version_status": [...]}``.
* ``GET /v1/models/NAME/metadata`` → ``{"model_spec": ..., "metadata": {"signature_def": ...}}``.

A bad request gets a 4xx answer ``{"error": "..."}`` naming the problem, and the server goes on.

The request path: JSON → one numpy array per input (:mod:`~estlab.export.rest_request`, no DataFrame)
→ a dynamic batch with concurrent requests (:mod:`~estlab.export.batching`) encoded by the fitted
transformation's array path and run through the program once → this request's rows → JSON rendered
from the arrays (:mod:`~estlab.export.rest_response`).

Examples
--------
>>> app = create_app("model_dir/export", model_name="adult")  # doctest: +SKIP
>>> serve("model_dir/export", model_name="adult", port=8501, workers=2)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import inspect
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from estlab.export.batching import BatchingParameters, DynamicBatcher, OverloadedError
from estlab.export.inputs import InvalidInputError
from estlab.export.layout import list_versions
from estlab.export.loader import ExportedModel, load
from estlab.export.rest_examples import (
    ExamplesRequest,
    default_signature,
    parse_examples_body,
    parse_examples_payload,
)
from estlab.export.rest_json import dumps
from estlab.export.rest_request import RequestError, parse_body, parse_payload
from estlab.export.rest_response import prediction_payload, render, render_results, results_payload
from estlab.export.server_security import BearerToken, resolve_token, warn_if_exposed

logger = logging.getLogger("estlab.serve")
access_logger = logging.getLogger("estlab.serve.access")

DEFAULT_MAX_ROWS = 10_000
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_KEEP_ALIVE_TIMEOUT = 5.0
#: the environment variable passing the settings to ``--workers`` processes
SETTINGS_ENV = "ESTLAB_SERVE_SETTINGS"
_VERBS = ("predict", "classify", "regress")
_INLINE_BYTES = 256 * 1024  # bodies up to this size are parsed on the event loop, larger ones on a thread
_INLINE_ROWS = 512  # answers up to this many rows are rendered on the event loop

_RequestError = RequestError  # the name before the request parser moved to its own module


def _import_starlette() -> Any:
    try:
        import starlette.applications  # noqa: F401
    except ImportError as error:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "the predict server needs starlette and uvicorn; install them with pip install 'estlab[serve]'"
        ) from error


def create_app(
    model: ExportedModel | str | os.PathLike,
    model_name: str = "model",
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    poll_seconds: float = 0.0,
    batching: BatchingParameters | None = None,
    auth_token: str | None = None,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> Any:
    """The Starlette application serving ``model`` under ``/v1/models/<model_name>``.

    Parameters
    ----------
    model : ExportedModel or path
        A loaded export, an export directory, or a base directory (its newest version is served).
    model_name : str
        The ``NAME`` in the URLs.
    max_rows : int
        Largest number of rows one request may carry (more: 400).
    max_body_bytes : int
        Largest request body (more: 413).
    poll_seconds : float
        When ``model`` is a base directory and this is > 0, look for a newer version at most this
        often (on requests) and serve it once loaded, as TF Serving's file-system polling. 0: never.
    batching : BatchingParameters, optional
        Dynamic batching of concurrent requests (default: enabled, :class:`BatchingParameters`).
    auth_token : str, optional
        Require ``Authorization: Bearer <auth_token>`` on every request (401 without it).
    read_timeout : float
        Seconds a request body may take to arrive (more: 408).

    Examples
    --------
    >>> from starlette.testclient import TestClient  # doctest: +SKIP
    >>> TestClient(create_app("export_dir", "m")).get("/v1/models/m").json()  # doctest: +SKIP
    {'model_version_status': [{'version': '1700000000', 'state': 'AVAILABLE', ...}]}
    """
    _import_starlette()
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    served = _Served(model, poll_seconds)
    batcher = DynamicBatcher(batching or BatchingParameters())
    token = BearerToken(auth_token) if auth_token else None

    def respond(status: int, payload: Any) -> Response:
        return Response(dumps(payload), status_code=status, media_type="application/json")

    def error_response(error: RequestError) -> Response:
        response = respond(error.status, {"error": error.message})
        if error.status == 401:
            response.headers["www-authenticate"] = 'Bearer realm="estlab"'
        return response

    def check_token(request: Request) -> None:
        if token is not None and not token.allows(request.headers.get("authorization")):
            raise RequestError(
                401,
                "Unauthenticated: send the header 'Authorization: Bearer <token>' with the token the "
                "server was started with (--auth-token or ESTLAB_SERVE_TOKEN)",
            )

    def route_target(path: str, version: str) -> tuple[str, str | None]:
        """``NAME[/versions/V][:verb|/metadata]`` → (kind, verb), raising 404 for other names."""
        kind = "status"
        verb = None
        if ":" in path:
            path, verb = path.rsplit(":", 1)
            kind = "verb"
        elif path.endswith("/metadata"):
            path, kind = path[: -len("/metadata")], "metadata"
        name, _, rest = path.partition("/")
        requested_version = None
        parts: list[str] = []
        if rest:
            parts = rest.split("/")
            if len(parts) != 2 or parts[0] not in ("versions", "labels"):
                raise RequestError(404, f"Malformed request: unknown path /v1/models/{path:.200}")
            requested_version = parts[1]
        if name != model_name:
            raise RequestError(404, f"Servable not found for request: Latest({name:.200})")
        if parts and parts[0] == "labels":
            raise RequestError(
                404,
                f"Servable not found for request: label {requested_version!r:.100}: this server has no version "
                f"labels; use /v1/models/{name} (the served version) or /v1/models/{name}/versions/{version}",
            )
        if requested_version is not None and requested_version != version:
            raise RequestError(
                404,
                f"Servable not found for request: Specific({name}, {requested_version:.100}); "
                f"serving version {version}",
            )
        return kind, verb

    async def get_model(request: Request) -> Response:
        began = time.perf_counter()
        try:
            check_token(request)
            loaded = await served.current_async()
            kind, _ = route_target(request.path_params["rest"], str(loaded.version))
            if kind == "metadata":
                response = respond(200, metadata_payload(loaded, model_name))
            elif kind != "status":
                raise RequestError(405, "Use POST for :predict, :classify and :regress")
            else:
                response = respond(200, status_payload(loaded))
        except RequestError as error:
            response = error_response(error)
        _log_access(request, response.status_code, 0, began)
        return response

    async def post_model(request: Request) -> Response:
        began = time.perf_counter()
        rows = 0
        try:
            check_token(request)
            loaded = await served.current_async()
            kind, verb = route_target(request.path_params["rest"], str(loaded.version))
            if kind != "verb" or verb not in _VERBS:
                raise RequestError(
                    404,
                    f"Malformed request: POST /v1/models/{request.path_params['rest']:.200}; "
                    "use /v1/models/NAME:predict, :classify or :regress",
                )
            body = await _read_body(request, max_body_bytes, read_timeout)
            parse, args = _parser(loaded, verb, body, max_rows)
            if len(body) <= _INLINE_BYTES:
                parsed = parse(*args)
            else:
                parsed = await run_in_threadpool(parse, *args)
            rows = parsed.n_rows
            try:
                outputs = await batcher.submit(loaded.run_columns, parsed.batch_key(), parsed.columns, rows)
            except InvalidInputError as error:
                raise RequestError(400, str(error)) from None
            except OverloadedError as error:
                raise RequestError(503, str(error)) from None
            selected = loaded.signature_outputs(outputs, parsed.signature_name)
            if isinstance(parsed, ExamplesRequest):
                write: Any = functools.partial(render_results, verb, selected)
            else:
                write = functools.partial(render, selected, parsed.row_format)
            content = write() if rows <= _INLINE_ROWS else await run_in_threadpool(write)
            response = Response(content, status_code=200, media_type="application/json")
        except RequestError as error:
            response = error_response(error)
        except Exception:  # noqa: BLE001 - answered 500 and logged (without the body); the server goes on
            logger.exception("prediction failed for POST %s", request.url.path)
            response = respond(500, {"error": "Internal error while predicting; see the server log"})
        _log_access(request, response.status_code, rows, began)
        return response

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        try:
            yield
        finally:
            logger.info(
                "served %d predict requests in %d model calls", batcher.merged_requests, batcher.batches
            )
            batcher.close()

    routes = [
        Route("/v1/models/{rest:path}", get_model, methods=["GET"]),
        Route("/v1/models/{rest:path}", post_model, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.batcher = batcher
    return app


def _parser(model: ExportedModel, verb: str, body: bytes, max_rows: int) -> tuple[Any, tuple[Any, ...]]:
    """The body parser of ``verb`` and its arguments (``:predict``: rows or columns; ``:classify`` and
    ``:regress``: examples)."""
    if verb == "predict":
        return parse_body, (body, model.inputs, model.defaults, model.signatures, max_rows)
    default = examples_default_signature(model)
    args = (body, verb, model.inputs, model.defaults, model.signatures, default, max_rows)
    return parse_examples_body, args


def examples_default_signature(model: ExportedModel) -> str:
    """The signature ``:classify`` / ``:regress`` use without ``signature_name`` (TF's ``serving_default``
    for the head; see :func:`~estlab.export.rest_examples.default_signature`).

    Examples
    --------
    >>> examples_default_signature(load("classifier_export"))  # doctest: +SKIP
    'classification'
    """
    first_head = model.head.heads[0][0] if model.head.kind == "multi" and model.head.heads else None
    return default_signature(model.signatures, first_head)


def _log_access(request: Any, status: int, rows: int, began: float) -> None:
    """One line per request: client, method, path, status, rows, time. Never the body or the headers."""
    if access_logger.isEnabledFor(logging.INFO):
        client = request.client
        where = f"{client.host}:{client.port}" if client else "-"
        access_logger.info(
            '%s "%s %s" %d %d rows %.1f ms',
            where,
            request.method,
            request.url.path[:200],
            status,
            rows,
            (time.perf_counter() - began) * 1000.0,
        )


class _Served:
    """The model being served; with polling, swapped for a newer version of its base directory."""

    def __init__(self, model: ExportedModel | str | os.PathLike, poll_seconds: float) -> None:
        self.base: Path | None = None
        if isinstance(model, ExportedModel):
            self.model = model
        else:
            self.model = load(model)
            is_base = Path(model).resolve() != self.model.path.resolve()
            self.base = Path(model) if is_base and poll_seconds > 0 else None
        self.poll_seconds = poll_seconds
        self.checked = time.monotonic()
        self.lock = threading.Lock()

    async def current_async(self) -> ExportedModel:
        """:meth:`current`, off the event loop only when a (slow) reload may happen."""
        if self.base is None:
            return self.model
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(self.current)

    def current(self) -> ExportedModel:
        if self.base is None or time.monotonic() - self.checked < self.poll_seconds:
            return self.model
        with self.lock:
            if time.monotonic() - self.checked >= self.poll_seconds:
                self.checked = time.monotonic()
                versions = list_versions(self.base)
                if versions and int(versions[-1].name) > self.model.version:
                    try:
                        self.model = load(versions[-1])
                    except Exception:  # noqa: BLE001 - keep serving the loaded version
                        logger.exception(
                            "could not load %s; still serving version %s", versions[-1], self.model.version
                        )
        return self.model


async def _read_body(request: Any, max_body_bytes: int, read_timeout: float = DEFAULT_READ_TIMEOUT) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
        raise RequestError(
            413,
            f"Request body of {declared:.30} bytes exceeds the limit of {max_body_bytes} bytes "
            "(--max-body-bytes); send fewer rows per request",
        )
    chunks = []
    size = 0

    async def read() -> None:
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                raise RequestError(
                    413,
                    f"Request body exceeds the limit of {max_body_bytes} bytes "
                    "(--max-body-bytes); send fewer rows per request",
                )
            chunks.append(chunk)

    try:
        await asyncio.wait_for(read(), read_timeout)
    except asyncio.TimeoutError:
        raise RequestError(
            408, f"Request body not received within {read_timeout:g} s (--read-timeout); send it at once"
        ) from None
    return b"".join(chunks)


def predict_payload(
    model: ExportedModel, payload: Mapping[str, Any], max_rows: int = DEFAULT_MAX_ROWS
) -> dict:
    """Answer a parsed ``:predict`` request body the way TF Serving shapes it (no batching, no HTTP).

    Row format (``instances``) gives ``{"predictions": [row, ...]}``, each row an object of outputs
    (or the bare value when the signature has one output); columnar (``inputs``) gives
    ``{"outputs": {name: [...]}}`` (or the bare list for one output).

    Raises
    ------
    RequestError
        With the status and message the server answers (400 for inputs that do not fit).

    Examples
    --------
    >>> predict_payload(model, {"instances": [{"age": 30.0}]})  # doctest: +SKIP
    {'predictions': [{'logits': [0.1], ...}]}
    """
    request = parse_payload(payload, model.inputs, model.defaults, model.signatures, max_rows)
    try:
        outputs = model.run_columns(request.columns, request.n_rows)
    except InvalidInputError as error:
        raise RequestError(400, str(error)) from None
    return prediction_payload(model.signature_outputs(outputs, request.signature_name), request.row_format)


def examples_payload(
    model: ExportedModel, verb: str, payload: Mapping[str, Any], max_rows: int = DEFAULT_MAX_ROWS
) -> dict:
    """Answer a parsed ``:classify`` or ``:regress`` request body as TF Serving does (no batching, no HTTP).

    ``{"results": [[[label, score], ...], ...]}`` for ``classify`` (one list of class/score pairs per
    example), ``{"results": [value, ...]}`` for ``regress``.

    Raises
    ------
    RequestError
        With the status and message the server answers (400 for examples that do not fit, a signature
        that does not classify or regress).

    Examples
    --------
    >>> examples_payload(model, "classify", {"examples": [{"age": 30.0, "color": "red"}]})  # doctest: +SKIP
    {'results': [[['no', 0.61], ['yes', 0.39]]]}
    """
    request = parse_examples_payload(
        payload,
        verb,
        model.inputs,
        model.defaults,
        model.signatures,
        examples_default_signature(model),
        max_rows,
    )
    try:
        outputs = model.run_columns(request.columns, request.n_rows)
    except InvalidInputError as error:
        raise RequestError(400, str(error)) from None
    return results_payload(verb, model.signature_outputs(outputs, request.signature_name))


def status_payload(model: ExportedModel) -> dict[str, Any]:
    """TF Serving's model status answer for the served version.

    Examples
    --------
    >>> status_payload(model)["model_version_status"][0]["state"]  # doctest: +SKIP
    'AVAILABLE'
    """
    return {
        "model_version_status": [
            {
                "version": str(model.version),
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }


def metadata_payload(model: ExportedModel, model_name: str) -> dict[str, Any]:
    """TF Serving's ``/metadata`` answer: the model spec and every signature def.

    Examples
    --------
    >>> sorted(metadata_payload(model, "m")["metadata"]["signature_def"]["signature_def"])  # doctest: +SKIP
    ['classification', 'predict', 'serving_default']
    """

    def tensor_info(spec: Any) -> dict[str, Any]:
        return {
            "dtype": spec.tf_dtype,
            "tensor_shape": {
                "dim": [{"size": str(d), "name": ""} for d in spec.shape],
                "unknown_rank": False,
            },
            "name": f"{spec.name}:0",
        }

    signature_def = {
        name: {
            "inputs": {spec.name: tensor_info(spec) for spec in signature.inputs},
            "outputs": {spec.name: tensor_info(spec) for spec in signature.outputs},
            "method_name": signature.method_name,
        }
        for name, signature in model.signatures.items()
    }
    return {
        "model_spec": {"name": model_name, "signature_name": "", "version": str(model.version)},
        "metadata": {"signature_def": {"signature_def": signature_def}},
    }


def serve(
    export_dir: str | os.PathLike,
    model_name: str = "model",
    host: str = "127.0.0.1",
    port: int = 8501,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    poll_seconds: float = 0.0,
    log_level: str = "info",
    workers: int = 1,
    batching: BatchingParameters | None = None,
    auth_token: str | None = None,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    keep_alive_timeout: float = DEFAULT_KEEP_ALIVE_TIMEOUT,
    torch_threads: int = 1,
    access_log: bool = True,
) -> None:
    """Serve an export with uvicorn until interrupted (binds 127.0.0.1 unless told otherwise).

    Parameters
    ----------
    workers : int
        Worker processes sharing the port (each loads the model and batches its own requests).
    auth_token : str, optional
        Bearer token every request must carry; default ``$ESTLAB_SERVE_TOKEN`` (none when unset).
    read_timeout, keep_alive_timeout : float
        Seconds a client may take to send a whole request; seconds an idle connection stays open.
    torch_threads : int
        Intra-op threads per worker (1: small tabular models are fastest on one thread; use workers
        for more cores).
    access_log : bool
        Log one line per request (client, method, path, status, rows, time; never the body).

    The other parameters are those of :func:`create_app`.

    Examples
    --------
    >>> serve("model_dir/export", model_name="adult", port=8501, workers=2)  # doctest: +SKIP
    """
    _import_starlette()
    token = resolve_token(auth_token)
    if token:
        BearerToken(token)  # refuse a malformed token before binding
    if workers < 1:
        raise ValueError(f"workers must be >= 1; got {workers}")
    if read_timeout <= 0 or keep_alive_timeout <= 0:
        raise ValueError(
            f"read_timeout and keep_alive_timeout must be > 0 seconds; got {read_timeout}, {keep_alive_timeout}"
        )
    params = batching or BatchingParameters()
    settings = {
        "export_dir": str(export_dir),
        "model_name": model_name,
        "max_rows": max_rows,
        "max_body_bytes": max_body_bytes,
        "poll_seconds": poll_seconds,
        "batching": {
            "enabled": params.enabled,
            "max_batch_size": params.max_batch_size,
            "batch_timeout_micros": params.batch_timeout_micros,
            "max_enqueued_batches": params.max_enqueued_batches,
        },
        "read_timeout": read_timeout,
        "torch_threads": torch_threads,
        "log_level": log_level,
        "access_log": access_log,
    }
    _configure_logging(log_level, access_log)
    warn_if_exposed(host, token)
    if token:
        os.environ["ESTLAB_SERVE_TOKEN"] = token  # the workers read it from here, never from the settings
    import uvicorn

    from estlab.export.server_protocol import ServeConfig, http_protocol

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": False,  # estlab.serve.access logs requests (no bodies)
        "http": http_protocol(),
        "timeout_keep_alive": keep_alive_timeout,
        "lifespan": "on",
    }
    if workers == 1:
        app = _app_from_settings(settings, token)
        config: Any = ServeConfig(app, read_timeout=read_timeout, **options)
        uvicorn.Server(config).run()
        return
    load(export_dir)  # fail here, once, with a clear error, rather than in every worker
    os.environ[SETTINGS_ENV] = json.dumps(settings)  # read by each worker's app and HTTP protocol
    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.run).parameters:
        options["timeout_worker_healthcheck"] = 300  # a worker imports torch and loads the model first
    uvicorn.run("estlab.export.server:app_from_environment", factory=True, workers=workers, **options)


def app_from_environment() -> Any:
    """The app of one ``--workers`` process, built from ``$ESTLAB_SERVE_SETTINGS`` (set by :func:`serve`).

    Examples
    --------
    >>> os.environ[SETTINGS_ENV] = json.dumps({"export_dir": "exports", ...})  # doctest: +SKIP
    >>> app = app_from_environment()  # doctest: +SKIP
    """
    text = os.environ.get(SETTINGS_ENV)
    if not text:
        raise RuntimeError(f"{SETTINGS_ENV} is not set: start workers with estlab serve --workers N")
    settings = json.loads(text)
    _configure_logging(settings["log_level"], settings["access_log"])
    return _app_from_settings(settings, resolve_token(None))


def _app_from_settings(settings: Mapping[str, Any], token: str | None) -> Any:
    import torch

    torch.set_num_threads(int(settings["torch_threads"]))
    app = create_app(
        settings["export_dir"],
        settings["model_name"],
        max_rows=int(settings["max_rows"]),
        max_body_bytes=int(settings["max_body_bytes"]),
        poll_seconds=float(settings["poll_seconds"]),
        batching=BatchingParameters(**settings["batching"]),
        auth_token=token,
        read_timeout=float(settings["read_timeout"]),
    )
    gc.collect()
    gc.freeze()  # the loaded model and libraries are never garbage: keep collections short
    return app


def _configure_logging(log_level: str, access_log: bool) -> None:
    level = getattr(logging, log_level.upper(), logging.INFO)
    root = logging.getLogger("estlab.serve")
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        root.addHandler(handler)
        root.propagate = False
    root.setLevel(level)
    access_logger.setLevel(level if access_log else logging.WARNING)
