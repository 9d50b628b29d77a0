"""TF's checkpoint-reading API of an estimator: ``latest_checkpoint``, ``get_variable_names/value``, ``eval_dir``.

Examples
--------
>>> class Reader(CheckpointVariables):
...     model_dir = "/tmp/run"
>>> Reader().eval_dir("test")
'/tmp/run/eval_test'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from estlab.training import checkpoints
from estlab.training.summaries import eval_dir


class CheckpointVariables:
    """Reads the newest checkpoint of ``self.model_dir`` (a mixin of ``Estimator``)."""

    _models: Any

    @property
    def model_dir(self) -> str:  # provided by Estimator
        raise NotImplementedError

    def latest_checkpoint(self) -> str | None:
        """Path of the newest checkpoint in ``model_dir`` (None when there is none)."""
        latest = checkpoints.latest_checkpoint(self.model_dir)
        return None if latest is None else str(latest)

    def get_variable_names(self) -> list[str]:
        """Names of the variables in the newest checkpoint."""
        return sorted(self._models.latest_or_fail(self.model_dir)[1]["model"])

    def eval_dir(self, name: str | None = None) -> str:
        """TF's ``Estimator.eval_dir``: where evaluation summaries go (``model_dir/eval`` or ``eval_<name>``).

        Examples
        --------
        >>> Estimator(model_dir="/tmp/run").eval_dir("test")  # doctest: +SKIP
        '/tmp/run/eval_test'
        """
        return str(eval_dir(self.model_dir, name))

    def get_variable_value(self, name: str) -> np.ndarray:
        """Value of one variable in the newest checkpoint as a numpy array (``"global_step"``: its step, as TF)."""
        loaded = self._models.latest_or_fail(self.model_dir)[1]
        state = loaded["model"]
        if name == "global_step" and name not in state:
            return np.asarray(int(loaded["global_step"]), dtype=np.int64)
        if name not in state:
            raise ValueError(f"get_variable_value: no variable {name!r}; variables are {sorted(state)}")
        return state[name].detach().cpu().numpy()

