"""``estlab.estimator.experimental``: TF's ``tf.estimator.experimental`` names that estlab provides.

The early-stopping hooks keep TF's signatures and semantics (see :mod:`estlab.training.early_stopping`);
``InMemoryEvaluatorHook`` evaluates during ``train`` every ``every_n_iter`` steps and at the end. Names load on
first use. To add one, add a line to :data:`TF_NAMES`.

Examples
--------
>>> from estlab.estimator import experimental
>>> experimental.stop_if_lower_hook.__name__
'stop_if_lower_hook'
"""

from __future__ import annotations

import importlib
from typing import Any

#: TF's ``tf.estimator.experimental`` names → ``"module:attribute"`` providing each.
TF_NAMES: dict[str, str] = {
    "LinearSDCA": "estlab.estimators.sdca:LinearSDCA",
    "build_raw_supervised_input_receiver_fn": "estlab.export.spec:build_raw_supervised_input_receiver_fn",
    "make_early_stopping_hook": "estlab.training.early_stopping:make_early_stopping_hook",
    "make_stop_at_checkpoint_step_hook": "estlab.training.checkpoint_hooks:make_stop_at_checkpoint_step_hook",
    "stop_if_higher_hook": "estlab.training.early_stopping:stop_if_higher_hook",
    "stop_if_lower_hook": "estlab.training.early_stopping:stop_if_lower_hook",
    "stop_if_no_decrease_hook": "estlab.training.early_stopping:stop_if_no_decrease_hook",
    "stop_if_no_increase_hook": "estlab.training.early_stopping:stop_if_no_increase_hook",
}

__all__ = sorted([*TF_NAMES, "InMemoryEvaluatorHook"])


def InMemoryEvaluatorHook(estimator: Any, input_fn: Any, steps: int | None = None, hooks: Any = None,  # noqa: N802
                          name: str | None = None, every_n_iter: int = 100) -> Any:
    """A listener evaluating ``estimator`` on ``input_fn`` every ``every_n_iter`` steps of ``train`` and at its end.

    TF's ``tf.estimator.experimental.InMemoryEvaluatorHook``; each evaluation emits an ``evaluate`` event
    (``History``, TensorBoard ``eval``/``eval_<name>``, early stopping) and is preceded by a checkpoint.

    Parameters
    ----------
    estimator : Estimator
        The estimator being trained (pass the listener to its ``train(hooks=[...])``).
    input_fn : InputFn, DataFrame or callable
        Evaluation data.
    steps : int, optional
        Batches per evaluation; ``None`` evaluates the whole input.
    hooks : sequence of Listener, optional
        Listeners of the evaluations.
    name : str, optional
        Evaluation name.
    every_n_iter : int
        Evaluate every this many training steps.

    Examples
    --------
    >>> hook = InMemoryEvaluatorHook(est, eval_df, every_n_iter=50)  # doctest: +SKIP
    >>> est.train(train_df, label="y", max_steps=200, hooks=[hook])  # doctest: +SKIP
    """
    from estlab.training.train_and_evaluate import EvalSpec, Evaluator

    return Evaluator(estimator, EvalSpec(input_fn, steps, name, hooks, every_n_steps=every_n_iter))


def __getattr__(name: str) -> Any:
    """Serve :data:`TF_NAMES` on first use."""
    target = TF_NAMES.get(name)
    if target is None:
        raise AttributeError(f"module 'estlab.estimator.experimental' has no attribute {name!r}")
    module, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
