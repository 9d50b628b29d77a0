"""Exporters for ``train_and_evaluate``: export after evaluations, as TF's ``tf.estimator.*Exporter``.

Each exporter has a ``name`` (its folder under ``model_dir/export/``) and
``export(estimator, export_path, checkpoint_path, eval_result, is_the_final_export)``, which returns
the new export's path or ``None`` when it chose not to export. Old versions beyond
``exports_to_keep`` are removed (``None`` keeps all). The constructors take TF's parameters in TF's order;
estlab's own (``onnx``, and ``BestExporter``'s ``metric_key``/``higher_is_better``) are keyword-only.

Examples
--------
>>> from estlab.export.exporters import BestExporter
>>> exporter = BestExporter(metric_key="accuracy", exports_to_keep=2)  # accuracy: higher is better
>>> eval_spec = EvalSpec(test_df, label="y", exporters=[exporter])  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from estlab.training.metric_info import higher_is_better as _declared_higher_is_better

BEST_FILE = "best_eval.json"
#: TF's default ``event_file_pattern``: the evaluation events under ``model_dir``.
EVENT_FILE_PATTERN = "eval/*.tfevents.*"
_COMPARE_ARGS = ("best_eval_result", "current_eval_result")

CompareFn = Callable[..., bool]


class Exporter:
    """Base class (TF's ``tf.estimator.Exporter``): ``name`` and ``export(...)``; subclasses decide when to export.

    A TF-style subclass that defines its own ``name`` property and ``export`` method need not call
    ``__init__``.

    Parameters
    ----------
    name : str, optional
        Folder name under ``model_dir/export/`` (required unless a subclass defines ``name``).
    serving_input_receiver_fn : callable, optional
        Declares the serving inputs (default: derived from the feature columns).
    assets_extra : mapping, optional
        Extra files copied into each export's ``assets.extra/``.
    as_text : bool
        Accepted for TF compatibility.
    exports_to_keep : int or None
        How many versions to keep (oldest removed first); ``None`` keeps all.
    onnx : bool, optional
        Keyword-only: also write ``model.onnx`` in each export (None: when the ``onnx`` extra is installed).

    Examples
    --------
    >>> LatestExporter("latest").name
    'latest'
    """

    def __init__(
        self,
        name: str | None = None,
        serving_input_receiver_fn: Callable[[], Any] | None = None,
        assets_extra: Mapping[str, str] | None = None,
        as_text: bool = False,
        exports_to_keep: int | None = 5,
        *,
        onnx: bool | None = None,
    ) -> None:
        if name is not None and (not isinstance(name, str) or not name or os.sep in name):
            raise ValueError(f"{type(self).__name__}: name must be a non-empty folder name, got {name!r}")
        if exports_to_keep is not None and (
            isinstance(exports_to_keep, bool) or not isinstance(exports_to_keep, int) or exports_to_keep < 1
        ):
            raise ValueError(
                f"{type(self).__name__}: exports_to_keep must be a positive int or None (keep all), "
                f"got {exports_to_keep!r}"
            )
        if serving_input_receiver_fn is not None and not callable(serving_input_receiver_fn):
            raise TypeError(
                f"{type(self).__name__}: serving_input_receiver_fn must be a function returning a "
                f"ServingInputReceiver, got {type(serving_input_receiver_fn).__name__}; e.g. "
                "estlab.estimator.export.build_raw_serving_input_receiver_fn({'x': 'float32'})"
            )
        self._name = name
        self.serving_input_receiver_fn = serving_input_receiver_fn
        self.assets_extra = dict(assets_extra or {})
        self.as_text = as_text
        self.exports_to_keep = exports_to_keep
        self.onnx = onnx

    @property
    def name(self) -> str:
        """Folder name under ``model_dir/export/``."""
        if self._name is None:
            raise NotImplementedError(f"{type(self).__name__}: pass name= or define a name property")
        return self._name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, exports_to_keep={self.exports_to_keep!r})"

    def export(
        self,
        estimator: Any,
        export_path: str,
        checkpoint_path: str | None,
        eval_result: Mapping[str, Any] | None,
        is_the_final_export: bool,
    ) -> str | None:
        """Export if this exporter's rule says so; returns the export directory or ``None``."""
        raise NotImplementedError(f"{type(self).__name__} must define export(...)")

    def _export(
        self,
        estimator: Any,
        export_path: str,
        checkpoint_path: str | None,
        eval_result: Mapping[str, Any] | None,
    ) -> str:
        from estlab.export import export_saved_model

        metrics = {k: v for k, v in (eval_result or {}).items() if k != "global_step"}
        path = export_saved_model(
            estimator,
            export_path,
            self.serving_input_receiver_fn,
            assets_extra=self.assets_extra or None,
            checkpoint_path=_checkpoint_to_read(estimator, checkpoint_path),
            onnx=self.onnx,
            metrics=metrics or None,
        )
        self._garbage_collect(export_path)
        return path

    def _garbage_collect(self, export_path: str) -> None:
        if self.exports_to_keep is None:
            return
        from estlab.export.layout import list_versions

        versions = list_versions(export_path)
        for old in versions[: max(len(versions) - self.exports_to_keep, 0)]:
            shutil.rmtree(old, ignore_errors=True)


def _checkpoint_to_read(estimator: Any, checkpoint_path: str | None) -> str | None:
    """``None`` (the in-memory model) when the checkpoint is the estimator's current step."""
    if checkpoint_path is None:
        return None
    from estlab.training import checkpoints

    try:
        same_step = checkpoints.step_of(Path(checkpoint_path)) == estimator.global_step
    except (ValueError, TypeError, AttributeError):
        return checkpoint_path
    return None if same_step else checkpoint_path


class LatestExporter(Exporter):
    """Export after every evaluation, keeping the newest ``exports_to_keep`` (TF's ``LatestExporter``).

    Examples
    --------
    >>> LatestExporter("latest", exports_to_keep=3).exports_to_keep
    3
    """

    def __init__(
        self,
        name: str = "latest",
        serving_input_receiver_fn: Callable[[], Any] | None = None,
        assets_extra: Mapping[str, str] | None = None,
        as_text: bool = False,
        exports_to_keep: int | None = 5,
        *,
        onnx: bool | None = None,
    ) -> None:
        super().__init__(name, serving_input_receiver_fn, assets_extra, as_text, exports_to_keep, onnx=onnx)

    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):  # noqa: D102
        return self._export(estimator, export_path, checkpoint_path, eval_result)


class FinalExporter(Exporter):
    """Export only at the end of ``train_and_evaluate`` (``is_the_final_export``; TF's ``FinalExporter``).

    TF's parameters are ``(name, serving_input_receiver_fn, assets_extra, as_text)``; ``exports_to_keep``
    (keyword-only, default 5) bounds the versions kept across runs.

    Examples
    --------
    >>> FinalExporter("final").name
    'final'
    """

    def __init__(
        self,
        name: str = "final",
        serving_input_receiver_fn: Callable[[], Any] | None = None,
        assets_extra: Mapping[str, str] | None = None,
        as_text: bool = False,
        *,
        exports_to_keep: int | None = 5,
        onnx: bool | None = None,
    ) -> None:
        super().__init__(name, serving_input_receiver_fn, assets_extra, as_text, exports_to_keep, onnx=onnx)

    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):  # noqa: D102
        if not is_the_final_export:
            return None
        return self._export(estimator, export_path, checkpoint_path, eval_result)


def loss_smaller(best_eval_result: Mapping[str, Any], current_eval_result: Mapping[str, Any]) -> bool:
    """TF's default ``compare_fn``: whether ``current_eval_result["loss"]`` is smaller than the best's.

    Raises ``ValueError`` when either result is empty or has no ``"loss"``.

    Examples
    --------
    >>> loss_smaller(best_eval_result={"loss": 0.5}, current_eval_result={"loss": 0.4})
    True
    """
    for label, result in (
        ("best_eval_result", best_eval_result),
        ("current_eval_result", current_eval_result),
    ):
        if not result or "loss" not in result:
            raise ValueError(f"loss_smaller: {label} must hold a 'loss', got {dict(result or {})!r}")
    return float(best_eval_result["loss"]) > float(current_eval_result["loss"])


def check_compare_fn(compare_fn: Any) -> None:
    """Raise ``ValueError`` unless ``compare_fn`` takes exactly ``best_eval_result`` and ``current_eval_result``.

    TF calls it by these names, so other names (or extra parameters) are refused, as TF refuses them.

    Examples
    --------
    >>> check_compare_fn(lambda best_eval_result, current_eval_result: True)
    >>> check_compare_fn(lambda a, b: True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: BestExporter: compare_fn ... must take the arguments best_eval_result and current_eval_result ...
    """
    if not callable(compare_fn):
        raise TypeError(f"BestExporter: compare_fn must be a function, got {type(compare_fn).__name__}")
    try:
        parameters = inspect.signature(compare_fn).parameters
    except (TypeError, ValueError):  # a builtin without a signature: trust it
        return
    bound = set(compare_fn.keywords) if isinstance(compare_fn, functools.partial) else set()
    names = [
        name
        for name, p in parameters.items()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and name not in bound
    ]
    missing = [name for name in _COMPARE_ARGS if name not in names]
    extra = [name for name in names if name not in _COMPARE_ARGS]
    if missing or extra:
        raise ValueError(
            f"BestExporter: compare_fn {getattr(compare_fn, '__name__', compare_fn)!r} must take the arguments "
            f"best_eval_result and current_eval_result (TF calls it by these names); it takes {names}. "
            "Define it as def compare_fn(best_eval_result, current_eval_result) -> bool"
        )


class BestExporter(Exporter):
    """Export when an evaluation beats the best so far (TF's ``BestExporter``, same parameters and order).

    The best so far is found, on the first export into a model_dir, among the evaluations recorded in the
    event files ``event_file_pattern`` (relative to ``model_dir``; estlab writes every evaluation there) and
    the record ``<export_path>/best_eval.json`` that each best export writes (atomically). So a restarted
    training never exports a model worse than one evaluated before; the evaluation being exported is not its
    own rival (events at its global step are left out).

    Parameters
    ----------
    name : str
        Folder name under ``model_dir/export/`` (TF's default ``"best_exporter"``).
    serving_input_receiver_fn : callable, optional
        Declares the serving inputs (default: derived from the feature columns).
    event_file_pattern : str or None
        Glob of evaluation event files relative to ``model_dir`` (TF's ``"eval/*.tfevents.*"``); ``None``
        reads only ``best_eval.json``.
    compare_fn : callable
        ``compare_fn(best_eval_result, current_eval_result) -> bool`` (True: current is better), called by
        these argument names. Default :func:`loss_smaller` (TF's: a smaller ``loss``).
    assets_extra, as_text, exports_to_keep
        As for :class:`Exporter`.
    metric_key : str, optional
        Keyword-only (estlab): compare this metric instead of using ``compare_fn`` (not both).
    higher_is_better : bool, optional
        Keyword-only (estlab), with ``metric_key``: ``None`` (default) reads the direction the heads declare
        for the metric (:mod:`estlab.training.metric_info`).
    onnx : bool, optional
        Keyword-only: also write ``model.onnx``.

    Examples
    --------
    >>> exporter = BestExporter(metric_key="auc")
    >>> exporter.higher_is_better, exporter.is_better({"auc": 0.8}, {"auc": 0.9})
    (True, True)
    >>> BestExporter("best", None, "eval/*.tfevents.*", loss_smaller).metric_key
    'loss'
    """

    def __init__(
        self,
        name: str = "best_exporter",
        serving_input_receiver_fn: Callable[[], Any] | None = None,
        event_file_pattern: str | None = EVENT_FILE_PATTERN,
        compare_fn: CompareFn | None = loss_smaller,
        assets_extra: Mapping[str, str] | None = None,
        as_text: bool = False,
        exports_to_keep: int | None = 5,
        *,
        metric_key: str | None = None,
        higher_is_better: bool | None = None,
        onnx: bool | None = None,
    ) -> None:
        super().__init__(name, serving_input_receiver_fn, assets_extra, as_text, exports_to_keep, onnx=onnx)
        if event_file_pattern is not None and (
            not isinstance(event_file_pattern, str) or not event_file_pattern
        ):
            raise ValueError(
                f"BestExporter: event_file_pattern must be a glob relative to model_dir such as "
                f"{EVENT_FILE_PATTERN!r}, or None; got {event_file_pattern!r}"
            )
        custom = compare_fn is not None and compare_fn is not loss_smaller
        if custom and metric_key is not None:
            raise ValueError(
                f"BestExporter: give compare_fn or metric_key, not both (got compare_fn={compare_fn!r}, "
                f"metric_key={metric_key!r})"
            )
        if compare_fn is None and metric_key is None:
            raise ValueError(
                "BestExporter: compare_fn must not be None; leave it out to compare the loss (TF's default), "
                "or pass metric_key='auc' (estlab)"
            )
        if custom:
            check_compare_fn(compare_fn)
            if higher_is_better is not None:
                raise ValueError("BestExporter: higher_is_better goes with metric_key, not with a compare_fn")
        self.event_file_pattern = event_file_pattern
        self.compare_fn: CompareFn | None = compare_fn if custom else None
        self.metric_key: str | None = None if custom else (metric_key or "loss")
        self.higher_is_better: bool | None = None
        if self.metric_key is not None:
            self.higher_is_better = (
                _declared_higher_is_better(self.metric_key)
                if higher_is_better is None
                else bool(higher_is_better)
            )
        self._model_dir: Any = None
        self._best_eval_result: dict[str, Any] | None = None
        self._loaded = False

    def is_better(self, best: Mapping[str, Any] | None, current: Mapping[str, Any]) -> bool:
        """Whether ``current`` beats ``best`` (always True when there is no best yet)."""
        if best is None:
            return True
        if self.compare_fn is not None:
            return bool(self.compare_fn(best_eval_result=best, current_eval_result=current))
        assert self.metric_key is not None
        old, new = _as_float(best.get(self.metric_key)), _as_float(current.get(self.metric_key))
        if math.isnan(new):
            return False
        if math.isnan(old):
            return True
        return new > old if self.higher_is_better else new < old

    def best_eval_result(self, export_path: str) -> dict[str, Any] | None:
        """The evaluation recorded by the last best export, ``<export_path>/best_eval.json`` (None if absent)."""
        path = Path(export_path) / BEST_FILE
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))["eval_result"]
        except (OSError, ValueError, KeyError):
            return None

    def best_so_far(
        self, model_dir: str | None, export_path: str, global_step: Any = None
    ) -> dict[str, Any] | None:
        """The best evaluation recorded before this one: event files of ``model_dir`` and ``best_eval.json``.

        Evaluations at ``global_step`` (the one being exported) are left out; so are, when comparing
        ``metric_key``, events that lack it.

        Examples
        --------
        >>> BestExporter().best_so_far(None, "/nonexistent") is None
        True
        """
        from estlab.export.eval_events import read_eval_results

        candidates: list[dict[str, Any]] = []
        if self.event_file_pattern and model_dir is not None:
            events = read_eval_results(os.path.join(str(model_dir), self.event_file_pattern))
            candidates += [e for e in events if global_step is None or e.get("global_step") != global_step]
        recorded = self.best_eval_result(export_path)
        if recorded:
            candidates.append(recorded)
        if self.metric_key is not None:
            candidates = [c for c in candidates if not math.isnan(_as_float(c.get(self.metric_key)))]
        best: dict[str, Any] | None = None
        for candidate in candidates:
            if best is None or self.is_better(best, candidate):
                best = candidate
        return best

    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):  # noqa: D102
        if not eval_result:
            return None
        if self.metric_key is not None and self.metric_key not in eval_result:
            raise ValueError(
                f"BestExporter: metric_key={self.metric_key!r} is not in the evaluation result, which has "
                f"{sorted(eval_result)}; pass one of those as metric_key, or a compare_fn"
            )
        model_dir = getattr(estimator, "model_dir", None)
        if not self._loaded or model_dir != self._model_dir:
            self._model_dir, self._loaded = model_dir, True
            self._best_eval_result = self.best_so_far(model_dir, export_path, eval_result.get("global_step"))
        if not self.is_better(self._best_eval_result, eval_result):
            return None
        path = self._export(estimator, export_path, checkpoint_path, eval_result)
        self._best_eval_result = _plain_floats(eval_result)
        record = {
            "metric_key": self.metric_key,
            "higher_is_better": self.higher_is_better,
            "eval_result": self._best_eval_result,
            "export": path,
        }
        _write_json_atomically(Path(export_path) / BEST_FILE, record)
        return path


def _as_float(value: Any) -> float:
    try:
        return math.nan if value is None else float(value)
    except (TypeError, ValueError):
        return math.nan


def _plain_floats(result: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in result.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        out[str(key)] = int(value) if key == "global_step" else (number if math.isfinite(number) else None)
    return out


def _write_json_atomically(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".best-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
