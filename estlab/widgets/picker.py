"""``EstimatorPicker``: premade estimators from the registry, a form per estimator, a comparison queue."""

from __future__ import annotations

import ast
import functools
import itertools
from collections.abc import Callable
from typing import Any, TypeAlias

import ipywidgets as widgets

from estlab._util import did_you_mean
from estlab.widgets._html import esc, message

#: Arguments the lab fills in itself (data, label, directories), never shown in the form.
LAB_MANAGED = frozenset({
    "model_dir", "config", "warm_start_from", "weight_column", "label_vocabulary", "n_classes",
    "label_dimension", "feature_columns", "linear_feature_columns", "dnn_feature_columns",
})
#: Values offered for required arguments, so an estimator can be queued at once.
SUGGESTED = {"hidden_units": [64, 32]}
_STYLE = {"description_width": "170px"}
_LAYOUT = {"width": "420px"}
_MUTED = "color:var(--jp-ui-font-color2,#555)"


def parse_text(text: str, annotation: str = "") -> Any:
    """Parse a form text box: ``""`` → default, lists for ``Sequence[...]``, numbers, None, booleans.

    Examples
    --------
    >>> parse_text("128, 64", "Sequence[int]"), parse_text("0.1"), parse_text("None"), parse_text("relu")
    ([128, 64], 0.1, None, 'relu')
    """
    text = text.strip()
    if "Sequence" in annotation or "list" in annotation:
        if text in ("", "None"):
            return None
        return [parse_text(part) for part in text.strip("[]()").split(",") if part.strip()]
    if text == "None":
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


@functools.cache
def one_step(name: str) -> bool:
    """True when premade estimator ``name`` fits in one full-batch step (baseline, boosted trees).

    Read from the class's source (``trains_full_batch = True`` on it or a base class in its module), so the
    picker never imports torch to plan.

    Examples
    --------
    >>> one_step("baseline_classifier"), one_step("boosted_trees_regressor"), one_step("dnn_classifier")
    (True, True, False)
    >>> one_step("linear_classifier")  # full-batch only with optimizer=LinearSDCA(...), decided per instance
    False
    """
    from estlab.estimators import registry

    module, _, class_name = registry.TARGETS[name].partition(":")
    classes = registry._module_classes(module)
    node = classes.get(class_name)
    while node is not None:
        for statement in node.body:
            if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None and any(
                    isinstance(t, ast.Name) and t.id == "trains_full_batch"
                    for t in (statement.targets if isinstance(statement, ast.Assign) else [statement.target])):
                try:
                    return bool(ast.literal_eval(statement.value))
                except ValueError:  # computed per instance (LinearSDCA's linear models): SGD steps by default
                    return False
        node = next((classes[b.id] for b in node.bases if isinstance(b, ast.Name) and b.id in classes), None)
    return False


def plan_summary(estimators: list[str], max_steps: int, eval_every: int) -> str:
    """The plan in words, counting a one-step fit (baseline, boosted trees) as one step.

    Examples
    --------
    >>> plan_summary(["dnn_classifier", "linear_classifier", "baseline_classifier",
    ...               "boosted_trees_classifier"], 600, 200)
    '4 runs: 2 × 600 steps (evaluated every 200), 2 one-step fits'
    >>> plan_summary([], 600, 200)
    'no runs yet: add an estimator'
    """
    if not estimators:
        return "no runs yet: add an estimator"
    fits = sum(one_step(e) for e in estimators)
    stepped = len(estimators) - fits
    parts = []
    if stepped:
        parts.append(f"{stepped} × {max_steps:,} steps (evaluated every {min(eval_every, max_steps):,})")
    if fits:
        parts.append(f"{fits} one-step fit{'s' * (fits != 1)}")
    n = len(estimators)
    return f"{n} run{'s' * (n != 1)}: " + ", ".join(parts)


def parse_values(text: str, annotation: str = "") -> list[Any]:
    """The values of a sweep dimension: ``|``-separated form entries, each parsed as the form parses it.

    Examples
    --------
    >>> parse_values("0.01 | 0.1"), parse_values("64, 32 | 128, 64", "Sequence[int]")
    ([0.01, 0.1], [[64, 32], [128, 64]])
    >>> parse_values(" | ")
    Traceback (most recent call last):
    ...
    ValueError: values: write at least one value, several separated by '|' (e.g. 0.01 | 0.1), got ' | '
    """
    values = [parse_text(part, annotation) for part in text.split("|") if part.strip()]
    if not values:
        raise ValueError(f"values: write at least one value, several separated by '|' (e.g. 0.01 | 0.1), got {text!r}")
    return values


def _format(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


#: the form widgets :func:`_field` makes
_Field: TypeAlias = "widgets.Checkbox | widgets.Dropdown | widgets.IntText | widgets.FloatText | widgets.Text"


def _field(param: Any) -> tuple[_Field, Callable[[], Any]]:
    """A form widget for one ``ParamInfo`` and a getter returning its value (``_DEFAULT`` when left empty)."""
    default = None if param.required else param.default
    shown = SUGGESTED.get(param.name, default)
    common = {"description": param.name, "style": _STYLE, "layout": widgets.Layout(**_LAYOUT)}
    if param.choices is not None and set(map(type, param.choices)) == {bool} or isinstance(default, bool):
        box = widgets.Checkbox(value=bool(default), indent=False, description=param.name)
        return box, lambda: box.value
    if param.choices is not None:
        options = [(str(c), c) for c in param.choices]
        if default is not None and default not in param.choices:
            options.insert(0, (str(default), default))
        box = widgets.Dropdown(options=options, value=default if default is not None else param.choices[0], **common)
        return box, lambda: box.value
    if isinstance(default, int) and "None" not in param.annotation:
        box = widgets.IntText(value=default, **common)
        return box, lambda: box.value
    if isinstance(default, float) and "None" not in param.annotation:
        box = widgets.FloatText(value=default, **common)
        return box, lambda: box.value
    placeholder = "required" if param.required else f"{_format(default) or 'None'} (default)"
    box = widgets.Text(value=_format(shown) if shown is not None and shown != default else "",
                       placeholder=placeholder, **common)

    def value() -> Any:
        return _DEFAULT if box.value.strip() == "" else parse_text(box.value, param.annotation)

    return box, value


class _Default:
    def __repr__(self) -> str:
        return "<default>"


_DEFAULT = _Default()


class EstimatorPicker:
    """Pick premade estimators, set their parameters in generated forms, queue them as one comparison.

    Parameters
    ----------
    task
        ``"classification"`` or ``"regression"``: which premade estimators are offered.
    validation_kwargs
        Called before validating a form; returns the lab-managed arguments (feature columns,
        ``n_classes`` ...) so ``registry.validate`` sees a complete call.

    Examples
    --------
    >>> picker = EstimatorPicker("classification")
    >>> picker.select("dnn_classifier")
    >>> picker.set_value("learning_rate", "0.01")
    >>> picker.values()
    {'hidden_units': [64, 32], 'learning_rate': 0.01}
    """

    def __init__(self, task: str = "classification",
                 validation_kwargs: Callable[[str], dict[str, Any]] | None = None) -> None:
        from estlab.estimators import registry

        self.registry = registry
        self.validation_kwargs = validation_kwargs
        self.queue: list[tuple[str, dict[str, Any]]] = []
        self.last_error = ""
        self._getters: dict[str, Callable[[], Any]] = {}
        self._fields: dict[str, _Field] = {}
        self._annotations: dict[str, str] = {}
        self.choice = widgets.Dropdown(description="estimator", style={"description_width": "70px"},
                                       layout=widgets.Layout(width="380px"))
        self.choice.add_class("estlab-estimator")
        self.summary = widgets.HTML("")
        self.form = widgets.VBox([])
        self.form.add_class("estlab-form")
        self.error = widgets.HTML("")
        self.error.add_class("estlab-form-error")
        self.add_button = widgets.Button(description="Add to comparison", icon="plus", button_style="info",
                                         layout=widgets.Layout(width="200px"))
        self.add_button.add_class("estlab-add")
        self.queue_list = widgets.Select(options=[], rows=5, layout=widgets.Layout(width="560px"))
        self.queue_list.add_class("estlab-queue-list")
        self.remove_button = widgets.Button(description="Remove", icon="minus")
        self.clear_button = widgets.Button(description="Clear")
        self.clear_button.add_class("estlab-clear")
        self.max_steps = widgets.BoundedIntText(value=1000, min=1, max=10_000_000, description="max steps",
                                                style={"description_width": "80px"}, layout=widgets.Layout(width="200px"))
        self.max_steps.add_class("estlab-max-steps")
        self.eval_every = widgets.BoundedIntText(value=200, min=1, max=10_000_000, description="eval every",
                                                 style={"description_width": "80px"},
                                                 layout=widgets.Layout(width="200px"))
        self.eval_every.add_class("estlab-eval-every")
        self.plan_text = widgets.HTML("")
        self.plan_text.add_class("estlab-plan")
        self.sweep: dict[str, list[Any]] = {}  # parameter -> values of the grid being built
        self.sweep_param = widgets.Dropdown(description="sweep", style={"description_width": "50px"},
                                            layout=widgets.Layout(width="230px"))
        self.sweep_param.add_class("estlab-sweep-param")
        self.sweep_values = widgets.Text(placeholder="values, e.g. 0.01 | 0.1", layout=widgets.Layout(width="190px"))
        self.sweep_values.add_class("estlab-sweep-values")
        self.sweep_set_button = widgets.Button(description="Set", tooltip="Use these values for the parameter",
                                               layout=widgets.Layout(width="auto", min_width="60px",
                                                                     flex="0 0 auto"))
        self.sweep_set_button.add_class("estlab-sweep-set")
        self.sweep_button = widgets.Button(description="Add sweep", icon="th", layout=widgets.Layout(width="140px"),
                                           tooltip="Add one run per combination of the values (a grid), the "
                                                   "other fields as in the form", disabled=True)
        self.sweep_button.add_class("estlab-sweep")
        self.sweep_text = widgets.HTML("")
        self.sweep_text.add_class("estlab-sweep-text")
        sweep_box = widgets.VBox([widgets.HBox([self.sweep_param, self.sweep_values, self.sweep_set_button],
                                               layout=widgets.Layout(flex_flow="row wrap", align_items="center")),
                                  widgets.HBox([self.sweep_button, self.sweep_text],
                                               layout=widgets.Layout(align_items="center"))])
        queue_box = widgets.VBox([widgets.HTML("<b>Comparison</b> (runs start as workers free up)"), self.queue_list,
                                  widgets.HBox([self.remove_button, self.clear_button]),
                                  widgets.HBox([self.max_steps, self.eval_every]), self.plan_text],
                                 layout=widgets.Layout(margin="0 0 0 24px"))
        left = widgets.VBox([self.choice, self.summary, self.form, self.add_button, sweep_box, self.error])
        self.box = widgets.HBox([left, queue_box])
        self.box.add_class("estlab-picker")
        self.choice.observe(self._on_choice, names="value")
        self.add_button.on_click(self._on_add)
        self.remove_button.on_click(self._on_remove)
        self.clear_button.on_click(self._on_clear)
        self.sweep_set_button.on_click(self._on_sweep_set)
        self.sweep_button.on_click(self._on_sweep)
        self.max_steps.observe(self._show_plan, names="value")
        self.eval_every.observe(self._show_plan, names="value")
        self.set_task(task)
        self._show_plan()

    # ---- public API ------------------------------------------------------------------------
    def set_task(self, task: str) -> None:
        """Offer the premade estimators of ``task``."""
        infos = self.registry.list_premade(task)
        self.task = task
        self._infos = {i.name: i for i in infos}
        options = [(f"{i.name} ({i.class_name})", i.name) for i in infos]
        current = self.choice.value
        self.choice.options = options
        preferred = "dnn_classifier" if task == "classification" else "dnn_regressor"
        self.choice.value = current if current in self._infos else (preferred if preferred in self._infos
                                                                    else options[0][1])
        self._on_choice()

    def select(self, name: str) -> None:
        """Show the form of estimator ``name``."""
        if name not in self._infos:
            raise ValueError(f"name: {name!r} is not a {self.task} premade estimator; choose from {list(self._infos)}")
        self.choice.value = name

    def set_value(self, param: str, value: Any) -> None:
        """Set one form field (as typing in it would)."""
        if param not in self._fields:
            hint = did_you_mean(param, self._fields, n=1) or f" Fields: {list(self._fields)}."
            raise ValueError(f"param: {self.choice.value} has no form field {param!r}.{hint}")
        field = self._fields[param]
        if isinstance(field, widgets.Text):
            field.value = _format(value)
        else:
            field.value = value

    def parameter_names(self, name: str) -> set[str]:
        """Every constructor parameter of estimator ``name`` (lab-managed ones included).

        Examples
        --------
        >>> "hidden_units" in EstimatorPicker("classification").parameter_names("dnn_classifier")
        True
        """
        info = self._infos.get(name) or self.registry.info(name)
        return {p.name for p in info.parameters}

    def values(self) -> dict[str, Any]:
        """The form's values that differ from the estimator's defaults."""
        out = {}
        info = self._infos[self._chosen()]
        defaults = {p.name: p.default for p in info.parameters}
        for name, getter in self._getters.items():
            value = getter()
            if value is not _DEFAULT and value != defaults.get(name):
                out[name] = value
        return out

    def add(self) -> bool:
        """Validate the form with the estimator's own checks; queue it when valid. Returns whether it was."""
        name = self._chosen()
        try:
            params = self.values()
            self._validate(name, params)
        except (ValueError, TypeError) as exc:
            return self._refuse(f"{name}: {exc}")
        if (name, params) in self.queue:
            return self._refuse(f"{name} with these parameters is already in the comparison", "warning")
        self.queue.append((name, params))
        self.error.value = self.last_error = ""
        self._show_queue()
        return True

    def set_sweep(self, param: str, values: list[Any] | str) -> None:
        """Sweep ``param`` over ``values`` (a list, or the form's ``"a | b"`` text); an empty list removes it.

        Examples
        --------
        >>> from estlab.features import numeric_column
        >>> picker = EstimatorPicker("classification", lambda name: {"feature_columns": [numeric_column("x")]})
        >>> picker.select("dnn_classifier")
        >>> picker.set_sweep("learning_rate", "0.01 | 0.1"); picker.set_sweep("dropout", [0.0, 0.2])
        >>> picker.sweep_text.value
        'grid: learning_rate × 2, dropout × 2 = 4 runs'
        >>> picker.add_sweep(), len(picker.queue)
        (True, 4)
        """
        if param not in self._fields:
            hint = did_you_mean(param, self._fields, n=1) or f" Fields: {list(self._fields)}."
            raise ValueError(f"param: {self.choice.value} has no form field {param!r}.{hint}")
        if isinstance(values, str):
            values = parse_values(values, self._annotations.get(param, ""))
        if values:
            self.sweep[param] = list(values)
        else:
            self.sweep.pop(param, None)
        self._show_sweep()

    def sweep_trials(self) -> list[dict[str, Any]]:
        """The form's values combined with every combination of the sweep's values (a grid)."""
        base = self.values()
        keys = list(self.sweep)
        return [{**base, **dict(zip(keys, combo))} for combo in itertools.product(*(self.sweep[k] for k in keys))]

    def add_sweep(self) -> bool:
        """Validate every combination of the sweep; add them all to the comparison, or none. Returns whether it did."""
        name = self._chosen()
        if not self.sweep:
            return self._refuse("sweep: pick a parameter, write its values separated by '|' and press Set first",
                                "warning")
        try:
            trials = self.sweep_trials()
            for params in trials:
                self._validate(name, params)
        except (ValueError, TypeError) as exc:
            return self._refuse(f"{name} sweep: trial {params} is invalid: {exc}")
        new = [(name, p) for p in trials if (name, p) not in self.queue]
        if not new:
            return self._refuse(f"every trial of this {name} sweep is already in the comparison", "warning")
        self.queue.extend(new)
        self.sweep = {}
        self.error.value = self.last_error = ""
        self._show_sweep()
        self._show_queue()
        return True

    def _validate(self, name: str, params: dict[str, Any]) -> None:
        extra = self.validation_kwargs(name) if self.validation_kwargs else {}
        accepted = self.parameter_names(name)
        extra = {k: v for k, v in extra.items() if k in accepted}
        self.registry.validate(name, **extra, **params)  # the estimator's own _check(); no files

    def _refuse(self, text: str, level: str = "error") -> bool:
        self.last_error = text
        self.error.value = message(text, level)
        return False

    def clear(self) -> None:
        """Empty the comparison."""
        self.queue = []
        self._show_queue()

    # ---- widgets -----------------------------------------------------------------------------
    def _chosen(self) -> str:
        """The selected estimator's name (``set_task`` always selects one of ``_infos``)."""
        name = self.choice.value
        if not isinstance(name, str):  # only while set_task swaps the options
            raise KeyError(name)
        return name

    def _on_choice(self, _change: Any = None) -> None:
        name = self.choice.value  # None while set_task swaps the options
        info = self._infos.get(name) if isinstance(name, str) else None
        if info is None:
            return
        for field in self._fields.values():
            field.close()
        self._fields, self._getters, self._annotations = {}, {}, {}
        rows = []
        for param in info.parameters:
            if param.name in LAB_MANAGED:
                continue
            field, getter = _field(param)
            field.tooltip = param.doc
            field.add_class(f"estlab-param-{param.name}")
            self._fields[param.name], self._getters[param.name] = field, getter
            self._annotations[param.name] = param.annotation
            rows.append(field)
        self.form.children = rows
        self.sweep = {}
        self.sweep_param.options = list(self._fields)
        self.sweep_param.value = next(iter(self._fields), None)
        self._show_sweep()
        self.summary.value = f'<div style="{_MUTED};margin:2px 0 6px">{esc(info.summary)}</div>'
        self.error.value = ""

    def _show_queue(self) -> None:
        self.queue_list.options = [
            (f"{i + 1}. {name}  " + ", ".join(f"{k}={v!r}" for k, v in params.items()), i)
            for i, (name, params) in enumerate(self.queue)
        ]
        self._show_plan()

    def _show_plan(self, _change: Any = None) -> None:
        self.plan_text.value = f'<span style="{_MUTED}">{esc(self.plan)}</span>'

    @property
    def plan(self) -> str:
        """What Train would start, as plain text (``plan_text`` shows it as HTML).

        Examples
        --------
        >>> print(lab.picker.plan)  # doctest: +SKIP
        2 runs: 1 × 1,000 steps (evaluated every 200), 1 one-step fit
        """
        return plan_summary([name for name, _ in self.queue], self.max_steps.value, self.eval_every.value)

    def _show_sweep(self) -> None:
        if not self.sweep:
            self.sweep_text.value = ""
            self.sweep_button.disabled = True
            return
        count = 1
        for values in self.sweep.values():
            count *= len(values)
        dims = ", ".join(f"{k} × {len(v)}" for k, v in self.sweep.items())
        self.sweep_text.value = f"grid: {esc(dims)} = {count} run{'s' * (count != 1)}"
        self.sweep_button.disabled = False

    def _on_sweep_set(self, _button: Any = None) -> None:
        param = self.sweep_param.value
        if not isinstance(param, str):
            return
        try:
            self.set_sweep(param, self.sweep_values.value if self.sweep_values.value.strip() else [])
        except ValueError as exc:
            self._refuse(str(exc))
            return
        self.sweep_values.value = ""
        self.error.value = self.last_error = ""

    def _on_sweep(self, _button: Any = None) -> None:
        self.add_sweep()

    def _on_add(self, _button: Any = None) -> None:
        self.add()

    def _on_remove(self, _button: Any = None) -> None:
        if self.queue_list.value is not None:
            del self.queue[self.queue_list.value]
            self._show_queue()

    def _on_clear(self, _button: Any = None) -> None:
        self.clear()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        from estlab.widgets._html import with_fallback

        items = "".join(f"<li>{esc(n)} {esc(p)}</li>" for n, p in self.queue)
        return with_fallback(self.box, f"<ul>{items}</ul>", **kwargs)

    def close(self) -> None:
        """Close every widget of the picker."""
        self.box.close()
