"""Exporters for ``train_and_evaluate``: export after evaluations, as TF's ``tf.estimator.*Exporter``.

Each exporter has a ``name`` (its folder under ``model_dir/export/``) and
``export(estimator, export_path, checkpoint_path, eval_result, is_the_final_export)``, which returns
the new export's path or ``None`` when it chose not to export. Old versions beyond
``exports_to_keep`` are removed (``None`` keeps all).

Examples
--------
>>> from estlab.export.exporters import BestExporter
>>> exporter = BestExporter(metric_key="accuracy", exports_to_keep=2)  # accuracy: higher is better
>>> eval_spec = EvalSpec(test_df, label="y", exporters=[exporter])  # doctest: +SKIP
"""

from __future__ import annotations

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


class Exporter:
    """Base class: ``name`` and ``export(...)``; subclasses decide when to export.

    Parameters
    ----------
    name : str
        Folder name under ``model_dir/export/``.
    serving_input_receiver_fn : callable, optional
        Declares the serving inputs (default: derived from the feature columns).
    assets_extra : mapping, optional
        Extra files copied into each export's ``assets.extra/``.
    as_text : bool
        Accepted for TF compatibility.
    exports_to_keep : int or None
        How many versions to keep (oldest removed first); ``None`` keeps all.
    onnx : bool, optional
        Also write ``model.onnx`` in each export (None: when the ``onnx`` extra is installed).

    Examples
    --------
    >>> LatestExporter("latest").name
    'latest'
    """

    def __init__(
        self,
        name: str,
        serving_input_receiver_fn: Callable[[], Any] | None = None,
        assets_extra: Mapping[str, str] | None = None,
        as_text: bool = False,
        exports_to_keep: int | None = 5,
        onnx: bool | None = None,
    ) -> None:
        if not isinstance(name, str) or not name or os.sep in name:
            raise ValueError(f"{type(self).__name__}: name must be a non-empty folder name, got {name!r}")
        if exports_to_keep is not None and (
            isinstance(exports_to_keep, bool) or not isinstance(exports_to_keep, int) or exports_to_keep < 1
        ):
            raise ValueError(
                f"{type(self).__name__}: exports_to_keep must be a positive int or None (keep all), "
                f"got {exports_to_keep!r}"
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
        raise NotImplementedError

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
    """Export after every evaluation, keeping the newest ``exports_to_keep``.

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
        onnx: bool | None = None,
    ) -> None:
        super().__init__(name, serving_input_receiver_fn, assets_extra, as_text, exports_to_keep, onnx)

    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):  # noqa: D102
        return self._export(estimator, export_path, checkpoint_path, eval_result)


class FinalExporter(Exporter):
    """Export only at the end of ``train_and_evaluate`` (``is_the_final_export``).

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
        exports_to_keep: int | None = 5,
        onnx: bool | None = None,
    ) -> None:
        super().__init__(name, serving_input_receiver_fn, assets_extra, as_text, exports_to_keep, onnx)

    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):  # noqa: D102
        if not is_the_final_export:
            return None
        return self._export(estimator, export_path, checkpoint_path, eval_result)


class BestExporter(Exporter):
    """Export when an evaluation beats the best so far on ``metric_key``; the best survives restarts.

    The best value is kept in ``<export_path>/best_eval.json`` (written atomically), so a resumed run
    only exports models better than those of earlier runs.

    Parameters
    ----------
    name : str
        Folder name under ``model_dir/export/`` (TF's default ``"best_exporter"``).
    metric_key : str
        Evaluation metric compared (default ``"loss"``).
    higher_is_better : bool, optional
        ``False`` for losses and errors, ``True`` for accuracy, AUC...; ``None`` (default) reads the
        direction the heads declare for ``metric_key`` (:mod:`estlab.training.metric_info`).
    compare_fn : callable, optional
        TF's ``compare_fn(best_eval_result, current_eval_result) -> bool`` (True: current is better);
        overrides ``metric_key``/``higher_is_better`` for the decision.
    serving_input_receiver_fn, assets_extra, as_text, exports_to_keep, onnx
        As for :class:`Exporter`.

    Examples
    --------
    >>> exporter = BestExporter(metric_key="auc")
    >>> exporter.higher_is_better, exporter.is_better({"auc": 0.8}, {"auc": 0.9})
    (True, True)
    """

    def __init__(
        self,
        name: str = "best_exporter",
        serving_input_receiver_fn: Callable[[], Any] | None = None,
        metric_key: str = "loss",
        higher_is_better: bool | None = None,
        compare_fn: Callable[[Mapping[str, Any], Mapping[str, Any]], bool] | None = None,
        assets_extra: Mapping[str, str] | None = None,
        as_text: bool = False,
        exports_to_keep: int | None = 5,
        onnx: bool | None = None,
    ) -> None:
        super().__init__(name, serving_input_receiver_fn, assets_extra, as_text, exports_to_keep, onnx)
        self.metric_key = metric_key
        self.higher_is_better = (
            _declared_higher_is_better(metric_key) if higher_is_better is None else bool(higher_is_better)
        )
        self.compare_fn = compare_fn

    def is_better(self, best: Mapping[str, Any] | None, current: Mapping[str, Any]) -> bool:
        """Whether ``current`` beats ``best`` (always True when there is no best yet)."""
        if best is None:
            return True
        if self.compare_fn is not None:
            return bool(self.compare_fn(best, current))
        old, new = _as_float(best.get(self.metric_key)), _as_float(current[self.metric_key])
        if math.isnan(new):
            return False
        if math.isnan(old):
            return True
        return new > old if self.higher_is_better else new < old

    def best_eval_result(self, export_path: str) -> dict[str, Any] | None:
        """The best evaluation so far, read from ``<export_path>/best_eval.json`` (None if absent)."""
        path = Path(export_path) / BEST_FILE
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))["eval_result"]
        except (OSError, ValueError, KeyError):
            return None

    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):  # noqa: D102
        if not eval_result:
            return None
        if self.compare_fn is None and self.metric_key not in eval_result:
            raise ValueError(
                f"BestExporter: metric_key={self.metric_key!r} is not in the evaluation result, which has "
                f"{sorted(eval_result)}; pass one of those as metric_key"
            )
        best = self.best_eval_result(export_path)
        if not self.is_better(best, eval_result):
            return None
        path = self._export(estimator, export_path, checkpoint_path, eval_result)
        record = {
            "metric_key": self.metric_key,
            "higher_is_better": self.higher_is_better,
            "eval_result": _plain_floats(eval_result),
            "export": path,
        }
        _write_json_atomically(Path(export_path) / BEST_FILE, record)
        return path


def _as_float(value: Any) -> float:
    return math.nan if value is None else float(value)


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
