"""``MLflowListener``: log a training run to MLflow (parameters, training loss, every evaluation, the exports).

Optional: needs the ``mlflow`` extra (``pip install 'estlab[mlflow]'``, which installs ``mlflow-skinny``). This
module imports without it; creating the listener without mlflow raises an ImportError naming the extra.

It talks to MLflow through an ``MlflowClient`` and a run id of its own (no global "active run"), so it works
from a worker thread and beside the user's own ``mlflow.start_run()``:

- ``train_begin``: a run is created on the first call (later ``train`` calls with the same listener go on in
  it); the estimator's name and parameters (plain JSON, nested keys joined by ``.``) are logged once, and
  the model_dir as the tag ``estlab.model_dir``.
- ``step_end``: the training ``loss`` every ``log_every_n_steps`` steps (when the loop synchronised it).
- ``evaluate``: every metric at the global step, as ``eval/<metric>`` (``eval_<name>/<metric>`` for a named
  evaluation).
- ``train_end``: the status (``FINISHED``, ``KILLED`` for a stopped run, ``FAILED``) and the exports written
  under ``<model_dir>/export`` during this call (by ``train_and_evaluate``'s exporters) as artifacts under
  ``export/``; :meth:`MLflowListener.log_export` logs one made later (``est.export_saved_model``).

The final evaluation of ``train_and_evaluate`` arrives after ``train_end``; it is logged to the same run.

Examples
--------
>>> from estlab.training.mlflow_listener import MLflowListener  # doctest: +SKIP
>>> tracker = MLflowListener(experiment="census", tracking_uri="sqlite:///mlflow.db")  # doctest: +SKIP
>>> train_and_evaluate(est, TrainSpec(train_df, 2000, hooks=[tracker], label="y"),
...                    EvalSpec(eval_df, every_n_steps=200, exporters=[LatestExporter("latest")]))  # doctest: +SKIP
>>> tracker.run_id  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from estlab.training.events import ORDER, Event, Listener

__all__ = ["MLflowListener", "flatten_params"]

#: what MLflow accepts in one parameter value (its limit is larger in new servers; this fits every version)
MAX_PARAM_LENGTH = 500
_STATUS = {"finished": "FINISHED", "stopped": "KILLED", "failed": "FAILED"}


def _client(tracking_uri: str | None) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as error:
        raise ImportError(
            "MLflowListener needs mlflow, which is not installed: pip install 'estlab[mlflow]' "
            f"(or mlflow-skinny) — {error}") from error
    return MlflowClient(tracking_uri=tracking_uri)


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested parameters as ``{"a.b": "value"}`` strings, each cut to ``MAX_PARAM_LENGTH`` characters.

    Examples
    --------
    >>> flatten_params({"hidden_units": [8, 4], "optimizer": {"name": "Adam", "lr": 0.1}, "dropout": None})
    {'hidden_units': '[8, 4]', 'optimizer.name': 'Adam', 'optimizer.lr': '0.1', 'dropout': 'None'}
    """
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_params(value, f"{name}."))
        else:
            flat[name] = str(value)[:MAX_PARAM_LENGTH]
    return flat


class MLflowListener(Listener):
    """Log parameters, the training loss, evaluations and exports to an MLflow run (see the module docstring).

    Parameters
    ----------
    experiment : str, optional
        Experiment name (created when missing); default MLflow's default experiment.
    tracking_uri : str, optional
        Where to log (``"sqlite:///mlflow.db"``, ``"http://host:5000"``...); default MLflow's own
        (``MLFLOW_TRACKING_URI``).
    run_name : str, optional
        Name of the run MLflow shows.
    run_id : str, optional
        Log into this existing run instead of creating one.
    log_every_n_steps : int, optional
        Log the training loss every this many steps (None: never; evaluations are always logged).
    log_exports : bool
        Log the exports written during ``train`` as artifacts.
    tags : dict, optional
        Extra run tags.

    Examples
    --------
    >>> tracker = MLflowListener(experiment="demo", tracking_uri="sqlite:///mlflow.db")  # doctest: +SKIP
    >>> est.train(train_df, label="y", hooks=[tracker])  # doctest: +SKIP
    """

    order = ORDER["loggers"]

    def __init__(self, experiment: str | None = None, tracking_uri: str | None = None, run_name: str | None = None,
                 run_id: str | None = None, log_every_n_steps: int | None = 100, log_exports: bool = True,
                 tags: Mapping[str, str] | None = None) -> None:
        if log_every_n_steps is not None and (isinstance(log_every_n_steps, bool)
                                              or not isinstance(log_every_n_steps, int) or log_every_n_steps < 1):
            raise ValueError(f"MLflowListener: log_every_n_steps must be a positive int or None, got "
                             f"{log_every_n_steps!r}")
        self.client = _client(tracking_uri)
        self.experiment, self.run_name, self.run_id = experiment, run_name, run_id
        self.log_every_n_steps, self.log_exports = log_every_n_steps, log_exports
        self.tags = dict(tags or {})
        self._params_logged = run_id is not None and bool(self.client.get_run(run_id).data.params)
        self._began = 0.0
        self._chief = True

    # ------------------------------------------------------------------ run
    def _experiment_id(self) -> str:
        if self.experiment is None:
            return "0"  # MLflow's Default experiment
        found = self.client.get_experiment_by_name(self.experiment)
        return found.experiment_id if found is not None else self.client.create_experiment(self.experiment)

    def on_train_begin(self, event: Event) -> None:
        from estlab.training import distributed

        self._chief = distributed.is_chief()
        if not self._chief:
            return
        self._began = time.time()
        if self.run_id is None:
            run = self.client.create_run(self._experiment_id(), run_name=self.run_name,
                                         tags={"estlab.model_dir": str(event.get("run", "")), **self.tags})
            self.run_id = run.info.run_id
        else:
            self.client.update_run(self.run_id, status="RUNNING")
        if not self._params_logged:
            params = {"estimator": event.get("estimator", ""), **dict(event.get("params") or {})}
            for key, value in flatten_params(params).items():
                self.client.log_param(self.run_id, key, value)
            self._params_logged = True

    def wants_loss(self, global_step: int) -> bool:
        """The loop synchronises the loss at the steps this listener logs it."""
        return self._chief and self.log_every_n_steps is not None and global_step % self.log_every_n_steps == 0

    def on_step_end(self, event: Event) -> None:
        loss, step = event.get("loss"), int(event["global_step"])
        if (self._chief and self.run_id is not None and loss is not None and self.log_every_n_steps is not None
                and step % self.log_every_n_steps == 0 and math.isfinite(loss)):
            self.client.log_metric(self.run_id, "loss", float(loss), step=step)

    def on_evaluate(self, event: Event) -> None:
        if not self._chief or self.run_id is None:
            return
        prefix = "eval" if event.get("name") is None else f"eval_{event['name']}"
        for key, value in event["metrics"].items():
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                self.client.log_metric(self.run_id, f"{prefix}/{key}", float(value), step=int(event["global_step"]))

    def on_train_end(self, event: Event) -> None:
        if not self._chief or self.run_id is None:
            return
        if self.log_exports and event.get("run"):
            for path in self._new_exports(Path(event["run"]) / "export"):
                self.log_export(path, artifact_path=f"export/{path.parent.name}/{path.name}")
        self.client.set_terminated(self.run_id, _STATUS.get(event.get("status", ""), "FINISHED"))

    # ------------------------------------------------------------------ exports
    def _new_exports(self, root: Path) -> list[Path]:
        """Export directories (``export/<exporter>/<version>``) written since ``train_begin``."""
        if not root.is_dir():
            return []
        found = [version for exporter in sorted(root.iterdir()) if exporter.is_dir()
                 for version in sorted(exporter.iterdir())
                 if version.is_dir() and not version.name.startswith(".") and version.stat().st_mtime >= self._began]
        return found

    def log_export(self, path: str | os.PathLike, artifact_path: str = "export") -> None:
        """Log an export directory (``est.export_saved_model(...)``'s result) as artifacts of this run.

        Examples
        --------
        >>> tracker.log_export(est.export_saved_model("exports"))  # doctest: +SKIP
        """
        if self.run_id is None:
            raise RuntimeError("MLflowListener.log_export: no run yet; train with this listener first")
        self.client.log_artifacts(self.run_id, str(path), artifact_path)
