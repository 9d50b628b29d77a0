"""The in-memory model of an estimator: build, restore, warm start, encode, forward, and the checkpoint payload.

A :class:`ModelState` is what a checkpoint restores and what the training session steps: the module, its
optimizers, the head, the fitted transformer, the step and the input's position. :func:`build_state` makes one
from a :class:`ModelDefinition` (an estimator's build hooks) and, when there is one, a checkpoint.

Examples
--------
>>> import torch
>>> from estlab.estimators.custom import ModeKeys
>>> state = ModelState(module=torch.nn.Linear(1, 1), head=None, transformer=None,
...                    device=torch.device("cpu"), input_names=["x"])
>>> state.forward_fn(ModeKeys.PREDICT)({"x": torch.zeros(2, 1)}).shape
torch.Size([2, 1])
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol, cast

import numpy as np
import pandas as pd
import torch

from estlab._util import plain_json
from estlab.estimators.embedding_checkpoints import load_checkpoint_tables, skip_checkpoint_tables
from estlab.estimators.heads import encode_named_labels
from estlab.estimators.weights import WeightColumn, read_weights
from estlab.features.encode_cache import cached_transform
from estlab.inputs.source import check_keys
from estlab.training import checkpoints, distributed
from estlab.training.config import RunConfig, resolve_device
from estlab.training.history import History
from estlab.training.seeding import rng_state, seed_everything, set_rng_state

logger = logging.getLogger(__name__)

#: Version of the checkpoint ``meta`` layout.
CHECKPOINT_FORMAT = 1


class ModelDefinition(Protocol):
    """The build hooks an estimator provides (premade estimators override them)."""

    def _feature_columns(self) -> list: ...

    def _build_head(self) -> Any: ...

    def _build_module(self, transformer: Any) -> torch.nn.Module: ...

    def _build_optimizers(self, module: torch.nn.Module) -> list[torch.optim.Optimizer]: ...

    def _input_names(self, module: torch.nn.Module) -> list[str] | None: ...

    def _estimator_params(self) -> dict[str, Any]: ...


@dataclass
class ModelState:
    """The module, optimizers, head and fitted transformer of one estimator, with its step and input position."""

    module: torch.nn.Module
    head: Any
    transformer: Any
    device: torch.device
    optimizers: list[torch.optim.Optimizer] = field(default_factory=list)
    forward_module: torch.nn.Module | None = None
    global_step: int = 0
    batcher_state: dict[str, Any] | None = None
    label: Any = None
    scaler: Any = None
    input_names: list[str] | None = None
    takes_mode: bool = False
    estimator: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    listener_state: dict[str, Any] = field(default_factory=dict)
    #: ``raw_inputs(state, features) -> tensors``: a definition's own raw inputs (a baseline reads only the rows).
    raw_inputs: Any = None

    def __post_init__(self) -> None:
        if self.forward_module is None:
            self.forward_module = self.module

    @property
    def weight_column(self) -> WeightColumn | None:
        """The head's weight column, a name or a ``numeric_column`` (None when examples are unweighted)."""
        return getattr(self.head, "weight_column", None)

    # ------------------------------------------------------------------ tensors
    def encode(self, part: Any, with_labels: bool, label_key: Any = None) -> tuple[dict[str, torch.Tensor], Any, Any]:
        """Tensors of one input part (``features``/``labels``/``feature_names``): features, labels, weights.

        Label errors name the label column: the labels' own name, else ``label_key``, else the training label.
        """
        features = part.features
        if self.transformer is not None:
            check_keys(_required(self.transformer), _keys(features))
            encoded = cached_transform(self.transformer, features)  # a frame encoded before: its tensors again
        else:
            encoded = self.raw_tensors(features)
        encoded = {k: v.to(self.device) for k, v in encoded.items()}
        if not with_labels:
            return encoded, None, None
        key = label_key if label_key is not None else self.label
        labels = encode_named_labels(self.head, part.labels, key).to(self.device)
        return encoded, labels, self._weights(part)

    def _weights(self, part: Any) -> torch.Tensor | None:
        column = self.weight_column
        if column is None:
            return None
        return read_weights(column, part.features, part.feature_names, self.device)

    def raw_tensors(self, features: Any) -> dict[str, torch.Tensor]:
        """The module's raw tensor inputs, for models that read no feature columns."""
        if self.raw_inputs is not None:
            return self.raw_inputs(self, features)
        names = self._raw_names(features)
        out = {}
        for name in names:
            values = np.asarray(features[name])
            if values.dtype.kind not in "biuf":
                raise ValueError(f"feature {name!r} has dtype {values.dtype}; a model without feature columns takes "
                                 "numeric arrays only: encode it, or give the model feature columns")
            if values.dtype.kind == "f":
                _check_finite_input(name, values)
            tensor = torch.from_numpy(np.array(values, copy=True))
            out[name] = tensor.float() if values.dtype.kind in "fb" else tensor
        return out

    def _raw_names(self, features: Any) -> list[str]:
        """The raw inputs the module reads, or a ValueError naming those missing from ``features``."""
        available = _keys(features)
        names = self.input_names if self.input_names is not None else available
        missing = [n for n in names if n not in available]
        if missing:
            raise ValueError(f"model input(s) {missing} are missing from the features, which have keys {available}; "
                             "name the arrays after the module's forward() arguments, e.g. x={'input_1': images}")
        return names

    def check_input_keys(self, features: Any) -> None:
        """Raise naming what is missing when ``features`` lack a column or input the model reads (nothing is encoded).

        Examples
        --------
        >>> state = ModelState(module=torch.nn.Linear(1, 1), head=None, transformer=None,
        ...                    device=torch.device("cpu"), input_names=["x"])
        >>> state.check_input_keys({"y": []})
        Traceback (most recent call last):
        ...
        ValueError: model input(s) ['x'] are missing from the features, which have keys ['y']; name the arrays after the module's forward() arguments, e.g. x={'input_1': images}
        """
        if self.transformer is not None:
            check_keys(_required(self.transformer), _keys(features))
        elif self.raw_inputs is None:
            self._raw_names(features)

    def forward_fn(self, mode: str) -> Any:
        """``forward(batch) -> logits (N, k)`` in ``mode`` (passed to modules whose forward takes ``mode``)."""
        kwargs = {"mode": mode} if self.takes_mode else {}
        names = self.input_names
        module = self.forward_module if self.forward_module is not None else self.module

        def forward(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            out = module(*[batch[n] for n in names], **kwargs) if names is not None else module(batch, **kwargs)
            return out.unsqueeze(1) if out.dim() == 1 else out

        return forward

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_payload(self, history: History) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(payload, meta)`` of a checkpoint: tensors in the payload, plain JSON values in ``meta``."""
        tensors, plain = rng_state()
        payload = {
            "global_step": self.global_step,
            "model": {k: v.detach().cpu() for k, v in self.module.state_dict().items()},
            "optimizers": [o.state_dict() for o in self.optimizers],
            "scaler": self.scaler.state_dict() if self.scaler is not None else {},
            "rng": tensors,
        }
        meta = {
            "format": CHECKPOINT_FORMAT,
            "global_step": self.global_step,
            "estimator": self.estimator,
            "estimator_params": plain_json(self.params),
            "head": plain_json(self.head.to_dict()) if hasattr(self.head, "to_dict") else None,
            "transformer": self.transformer.to_dict() if self.transformer is not None else None,
            "batcher": self.batcher_state,
            "label": plain_json(self.label),
            "history": history.to_dict(),
            "listeners": self.listener_state,
            "rng": plain,
            "time": time.time(),
        }
        return payload, meta


#: the largest float32 magnitude: raw float inputs are fed to the module as float32
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_finite_input(name: str, values: np.ndarray) -> None:
    """Refuse NaN, inf and magnitudes beyond float32's range in a raw model input, naming it (as feature columns do).

    Examples
    --------
    >>> _check_finite_input("x", np.array([[1.0, 2.0]]))
    >>> _check_finite_input("x", np.array([[1.0], [np.inf]]))
    Traceback (most recent call last):
    ...
    ValueError: model input 'x' holds 1 non-finite value(s) (first: inf at row 1): NaN, inf, -inf or a magnitude beyond float32's 3.403e+38, which the model would read as inf or NaN. A model without feature columns takes its arrays as given: fix or drop those rows, or give the model feature columns (numeric_column(..., default_value=..., non_finite='default') replaces them).
    """
    with np.errstate(invalid="ignore", over="ignore"):
        bad = ~(np.abs(values) <= FLOAT32_MAX)  # NaN compares False
    if not bad.any():
        return
    flat = np.flatnonzero(bad.reshape(-1))
    per_row = max(1, int(np.prod(values.shape[1:]))) if values.ndim > 1 else 1
    raise ValueError(
        f"model input {name!r} holds {flat.size} non-finite value(s) (first: {float(values.reshape(-1)[flat[0]])!r} "
        f"at row {int(flat[0]) // per_row}): NaN, inf, -inf or a magnitude beyond float32's {FLOAT32_MAX:.4g}, which "
        "the model would read as inf or NaN. A model without feature columns takes its arrays as given: fix or drop "
        "those rows, or give the model feature columns (numeric_column(..., default_value=..., non_finite='default') "
        "replaces them)."
    )


def _keys(features: Any) -> list[str]:
    return list(features.columns if isinstance(features, pd.DataFrame) else features)


def _required(transformer: Any) -> list[str]:
    required: Iterable[str] | Callable[[], Iterable[str]] = transformer.required_keys
    return list(required() if callable(required) else required)


def fitted_transformer(definition: ModelDefinition, meta: dict[str, Any], fit_on: Any) -> Any:
    """The fitted FeatureTransformer (None without columns): the definition's columns with the checkpoint's state.

    As in TF, a checkpoint holds learned state, never code: the columns (their ``normalizer_fn`` lambdas
    included) come from the code that builds the estimator, and only the fitted state (vocabularies,
    statistics, boundaries) from ``meta``; a checkpoint saved for other columns raises a ``ValueError``
    naming the difference. Without a saved state the transformer is fitted on ``fit_on``.
    """
    columns = definition._feature_columns()
    if not columns:
        return None
    from estlab.features import FeatureColumnError, FeatureTransformer

    if meta.get("transformer") is not None:
        try:
            return FeatureTransformer.from_dict(meta["transformer"], feature_columns=columns)
        except FeatureColumnError as error:
            raise ValueError(f"the checkpoint does not fit this estimator's feature columns: {error}") from None
    if fit_on is None:
        raise ValueError("the model has feature columns but no fitted transformer; call train() first")
    return fit_on.fit(FeatureTransformer(columns))


def build_state(
    definition: ModelDefinition,
    config: RunConfig,
    loaded: tuple[Path, dict] | None,
    fit_on: Any = None,
    restore_rng: bool = True,
    warm_start_from: str | None = None,
    trainable: bool = True,
) -> tuple[ModelState, History | None]:
    """Build the model (seeded), restore ``loaded`` into it or warm-start it; returns the saved History too.

    ``trainable=False`` (a side model read for evaluation, prediction or export) is never DDP-wrapped under
    torchrun: wrapping is a collective, and such a model may be built on one rank only (the chief's exporters).

    ``fit_on`` (a ``DataSource``) fits the transformer when no checkpoint holds one. A side model
    (``restore_rng=False``: another checkpoint, or one read while a thread trains) leaves the global RNGs alone.
    Lazy modules (``nn.LazyLinear``) and a TF-style model_fn's layers are materialised before the optimizers
    are built (:func:`materialise`). Metrics added with ``add_metrics`` wrap the head.
    """
    device = distributed.rank_device(resolve_device(config.device))
    meta = loaded[1]["meta"] if loaded else {}
    with torch.random.fork_rng(devices=[]) if not restore_rng else contextlib.nullcontext():
        if config.random_seed is not None and loaded is None:
            seed_everything(config.random_seed)
        head = definition._build_head()
        metric_fns = tuple(getattr(definition, "_added_metric_fns", ()))
        if metric_fns:
            from estlab.estimators.add_metrics import MetricsHead

            head = MetricsHead(head, metric_fns)
        transformer = fitted_transformer(definition, meta, fit_on)
        module = definition._build_module(transformer).to(device)
        state = ModelState(module=module, head=head, transformer=transformer, device=device,
                           input_names=definition._input_names(module),
                           takes_mode="mode" in inspect.signature(module.forward).parameters,
                           estimator=type(definition).__name__, params=definition._estimator_params(),
                           raw_inputs=getattr(definition, "_raw_tensors", None))
        # embedding columns with ckpt_to_load_from: read for a new model; a restored one keeps its own tables
        (skip_checkpoint_tables if loaded else load_checkpoint_tables)(module)
        materialise(state, loaded[1]["model"] if loaded else None, fit_on)
        state.optimizers = definition._build_optimizers(module)
    if config.mixed_precision in ("fp16", "float16") and device.type == "cuda":
        state.scaler = torch.amp.GradScaler("cuda")
    history = None
    if loaded:
        history = restore(state, *loaded, restore_rng=restore_rng)
    elif warm_start_from:
        warm_start(module, warm_start_from)
    forward = state.forward_module if state.forward_module is not None else state.module
    from estlab.estimators.tf_model_fn import ModelFnModule

    if config.compile and isinstance(module, ModelFnModule):
        logger.warning("RunConfig(compile=True) is ignored for a TF-style model_fn (it runs eagerly per batch)")
    elif config.compile:
        # torch.compile(module) returns an OptimizedModule (an nn.Module); its stubs only describe functions.
        mode = None if config.compile is True else config.compile
        forward = cast(torch.nn.Module, torch.compile(forward, mode=mode))
    state.forward_module = distributed.wrap_model(forward, device) if trainable else forward
    return state, history


def _has_lazy(module: torch.nn.Module) -> bool:
    return any(torch.nn.parameter.is_lazy(p) for p in module.parameters())


def _first_rows(part: Any, n: int) -> Any:
    """The first ``n`` rows of an input part (``features``, ``labels``, ``feature_names``)."""

    def head(values: Any) -> Any:
        if values is None:
            return None
        if isinstance(values, pd.DataFrame | pd.Series):
            return values.iloc[:n]
        if isinstance(values, dict):
            return {k: head(v) for k, v in values.items()}
        return values[:n]

    return SimpleNamespace(features=head(part.features), labels=head(part.labels),
                           feature_names=list(getattr(part, "feature_names", _keys(part.features))))


def materialise(state: ModelState, checkpoint_model: dict[str, Any] | None, fit_on: Any) -> None:
    """Give lazy modules and a TF-style model_fn's layers their parameters, before optimizers are built.

    From a checkpoint's model state when there is one (lazy shapes; a model_fn module's kept first rows),
    else by one forward pass (no gradient, eval mode) on the first rows of ``fit_on``.
    """
    from estlab.estimators.custom import ModeKeys
    from estlab.estimators.tf_model_fn import EXAMPLE_ROWS, ModelFnModule

    module = state.module
    fn_module = module if isinstance(module, ModelFnModule) else None
    if fn_module is None and not _has_lazy(module):
        return
    if checkpoint_model is not None:
        if fn_module is not None:
            fn_module.adopt_example(checkpoint_model)
        else:
            module.load_state_dict(checkpoint_model, strict=False)  # lazy parameters take the saved shapes
    example = fn_module.example() if fn_module is not None else None
    if example is None and (fn_module is not None or _has_lazy(module)):
        part = next(iter(fit_on.one_pass()), None) if fit_on is not None else None
        if part is None:
            raise ValueError(f"{state.estimator}: the model has lazy layers and neither a checkpoint nor training "
                             "input to build them from; call train() first")
        features, labels, _ = state.encode(_first_rows(part, EXAMPLE_ROWS), with_labels=fn_module is not None)
        example = features, labels
        if fn_module is None:
            module.eval()
            try:
                with torch.no_grad():
                    state.forward_fn(ModeKeys.PREDICT)(features)
            finally:
                module.train()
    if fn_module is not None and example is not None:
        fn_module.materialise(*example)


def restore(state: ModelState, path: Path, data: dict, restore_rng: bool) -> History | None:
    """Load checkpoint ``data`` into ``state``; with ``restore_rng``, also the RNGs, returning the saved History."""
    try:
        state.module.load_state_dict(data["model"])
    except RuntimeError as error:
        raise ValueError(
            f"checkpoint {str(path)!r} does not fit this model ({error}); the estimator's parameters differ "
            f"from the run that wrote it ({data['meta'].get('estimator_params')}); use another model_dir"
        ) from None
    for optimizer, saved in zip(state.optimizers, data.get("optimizers", [])):
        optimizer.load_state_dict(saved)
    if state.scaler is not None and data.get("scaler"):
        state.scaler.load_state_dict(data["scaler"])
    meta = data["meta"]
    state.global_step = int(data["global_step"])
    state.batcher_state = meta.get("batcher")
    state.label = meta.get("label")
    state.listener_state = dict(meta.get("listeners", {}))
    if not restore_rng:
        return None
    set_rng_state(data.get("rng", {}), meta.get("rng", {}))
    return History.from_dict(meta.get("history", {}))


def warm_start(module: torch.nn.Module, source: Any) -> None:
    """Load variables from a model_dir or checkpoint file: a path (matching names and shapes) or TF's
    ``WarmStartSettings`` (``vars_to_warm_start`` regex, ``VocabInfo`` remapping, renamed variables)."""
    from estlab.estimators.warm_start import WarmStartSettings, apply_warm_start

    settings = source if isinstance(source, WarmStartSettings) else WarmStartSettings(str(source))
    path = checkpoints.resolve_path(settings.ckpt_to_initialize_from)
    loaded = checkpoints.load_latest(path) if path.is_dir() else (path, checkpoints.load_checkpoint(path))
    if loaded is None:
        raise ValueError(f"warm_start_from: no readable checkpoint in {str(path)!r}; pass a model_dir "
                         "that was trained, or a model.ckpt-<step>.pt file")
    count = apply_warm_start(module, loaded[1]["model"], settings)
    logger.info("Warm-started %d of %d variables from %s", count, len(module.state_dict()), loaded[0])


def load_from(checkpoint_path: str, latest_hint: str | None = None) -> tuple[Path, dict]:
    """Read a checkpoint file (TF's ``model.ckpt-<step>`` prefix form too), or the newest readable checkpoint of
    a model_dir, with a clear error."""
    path = checkpoints.resolve_path(checkpoint_path)
    if not path.exists():
        raise ValueError(f"checkpoint_path {str(path)!r} does not exist; pass a model.ckpt-<step>.pt file or a "
                         f"model_dir (latest here: {latest_hint})")
    if not path.is_dir():
        return path, checkpoints.load_checkpoint(path)
    loaded = checkpoints.load_latest(path)
    if loaded is None:
        raise ValueError(f"checkpoint_path: no readable checkpoint in {str(path)!r}")
    return loaded


@dataclass(frozen=True)
class ServingModel:
    """What an export needs from a trained estimator (see ``Estimator.serving_model``).

    ``module`` is the trained module itself (copy it before changing it); ``raw_tensors(frame)`` builds the
    module's raw inputs for models that read no feature columns; ``params`` are the estimator's plain
    constructor parameters.
    """

    module: torch.nn.Module
    transformer: Any
    head: Any
    input_names: list[str] | None
    takes_mode: bool
    label: Any
    global_step: int
    params: dict[str, Any]
    raw_tensors: Any

    @classmethod
    def of(cls, state: ModelState) -> ServingModel:
        """The serving view of a model state."""
        return cls(module=state.module, transformer=state.transformer, head=state.head,
                   input_names=state.input_names, takes_mode=state.takes_mode, label=state.label,
                   global_step=state.global_step, params=state.params, raw_tensors=state.raw_tensors)
