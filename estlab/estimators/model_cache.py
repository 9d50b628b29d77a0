"""The estimator's in-memory model: kept between calls, reloaded when the model_dir holds a newer checkpoint.

Calls on one estimator are serialised by the cache's lock; a read (evaluate, predict, export) that finds
another thread training reads that thread's newest checkpoint into a separate model instead of waiting.

Examples
--------
>>> import tempfile
>>> from estlab.training.config import RunConfig
>>> cache = ModelCache(definition=None)
>>> cache.state is None, cache.history.evaluations
(True, [])
>>> cache.current(tempfile.mkdtemp(), RunConfig())
Traceback (most recent call last):
...
ValueError: Could not find a trained model in model_dir ...; call train() first
"""

from __future__ import annotations

import contextlib
import gc
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from estlab.estimators.model_state import ModelDefinition, ModelState, build_state, load_from
from estlab.training import checkpoints
from estlab.training.config import RunConfig
from estlab.training.history import History


class ModelCache:
    """The in-memory :class:`ModelState` of one estimator and its :class:`History`.

    Parameters
    ----------
    definition : ModelDefinition
        The estimator's build hooks.
    warm_start_from : str, optional
        Where a new model's matching variables come from.
    """

    def __init__(self, definition: ModelDefinition | None, warm_start_from: str | None = None) -> None:
        self.definition = definition
        self.warm_start_from = warm_start_from
        self.lock = threading.RLock()
        self.state: ModelState | None = None
        self.history = History()

    def build(self, config: RunConfig, loaded: tuple[Path, dict] | None, fit_on: Any = None,
              restore_rng: bool = True, trainable: bool = True) -> ModelState:
        """A new model from ``loaded`` (or fresh, fitting the transformer on ``fit_on``); History comes with it.

        ``trainable=False``: a read-only side model, never DDP-wrapped (see ``build_state``).
        """
        if self.definition is None:
            raise ValueError("ModelCache has no model definition to build from")
        state, history = build_state(self.definition, config, loaded, fit_on, restore_rng, self.warm_start_from,
                                     trainable=trainable)
        if history is not None:
            self.history = history
        return state

    def current(self, model_dir: str, config: RunConfig, fit_on: Any = None) -> ModelState:
        """The in-memory model, (re)loaded when ``model_dir`` holds a newer checkpoint."""
        latest = checkpoints.latest_checkpoint(model_dir)
        newer = latest is not None and (self.state is None or checkpoints.step_of(latest) > self.state.global_step)
        if self.state is None or newer:
            loaded = checkpoints.load_latest(model_dir)
            if loaded is None and fit_on is None:
                raise ValueError(f"Could not find a trained model in model_dir {model_dir!r}; call train() first")
            self.state = self.build(config, loaded, fit_on)
        return self.state

    def at(self, model_dir: str, config: RunConfig, checkpoint_path: str | None) -> ModelState:
        """The in-memory model (``checkpoint_path`` None), else a separate model built from that checkpoint."""
        if checkpoint_path is None:
            return self.current(model_dir, config)
        latest = checkpoints.latest_checkpoint(model_dir)
        return self.build(config, load_from(checkpoint_path, None if latest is None else str(latest)),
                          restore_rng=False, trainable=False)

    def at_keeping_rng(self, model_dir: str, config: RunConfig, checkpoint_path: str | None) -> ModelState:
        """As :meth:`at`, leaving every global random state as it was (rebuilding may reseed)."""
        python_state, numpy_state = random.getstate(), np.random.get_state()
        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        try:
            with self.lock, torch.random.fork_rng(devices=devices):
                return self.at(model_dir, config, checkpoint_path)
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)

    @contextlib.contextmanager
    def reading(self, model_dir: str, checkpoint_path: str | None) -> Iterator[str | None]:
        """Serialise with other calls; while another thread trains, read its newest checkpoint instead of waiting.

        Yields the checkpoint to read (``None``: the in-memory model).
        """
        if self.lock.acquire(blocking=False):
            try:
                yield checkpoint_path
            finally:
                self.lock.release()
            return
        latest = checkpoints.latest_checkpoint(model_dir)
        if checkpoint_path is None and latest is not None:
            yield str(latest)  # a separate model built from the checkpoint: the training thread is not touched
            return
        with self.lock:
            yield checkpoint_path

    def latest_or_fail(self, model_dir: str) -> tuple[Path, dict]:
        """The newest readable checkpoint of ``model_dir``, or a clear error when it was never trained."""
        loaded = checkpoints.load_latest(model_dir)
        if loaded is None:
            raise ValueError(f"Could not find a trained model in model_dir {model_dir!r}; call train() first")
        return loaded

    def saved_label(self, model_dir: str, config: RunConfig) -> Any:
        """The training label remembered in memory or in the newest checkpoint (None when untrained)."""
        try:
            return self.current(model_dir, config).label
        except ValueError:
            return None

    def clear(self) -> None:
        """Drop the in-memory model (and the CUDA cache); the next call reloads from the model_dir."""
        with self.lock:
            self.state = None
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
