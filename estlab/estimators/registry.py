"""One registry of the premade estimators, keyed by snake-case name, with their documented parameters.

The widgets' picker lists :func:`list_premade`; its form is built from each
:class:`ParamInfo` (name, default, annotation, doc, choices), all read from the constructor
signature and the class docstring's numpydoc ``Parameters`` section.

Examples
--------
>>> [info.name for info in list_premade("regression")][:2]
['baseline_regressor', 'boosted_trees_regressor']
>>> est = create("dnn_classifier", hidden_units=[8], feature_columns=[])  # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import inspect
import re
from dataclasses import dataclass
from typing import Any

from estlab.estimators.baseline import BaselineClassifier, BaselineRegressor
from estlab.estimators.boosted_trees import BoostedTreesClassifier, BoostedTreesRegressor
from estlab.estimators.dnn import DNNClassifier, DNNRegressor
from estlab.estimators.dnn_linear_combined import DNNLinearCombinedClassifier, DNNLinearCombinedRegressor
from estlab.estimators.linear import LinearClassifier, LinearRegressor

REGISTRY: dict[str, type] = {
    "baseline_classifier": BaselineClassifier,
    "baseline_regressor": BaselineRegressor,
    "boosted_trees_classifier": BoostedTreesClassifier,
    "boosted_trees_regressor": BoostedTreesRegressor,
    "dnn_classifier": DNNClassifier,
    "dnn_linear_combined_classifier": DNNLinearCombinedClassifier,
    "dnn_linear_combined_regressor": DNNLinearCombinedRegressor,
    "dnn_regressor": DNNRegressor,
    "linear_classifier": LinearClassifier,
    "linear_regressor": LinearRegressor,
}

#: task filters accepted by :func:`list_premade` → the premade ``task`` they select.
_TASK_ALIASES = {
    "classification": "classification", "binary": "classification", "multiclass": "classification",
    "regression": "regression",
}
_REQUIRED = "<required>"


@dataclass(frozen=True)
class ParamInfo:
    """One constructor parameter: ``default`` is :data:`REQUIRED` when it has none.

    Examples
    --------
    >>> p = [p for p in info("dnn_classifier").parameters if p.name == "dropout"][0]
    >>> p.default, p.annotation
    (None, 'float | None')
    """

    name: str
    default: Any
    annotation: str
    doc: str
    choices: list | None = None

    @property
    def required(self) -> bool:
        """Whether the parameter has no default."""
        return self.default is REQUIRED


@dataclass(frozen=True)
class PremadeInfo:
    """A registered premade estimator: name, class, task, one-line summary and parameters.

    Examples
    --------
    >>> info("linear_classifier").task
    'classification'
    """

    name: str
    cls: type
    task: str
    summary: str
    parameters: list[ParamInfo]


class _Required:
    def __repr__(self) -> str:
        return _REQUIRED


#: the ``default`` of a parameter that must be given.
REQUIRED = _Required()


def _parameter_docs(docstring: str | None) -> dict[str, str]:
    """``name -> description`` from a numpydoc ``Parameters`` section."""
    text = inspect.cleandoc(docstring or "")
    match = re.search(r"^Parameters\n-+\n(.*?)(?:\n\n[A-Z][A-Za-z ]+\n-+\n|\Z)", text, re.S | re.M)
    if not match:
        return {}
    docs: dict[str, str] = {}
    current: list[str] | None = None
    for line in match.group(1).splitlines():
        if line and not line[0].isspace():
            names = line.split(" : ")[0]
            current = []
            for name in names.split(","):
                docs[name.strip()] = current  # type: ignore[assignment]
        elif current is not None and line.strip():
            current.append(line.strip())
    return {name: " ".join(lines) for name, lines in docs.items()}


def _annotation(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return ""
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def parameters(cls: type) -> list[ParamInfo]:
    """Constructor parameters of a premade class, documented.

    Examples
    --------
    >>> [p.name for p in parameters(LinearClassifier)][:3]
    ['feature_columns', 'model_dir', 'n_classes']
    """
    docs = _parameter_docs(cls.__doc__)
    choices = getattr(cls, "param_choices", {})
    out = []
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = REQUIRED if param.default is inspect.Parameter.empty else param.default
        if isinstance(default, tuple):
            default = list(default)
        out.append(ParamInfo(name, default, _annotation(param.annotation), docs.get(name, ""),
                             list(choices[name]) if name in choices else None))
    return out


def _unknown(kind: str, value: str, valid: list[str]) -> ValueError:
    close = difflib.get_close_matches(str(value), valid, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ValueError(f"Unknown {kind} {value!r}; valid ones are {valid}.{hint}")


def info(name: str) -> PremadeInfo:
    """The :class:`PremadeInfo` of one registered name.

    Examples
    --------
    >>> info("dnn_regressor").cls.__name__
    'DNNRegressor'
    """
    if name not in REGISTRY:
        raise _unknown("premade estimator name", name, sorted(REGISTRY))
    cls = REGISTRY[name]
    return PremadeInfo(name, cls, cls.task, cls.summary, parameters(cls))


def list_premade(task: str | None = None) -> list[PremadeInfo]:
    """Registered premade estimators, sorted by name, optionally for one task.

    Parameters
    ----------
    task : str, optional
        ``"classification"`` (also ``"binary"``/``"multiclass"``) or ``"regression"``.

    Examples
    --------
    >>> len(list_premade()), len(list_premade("binary"))
    (10, 5)
    """
    if task is not None and task not in _TASK_ALIASES:
        raise _unknown("task", task, sorted(_TASK_ALIASES))
    wanted = None if task is None else _TASK_ALIASES[task]
    return [info(name) for name in sorted(REGISTRY) if wanted is None or REGISTRY[name].task == wanted]


def _check_kwargs(name: str, kwargs: dict[str, Any]) -> type:
    cls = info(name).cls
    params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    for key in kwargs:
        if key not in params:
            close = difflib.get_close_matches(key, params, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{cls.__name__} has no parameter {key!r}; valid parameters are {params}.{hint}")
    sig = inspect.signature(cls.__init__)
    missing = [p for p, v in sig.parameters.items() if p != "self" and v.default is v.empty and p not in kwargs]
    if missing:
        raise ValueError(f"{cls.__name__} needs parameter(s) {missing}; pass them, e.g. create({name!r}, "
                         f"{missing[0]}=...).")
    return cls


def create(name: str, **kwargs: Any) -> Any:
    """Construct a registered premade estimator by name.

    Examples
    --------
    >>> create("baseline_classifier", n_classes=3).n_classes
    3
    """
    return _check_kwargs(name, kwargs)(**kwargs)


def validate(name: str, **kwargs: Any) -> Any:
    """Construct the estimator (the widget form's check): returns it, or raises its own ValueError.

    Examples
    --------
    >>> validate("baseline_regressor", learning_rate=-1)
    Traceback (most recent call last):
    ...
    ValueError: learning_rate must be a positive number; received -1.
    """
    return create(name, **kwargs)
