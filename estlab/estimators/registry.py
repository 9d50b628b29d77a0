"""One registry of the premade estimators, keyed by snake-case name, with their documented parameters.

Torch-free: the widgets' picker lists :func:`list_premade` and builds its form from each
:class:`ParamInfo` (name, default, annotation, doc, choices) without importing torch. Parameters are read
from the premade class's own source, its ``__init__`` signature and numpydoc ``Parameters`` section,
statically (:mod:`ast`); classes are imported only when one is needed (:func:`create`, :func:`validate`,
``REGISTRY[name]``, ``PremadeInfo.cls``). A test pins the static reading to the live classes.

Examples
--------
>>> [info.name for info in list_premade("regression")][:2]
['baseline_regressor', 'boosted_trees_regressor']
>>> info("dnn_classifier").class_name
'DNNClassifier'
>>> est = create("dnn_classifier", hidden_units=[8], feature_columns=[])  # doctest: +SKIP
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import inspect
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from estlab._util import did_you_mean
from estlab.estimators.choices import PARAM_CHOICES

#: registered name → ``"module:Class"`` of the premade estimator (imported on first use).
TARGETS: Mapping[str, str] = {
    "baseline_classifier": "estlab.estimators.baseline:BaselineClassifier",
    "baseline_regressor": "estlab.estimators.baseline:BaselineRegressor",
    "boosted_trees_classifier": "estlab.estimators.boosted_trees:BoostedTreesClassifier",
    "boosted_trees_regressor": "estlab.estimators.boosted_trees:BoostedTreesRegressor",
    "dnn_classifier": "estlab.estimators.dnn:DNNClassifier",
    "dnn_linear_combined_classifier": "estlab.estimators.dnn_linear_combined:DNNLinearCombinedClassifier",
    "dnn_linear_combined_regressor": "estlab.estimators.dnn_linear_combined:DNNLinearCombinedRegressor",
    "dnn_regressor": "estlab.estimators.dnn:DNNRegressor",
    "linear_classifier": "estlab.estimators.linear:LinearClassifier",
    "linear_regressor": "estlab.estimators.linear:LinearRegressor",
}

#: task filters accepted by :func:`list_premade` → the premade ``task`` they select.
_TASK_ALIASES = {
    "classification": "classification", "binary": "classification", "multiclass": "classification",
    "regression": "regression",
}
_REQUIRED = "<required>"


class _Required:
    def __repr__(self) -> str:
        return _REQUIRED


#: the ``default`` of a parameter that must be given.
REQUIRED = _Required()


def load_class(target: str) -> type:
    """Import ``"module:Class"`` and return the class (this imports torch for a premade).

    Examples
    --------
    >>> load_class("estlab.estimators.linear:LinearRegressor").__name__  # doctest: +SKIP
    'LinearRegressor'
    """
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


class _LazyRegistry(Mapping[str, type]):
    """``name -> premade class``; a class is imported when it is looked up, names are listed without."""

    def __getitem__(self, name: str) -> type:
        return load_class(TARGETS[name])

    def __iter__(self) -> Iterator[str]:
        return iter(TARGETS)

    def __len__(self) -> int:
        return len(TARGETS)

    def __repr__(self) -> str:
        return f"REGISTRY({sorted(TARGETS)})"


#: registered name → premade class, imported on lookup (``sorted(REGISTRY)`` imports nothing).
REGISTRY: Mapping[str, type] = _LazyRegistry()


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
    """A registered premade estimator: name, ``"module:Class"`` target, task, summary and parameters.

    ``cls`` imports the class (and torch); everything else is read without importing it.

    Examples
    --------
    >>> info("linear_classifier").task
    'classification'
    """

    name: str
    target: str
    task: str
    summary: str
    parameters: list[ParamInfo]

    @property
    def class_name(self) -> str:
        """The class's name, without importing it."""
        return self.target.partition(":")[2]

    @property
    def cls(self) -> type:
        """The premade class (imported on first access)."""
        return load_class(self.target)


def _parameter_docs(docstring: str | None) -> dict[str, str]:
    """``name -> description`` from a numpydoc ``Parameters`` section."""
    text = inspect.cleandoc(docstring or "")
    match = re.search(r"^Parameters\n-+\n(.*?)(?:\n\n[A-Z][A-Za-z ]+\n-+\n|\Z)", text, re.S | re.M)
    if not match:
        return {}
    docs: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in match.group(1).splitlines():
        if line and not line[0].isspace():
            current = []
            for name in line.split(" : ")[0].split(","):
                docs[name.strip()] = current
        elif current is not None and line.strip():
            current.append(line.strip())
    return {name: " ".join(lines) for name, lines in docs.items()}


@functools.cache
def _module_classes(module: str) -> dict[str, ast.ClassDef]:
    """The class definitions in ``module``'s source, read without executing it."""
    spec = importlib.util.find_spec(module)
    get_source = getattr(spec.loader, "get_source", None) if spec is not None else None
    source = get_source(module) if get_source is not None else None
    if source is None:
        raise ImportError(f"the source of {module} is not available; the registry reads premade classes from it")
    tree = ast.parse(source)
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


def _class_constant(node: ast.ClassDef, name: str) -> Any:
    for statement in node.body:
        targets: list[ast.expr]
        if isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
            value = statement.value
        elif isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        else:
            continue
        if value is not None and any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return ast.literal_eval(value)
    raise ValueError(f"premade class {node.name} must set {name} = <literal> in its body")


def _static_parameters(node: ast.ClassDef) -> list[ParamInfo]:
    init = next((s for s in node.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"), None)
    if init is None:
        raise ValueError(f"premade class {node.name} must define its own __init__")
    docs = _parameter_docs(ast.get_docstring(node, clean=False))
    args = init.args.args[1:]  # without self
    defaults = [None] * (len(args) - len(init.args.defaults)) + list(init.args.defaults)
    args, defaults = [*args, *init.args.kwonlyargs], [*defaults, *init.args.kw_defaults]  # after the `*`
    out = []
    for arg, default_node in zip(args, defaults, strict=True):
        default = REQUIRED if default_node is None else ast.literal_eval(default_node)
        if isinstance(default, tuple):
            default = list(default)
        annotation = "" if arg.annotation is None else ast.unparse(arg.annotation)
        choices = PARAM_CHOICES.get(arg.arg)
        out.append(ParamInfo(arg.arg, default, annotation, docs.get(arg.arg, ""),
                             None if choices is None else list(choices)))
    return out


def _static_info(name: str) -> PremadeInfo:
    target = TARGETS[name]
    module, _, class_name = target.partition(":")
    node = _module_classes(module)[class_name]
    return PremadeInfo(name, target, _class_constant(node, "task"), _class_constant(node, "summary"),
                       _static_parameters(node))


def unknown_parameter_error(owner: str, name: str, valid: list[str]) -> ValueError:
    """The error for a keyword ``owner`` does not take: the valid names and the closest one.

    Examples
    --------
    >>> unknown_parameter_error("DNNClassifier", "hiden_units", ["hidden_units", "dropout"])
    ValueError("DNNClassifier has no parameter 'hiden_units'; valid parameters are ['hidden_units', 'dropout']. Did you mean 'hidden_units'?")
    """
    return ValueError(f"{owner} has no parameter {name!r}; valid parameters are {valid}."
                      + did_you_mean(name, valid, n=1))


def _unknown(kind: str, value: str, valid: list[str]) -> ValueError:
    return ValueError(f"Unknown {kind} {value!r}; valid ones are {valid}." + did_you_mean(value, valid, n=1))


def info(name: str) -> PremadeInfo:
    """The :class:`PremadeInfo` of one registered name (without importing its class).

    Examples
    --------
    >>> info("dnn_regressor").class_name
    'DNNRegressor'
    """
    if name not in TARGETS:
        raise _unknown("premade estimator name", name, sorted(TARGETS))
    return _static_info(name)


def parameters(name: str) -> list[ParamInfo]:
    """Constructor parameters of a registered premade estimator, documented.

    Examples
    --------
    >>> [p.name for p in parameters("linear_classifier")][:3]
    ['feature_columns', 'model_dir', 'n_classes']
    """
    return info(name).parameters


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
    infos = [info(name) for name in sorted(TARGETS)]
    return [i for i in infos if wanted is None or i.task == wanted]


def _check_kwargs(name: str, kwargs: dict[str, Any]) -> type:
    premade = info(name)
    params = [p.name for p in premade.parameters]
    for key in kwargs:
        if key not in params:
            raise unknown_parameter_error(premade.class_name, key, params)
    missing = [p.name for p in premade.parameters if p.required and p.name not in kwargs]
    if missing:
        raise ValueError(f"{premade.class_name} needs parameter(s) {missing}; pass them, e.g. create({name!r}, "
                         f"{missing[0]}=...).")
    return premade.cls


def create(name: str, **kwargs: Any) -> Any:
    """Construct a registered premade estimator by name (arguments are stored; ``train`` validates them).

    Examples
    --------
    >>> create("baseline_classifier", n_classes=3).n_classes
    3
    """
    return _check_kwargs(name, kwargs)(**kwargs)


def validate(name: str, **kwargs: Any) -> Any:
    """Construct the estimator and run its own argument checks (``_check()``, as ``train`` does).

    Returns the estimator, or raises the estimator's ValueError (what the widgets' form shows).
    No ``model_dir`` is needed: checking touches no file.

    Examples
    --------
    >>> validate("baseline_regressor", learning_rate=-1)
    Traceback (most recent call last):
    ...
    ValueError: learning_rate must be a positive number; received -1. (A schedule is a callable step -> rate, or a torch.optim.lr_scheduler class or partial of one.)
    """
    estimator = create(name, **kwargs)
    estimator._check()
    return estimator


__all__ = [
    "REGISTRY",
    "REQUIRED",
    "TARGETS",
    "ParamInfo",
    "PremadeInfo",
    "create",
    "info",
    "list_premade",
    "load_class",
    "parameters",
    "unknown_parameter_error",
    "validate",
]
