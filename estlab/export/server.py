"""A predict server speaking TensorFlow Serving's REST API, on Starlette + uvicorn.

Endpoints (``NAME`` is ``--model-name``; ``/versions/V`` may follow it, V being the export's timestamp):

* ``POST /v1/models/NAME:predict`` with ``{"instances": [...]}`` → ``{"predictions": [...]}``, or
  ``{"inputs": {...}}`` → ``{"outputs": ...}``; optional ``"signature_name"`` (``serving_default``,
  ``predict``, ``classification``, ``regression``).
* ``GET /v1/models/NAME`` → ``{"model_version_status": [...]}``.
* ``GET /v1/models/NAME/metadata`` → ``{"model_spec": ..., "metadata": {"signature_def": ...}}``.

A bad request gets a 4xx answer ``{"error": "..."}`` naming the problem, and the server goes on.

Examples
--------
>>> app = create_app("model_dir/export", model_name="adult")  # doctest: +SKIP
>>> serve("model_dir/export", model_name="adult", port=8501)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from estlab.export.inputs import InvalidInputError
from estlab.export.layout import list_versions
from estlab.export.loader import ExportedModel, load
from estlab.export.spec import SignatureDef

logger = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 10_000
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
_VERBS = ("predict", "classify", "regress")


class _RequestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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

    def respond(status: int, payload: Any) -> Response:
        body = json.dumps(payload, allow_nan=True, separators=(",", ":"))
        return Response(body, status_code=status, media_type="application/json")

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
                raise _RequestError(404, f"Malformed request: unknown path /v1/models/{path}")
            requested_version = parts[1]
        if name != model_name:
            raise _RequestError(404, f"Servable not found for request: Latest({name})")
        if requested_version is not None and parts[0] == "versions" and requested_version != version:
            raise _RequestError(
                404,
                f"Servable not found for request: Specific({name}, {requested_version}); "
                f"serving version {version}",
            )
        return kind, verb

    async def get_model(request: Request) -> Response:
        try:
            loaded = await served.current_async()
            kind, _ = route_target(request.path_params["rest"], str(loaded.version))
            if kind == "metadata":
                return respond(200, metadata_payload(loaded, model_name))
            if kind != "status":
                raise _RequestError(405, "Use POST for :predict, :classify and :regress")
            return respond(200, status_payload(loaded))
        except _RequestError as error:
            return respond(error.status, {"error": error.message})

    async def post_model(request: Request) -> Response:
        try:
            loaded = await served.current_async()
            kind, verb = route_target(request.path_params["rest"], str(loaded.version))
            if kind != "verb" or verb not in _VERBS:
                raise _RequestError(
                    404,
                    f"Malformed request: POST /v1/models/{request.path_params['rest']}; "
                    "use /v1/models/NAME:predict",
                )
            body = await _read_body(request, max_body_bytes)
            payload = _parse_json(body)
            if verb != "predict":
                raise _RequestError(
                    400,
                    f":{verb} takes tf.Example inputs, which this server does not support; use :predict "
                    'with "signature_name": "classification" or "regression"',
                )
            result = await run_in_threadpool(predict_payload, loaded, payload, max_rows)
            return respond(200, result)
        except _RequestError as error:
            return respond(error.status, {"error": error.message})

    routes = [
        Route("/v1/models/{rest:path}", get_model, methods=["GET"]),
        Route("/v1/models/{rest:path}", post_model, methods=["POST"]),
    ]
    return Starlette(routes=routes)


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


async def _read_body(request: Any, max_body_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
        raise _RequestError(
            413,
            f"Request body of {declared} bytes exceeds the limit of {max_body_bytes} bytes "
            "(--max-body-bytes); send fewer rows per request",
        )
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body_bytes:
            raise _RequestError(
                413,
                f"Request body exceeds the limit of {max_body_bytes} bytes "
                "(--max-body-bytes); send fewer rows per request",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_json(body: bytes) -> Mapping[str, Any]:
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise _RequestError(400, f"JSON Parse error: {error}") from None
    if not isinstance(payload, dict):
        raise _RequestError(
            400, f"JSON Value: request body must be a JSON object, got {type(payload).__name__}"
        )
    return payload


def predict_payload(
    model: ExportedModel, payload: Mapping[str, Any], max_rows: int = DEFAULT_MAX_ROWS
) -> dict:
    """Answer a parsed ``:predict`` request body the way TF Serving shapes it.

    Row format (``instances``) gives ``{"predictions": [row, ...]}``, each row an object of outputs
    (or the bare value when the signature has one output); columnar (``inputs``) gives
    ``{"outputs": {name: [...]}}`` (or the bare list for one output).

    Examples
    --------
    >>> predict_payload(model, {"instances": [{"age": 30.0}]})  # doctest: +SKIP
    {'predictions': [{'logits': [0.1], ...}]}
    """
    has_instances, has_inputs = "instances" in payload, "inputs" in payload
    if has_instances == has_inputs:
        raise _RequestError(
            400,
            "Missing 'inputs' or 'instances' key"
            if not has_instances
            else "Request body must contain either 'instances' or 'inputs', not both",
        )
    signature_name = payload.get("signature_name") or "serving_default"
    if not isinstance(signature_name, str) or signature_name not in model.signatures:
        raise _RequestError(
            400,
            f"Serving signature name: {signature_name!r} not found in signature def; "
            f"available: {sorted(model.signatures)}",
        )
    data = payload["instances"] if has_instances else payload["inputs"]
    if has_instances and not isinstance(data, list):
        raise _RequestError(400, "'instances' must be a JSON list of rows")
    if has_inputs and not isinstance(data, (dict, list)):
        raise _RequestError(400, "'inputs' must be a JSON object of named columns")
    n_rows = _row_count(data)
    if n_rows > max_rows:
        raise _RequestError(
            400,
            f"Request has {n_rows} rows, more than the limit of {max_rows} (--max-rows); split it into "
            "smaller requests",
        )
    try:
        columns = model.predict_columns(data, signature_name)
    except InvalidInputError as error:
        raise _RequestError(400, str(error)) from None
    signature = model.signatures[signature_name]
    if has_instances:
        return {"predictions": _rows(columns, signature)}
    if len(columns) == 1:
        return {"outputs": _plain(next(iter(columns.values())))}
    return {"outputs": {key: _plain(value) for key, value in columns.items()}}


def _row_count(data: Any) -> int:
    if isinstance(data, list):
        return len(data)
    lengths = [len(v) if isinstance(v, list) else 1 for v in data.values()]
    return max(lengths, default=0)


def _rows(columns: Mapping[str, np.ndarray], signature: SignatureDef) -> list[Any]:
    plain = {key: _plain(value) for key, value in columns.items()}
    n_rows = len(next(iter(plain.values()))) if plain else 0
    if len(plain) == 1:
        return next(iter(plain.values()))
    return [{key: values[i] for key, values in plain.items()} for i in range(n_rows)]


def _plain(array: np.ndarray) -> list[Any]:
    return array.tolist()  # NaN stays NaN: json.dumps(allow_nan=True) writes it as TF Serving does


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
) -> None:
    """Serve an export with uvicorn until interrupted (binds 127.0.0.1 unless told otherwise).

    Examples
    --------
    >>> serve("model_dir/export", model_name="adult", port=8501)  # doctest: +SKIP
    """
    _import_starlette()
    import uvicorn

    app = create_app(
        export_dir, model_name, max_rows=max_rows, max_body_bytes=max_body_bytes, poll_seconds=poll_seconds
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level)
