"""TF's ``SessionRunHook`` API on estlab's event bus: ``begin``, ``before_run``, ``after_run``, ``end``.

A TF program's hooks subclass :class:`SessionRunHook` (``tf.estimator.SessionRunHook`` is this class) and join
``train(hooks=[...])`` as they are; the class is a :class:`~estlab.training.events.Listener` that turns the
bus's events into TF's calls:

================================  =====================================================================
TF                                estlab
================================  =====================================================================
``begin()``                       at ``train_begin`` (every ``train`` call, as TF's every session)
``after_create_session(s, c)``    right after ``begin``; ``coord`` is None (no queue runners)
``before_run(run_context)``       before each step: after the previous step's ``after_run`` (the first at
                                  ``train_begin``); not after the step that reaches the target step or
                                  once a stop was requested
``after_run(ctx, run_values)``    at the step's ``step_end``; ``run_values.results`` holds the fetches
``run_context.request_stop()``    the run stops after this step (``control.request_stop``), as TF's
``end(session)``                  at ``train_end`` when training finished or was stopped (not when it
                                  failed or was interrupted, as TF)
================================  =====================================================================

**Fetches are names.** There is no graph: ``SessionRunArgs(fetches)`` names values estlab has per step
(:data:`STEP_VALUES`): ``"loss"``, ``"global_step"``, ``"learning_rate"``, and estlab's ``"epoch"``,
``"examples_seen"``, ``"examples_per_sec"``; TF's tensor names ``"loss:0"``, ``"global_step:0"`` are the same.
``fetches`` may be one name, a list/tuple or a dict of them (nested), and ``run_values.results`` has the same
structure. ``"global_step"`` is TF's read of the step *before* the step's increment (TF hooks add 1);
``"loss"`` is the training loss the loop reports for the step (the step's own loss when the previous step's
loss was synchronised too, as for a hook fetching it every step, else the mean since the last
synchronisation: what History records). The loss is copied from the device only at steps a hook fetches it.
``run_context.session.run(fetches)`` reads the current values (the global step after the step); in an
evaluation (a hook passed to ``evaluate``) it also reads the evaluation's metrics by name.

An unknown name raises ``ValueError`` listing the available ones; a tensor (or anything not a name) raises
``TypeError``; a non-empty ``feed_dict`` raises ``ValueError`` (nothing to feed: data comes from the input_fn);
``options`` (``tf.RunOptions``) are ignored with a warning.

Examples
--------
>>> class CountSteps(SessionRunHook):
...     def begin(self):
...         self.losses = []
...     def before_run(self, run_context):
...         return SessionRunArgs({"loss": "loss", "step": "global_step:0"})
...     def after_run(self, run_context, run_values):
...         self.losses.append(run_values.results["loss"])
>>> CountSteps().order == ORDER["monitors"]
True
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from estlab._util import warn_ignored_arguments
from estlab.training.events import ORDER, Event, Listener

logger = logging.getLogger(__name__)

#: The values a hook can fetch by name at every training step (``"name"`` or TF's ``"name:0"``).
STEP_VALUES = ("loss", "global_step", "learning_rate", "epoch", "examples_seen", "examples_per_sec")

#: What ``run_context.original_args`` holds: the fetches of estlab's own step (TF: the estimator's run).
ORIGINAL_FETCHES = ("train_op", "loss")


class SessionRunArgs(NamedTuple):
    """What ``before_run`` asks for: ``fetches`` (names, see the module docstring), ``feed_dict``, ``options``.

    Examples
    --------
    >>> SessionRunArgs("loss").fetches, SessionRunArgs("loss").feed_dict
    ('loss', None)
    """

    fetches: Any
    feed_dict: Any = None
    options: Any = None


class SessionRunValues(NamedTuple):
    """What ``after_run`` receives: ``results`` (the fetches' values, same structure); ``options`` and
    ``run_metadata`` are None (no ``tf.RunOptions`` / ``RunMetadata``).

    Examples
    --------
    >>> SessionRunValues({"loss": 0.5}, None, None).results["loss"]
    0.5
    """

    results: Any
    options: Any = None
    run_metadata: Any = None


def fetch_name(fetch: Any, available: Mapping[str, Any] | tuple[str, ...], owner: str) -> str:
    """The value name ``fetch`` refers to (``"loss:0"`` → ``"loss"``), or a clear error.

    Examples
    --------
    >>> fetch_name("global_step:0", STEP_VALUES, "hook")
    'global_step'
    >>> fetch_name("accuracy", STEP_VALUES, "hook")
    Traceback (most recent call last):
    ...
    ValueError: hook: 'accuracy' is not a value estlab has here; available: 'loss', 'global_step', \
'learning_rate', 'epoch', 'examples_seen', 'examples_per_sec' (as 'name' or TF's 'name:0')
    """
    if not isinstance(fetch, str):
        raise TypeError(
            f"{owner}: fetches are names of values, got a {type(fetch).__module__}.{type(fetch).__qualname__}; "
            f"estlab has no graph to fetch tensors from: name one of {', '.join(map(repr, available))}"
        )
    name = fetch[:-2] if fetch.endswith(":0") else fetch
    if name not in available:
        raise ValueError(
            f"{owner}: {fetch!r} is not a value estlab has here; available: "
            f"{', '.join(map(repr, available))} (as 'name' or TF's 'name:0')"
        )
    return name


def fetch_names(fetches: Any) -> Iterator[Any]:
    """The leaves of a fetch structure (a name, or lists, tuples and dicts of them).

    Examples
    --------
    >>> list(fetch_names({"a": "loss", "b": ["global_step", "learning_rate"]}))
    ['loss', 'global_step', 'learning_rate']
    """
    if isinstance(fetches, Mapping):
        for value in fetches.values():
            yield from fetch_names(value)
    elif isinstance(fetches, list | tuple):
        for value in fetches:
            yield from fetch_names(value)
    elif fetches is not None:
        yield fetches


def resolve_fetches(fetches: Any, values: Mapping[str, Any], owner: str) -> Any:
    """``fetches`` with every name replaced by its value (same structure; ``None`` stays ``None``).

    Examples
    --------
    >>> resolve_fetches({"l": "loss:0", "both": ("loss", "global_step")}, {"loss": 0.5, "global_step": 3}, "hook")
    {'l': 0.5, 'both': (0.5, 3)}
    """
    if fetches is None:
        return None
    if isinstance(fetches, Mapping):
        return {key: resolve_fetches(value, values, owner) for key, value in fetches.items()}
    if isinstance(fetches, list | tuple):
        items = [resolve_fetches(value, values, owner) for value in fetches]
        return items if isinstance(fetches, list) else tuple(items)
    return values[fetch_name(fetches, tuple(values), owner)]


def _check_feed(feed_dict: Any, owner: str) -> None:
    if feed_dict:
        raise ValueError(
            f"{owner}: feed_dict={type(feed_dict).__name__} of {len(feed_dict)} entries, but estlab has "
            "no placeholders to feed; the model reads its data from the input_fn (give the values "
            "through it, e.g. a generator or pandas_input_fn)"
        )


class HookSession:
    """What TF hooks get as ``session``: ``run(fetches)`` reads the current values by name.

    The values are those of the latest step (``global_step`` after it; ``loss`` the latest loss reported),
    and in an evaluation also the evaluation's metrics.

    Examples
    --------
    >>> session = HookSession({"global_step": 7, "loss": 0.25})
    >>> session.run(["global_step:0", "loss"])
    [7, 0.25]
    """

    def __init__(self, values: dict[str, Any] | None = None, owner: str = "session.run") -> None:
        self._values: dict[str, Any] = dict(values or {})
        self._step_event: Event | None = None
        self.owner = owner

    @property
    def values(self) -> dict[str, Any]:
        """The current values by name."""
        event, self._step_event = self._step_event, None
        if event is not None:  # read when asked: a step costs one assignment
            loss = event.get("loss")
            self._values.update(
                step_values(event),
                global_step=int(event["global_step"]),
                loss=self._values.get("loss") if loss is None else loss,
            )
        return self._values

    def observe(self, event: Event) -> None:
        """Take the values of a ``step_end`` event (the global step after the step; the latest loss reported)."""
        self._step_event = event

    def run(self, fetches: Any, feed_dict: Any = None, options: Any = None, run_metadata: Any = None) -> Any:
        """The current values of ``fetches`` (a name, or lists/tuples/dicts of names)."""
        _check_feed(feed_dict, self.owner)
        return resolve_fetches(fetches, self.values, self.owner)


class SessionRunContext:
    """TF's ``SessionRunContext``: ``original_args``, ``session``, ``request_stop()``, ``stop_requested``.

    A stop requested here (in ``before_run`` or ``after_run``) ends training after the current step.

    Examples
    --------
    >>> ctx = SessionRunContext(SessionRunArgs(ORIGINAL_FETCHES), HookSession())
    >>> ctx.request_stop(); ctx.stop_requested
    True
    """

    def __init__(self, original_args: SessionRunArgs, session: HookSession) -> None:
        self._original_args = original_args
        self._session = session
        self._stop_requested = False

    @property
    def original_args(self) -> SessionRunArgs:
        """The fetches of estlab's own step (``("train_op", "loss")``)."""
        return self._original_args

    @property
    def session(self) -> HookSession:
        """The :class:`HookSession` (``session.run(name)`` reads current values)."""
        return self._session

    @property
    def stop_requested(self) -> bool:
        """True once a hook asked to stop in this step."""
        return self._stop_requested

    def request_stop(self) -> None:
        """Stop training after this step."""
        self._stop_requested = True


_ORIGINAL_ARGS = SessionRunArgs(ORIGINAL_FETCHES)
_UNCHECKED = object()


class _Run:
    """One training session's state of a hook (kept apart from the hook's own attributes)."""

    def __init__(self, session: HookSession, target_step: int | None) -> None:
        self.session = session
        self.target_step = target_step
        self.context: SessionRunContext | None = None
        self.args: SessionRunArgs | None = None
        self.wants_loss = False
        self.warned_options = False
        #: the fetch name validated last step (a hook fetching the same name each step is not re-checked)
        self.checked: Any = _UNCHECKED


def step_values(event: Event) -> dict[str, Any]:
    """What a hook fetches at a ``step_end`` event: TF's ``global_step`` read (before the step's increment) etc.

    Examples
    --------
    >>> step_values({"global_step": 5, "loss": 0.5, "learning_rate": 0.1, "epoch": 0, "examples_seen": 80,
    ...              "examples_per_sec": 100.0})["global_step"]
    4
    """
    return {
        "loss": event.get("loss"),
        "global_step": int(event["global_step"]) - 1,
        "learning_rate": event.get("learning_rate"),
        "epoch": event.get("epoch"),
        "examples_seen": event.get("examples_seen"),
        "examples_per_sec": event.get("examples_per_sec"),
    }


class SessionRunHook(Listener):
    """Base class of TF's training hooks, on estlab's bus (see the module docstring for the mapping).

    Subclass it and override ``begin``, ``after_create_session``, ``before_run``, ``after_run``, ``end`` as in
    TF; pass instances in ``train(hooks=[...])`` (or ``evaluate(hooks=[...])``: ``begin``,
    ``after_create_session`` and ``end`` run once for the evaluation, whose metrics ``session.run`` reads).

    Examples
    --------
    >>> class StopAt(SessionRunHook):
    ...     def before_run(self, run_context):
    ...         return SessionRunArgs("global_step")
    ...     def after_run(self, run_context, run_values):
    ...         if run_values.results + 1 >= 100:
    ...             run_context.request_stop()
    >>> est.train(train_df, label="y", hooks=[StopAt()])  # doctest: +SKIP
    """

    order = ORDER["monitors"]
    _estlab_run: _Run | None = None  # class default: subclasses need not call __init__

    # ------------------------------------------------------------------ TF's API
    def begin(self) -> None:
        """Called once before using the session (each ``train`` call)."""

    def after_create_session(self, session: HookSession, coord: Any) -> None:
        """Called after ``begin`` with the session; ``coord`` is None."""

    def before_run(self, run_context: SessionRunContext) -> SessionRunArgs | None:
        """Called before each step; return ``SessionRunArgs(fetches)`` to receive values in ``after_run``."""
        return None

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        """Called after each step with the values fetched by ``before_run``."""

    def end(self, session: HookSession) -> None:
        """Called at the end of training (finished or stopped), with the final values."""

    # ------------------------------------------------------------------ the bus
    def wants_loss(self, global_step: int) -> bool:
        """True at the steps whose ``before_run`` fetched ``"loss"`` (the loop then copies it to the host)."""
        run = self._estlab_run
        return run is not None and run.context is not None and run.wants_loss

    def on_train_begin(self, event: Event) -> None:
        start = int(event["global_step"])
        session = HookSession(
            {**dict.fromkeys(STEP_VALUES), "global_step": start, "epoch": 0, "examples_seen": 0},
            f"{type(self).__name__}: session.run",
        )
        run = self._estlab_run = _Run(session, event.get("target_step"))
        try:
            self.begin()
            self.after_create_session(session, None)
            if not event.get("full_batch") and (run.target_step is None or start < run.target_step):
                self._before_run()
        except BaseException:
            self._estlab_run = None  # the run does not start (no train_end will come)
            raise

    def _before_run(self) -> None:
        run = self._estlab_run
        assert run is not None
        run.context = SessionRunContext(_ORIGINAL_ARGS, run.session)
        args = self.before_run(run.context)
        if args is None:
            run.args, run.wants_loss, run.checked = None, False, _UNCHECKED
            return
        if (
            isinstance(args, SessionRunArgs)
            and args.fetches is run.checked
            and not args.feed_dict
            and args.options is None
        ):
            run.args = args  # the same name as last step, already checked: wants_loss is unchanged
            return
        owner = f"{type(self).__name__}.before_run"
        if not isinstance(args, SessionRunArgs):
            raise TypeError(
                f"{owner}: must return SessionRunArgs(fetches) or None, got {type(args).__name__}"
            )
        _check_feed(args.feed_dict, owner)
        if args.options is not None and not run.warned_options:
            run.warned_options = True
            warn_ignored_arguments(
                owner, {"SessionRunArgs.options": args.options}, "no tf.RunOptions in PyTorch"
            )
        names = [fetch_name(fetch, STEP_VALUES, owner) for fetch in fetch_names(args.fetches)]
        run.args, run.wants_loss = args, "loss" in names
        run.checked = args.fetches if isinstance(args.fetches, str) else _UNCHECKED

    def on_step_end(self, event: Event) -> None:
        run = self._estlab_run
        if run is None or run.context is None:
            return
        step = int(event["global_step"])
        run.session.observe(event)
        fetches = None if run.args is None else run.args.fetches
        if fetches is None:
            results = None
        elif fetches is run.checked:  # one name, checked in before_run
            name = fetches[:-2] if fetches.endswith(":0") else fetches
            results = step - 1 if name == "global_step" else event.get(name)
        else:
            results = resolve_fetches(fetches, step_values(event), type(self).__name__)
        context, run.context = run.context, None
        self.after_run(context, SessionRunValues(results))
        control = self.control
        if context.stop_requested and control is not None:
            control.request_stop(f"{type(self).__name__} requested stop at step {step}")
        if (run.target_step is None or step < run.target_step) and not (
            control is not None and control.stop_requested
        ):
            self._before_run()

    def on_train_end(self, event: Event) -> None:
        run, self._estlab_run = self._estlab_run, None
        if run is None or event["status"] == "failed" or event.get("reason") == "KeyboardInterrupt":
            return
        run.session.values["global_step"] = int(event["global_step"])
        if event.get("final_loss") is not None:
            run.session.values["loss"] = event["final_loss"]
        self.end(run.session)

    def on_evaluate(self, event: Event) -> None:
        """A hook given to ``evaluate`` (not training): ``begin``, ``after_create_session``, ``end`` once."""
        if self._estlab_run is not None:
            return  # an evaluation inside training: TF's training hooks do not see it
        values = {
            **{k: v for k, v in event["metrics"].items() if isinstance(k, str)},
            "global_step": int(event["global_step"]),
        }
        session = HookSession(values, f"{type(self).__name__}: session.run")
        self.begin()
        self.after_create_session(session, None)
        self.end(session)


def is_nan(value: Any) -> bool:
    """True for a float NaN (TF's ``np.isnan`` on the fetched loss).

    Examples
    --------
    >>> is_nan(float("nan")), is_nan(0.5), is_nan(None)
    (True, False, False)
    """
    return isinstance(value, float) and math.isnan(value)
