"""Small helpers every layer repeats: "did you mean" hints, plain JSON values, the step cap, prediction frames.

Torch-free and dependency-light (numpy and pandas only), so the UI core can use it.

Examples
--------
>>> did_you_mean("agee", ["age", "income"])
" Did you mean 'age'?"
>>> plain_json({"lr": 0.5, "units": (8, 4)})
{'lr': 0.5, 'units': [8, 4]}
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, cast

import numpy as np
import pandas as pd
import pandas.util

from estlab.warnings import IgnoredArgumentWarning  # noqa: F401 - estlab 0.1 imported it from here

#: The environment variable that caps the steps of every ``train`` call (notebooks in CI run in seconds).
MAX_STEPS_ENV = "ESTLAB_MAX_STEPS"


def did_you_mean(name: object, candidates: Iterable[object], n: int = 3, cutoff: float = 0.6) -> str:
    """A ``" Did you mean ...?"`` hint with the candidates closest to ``name``, or ``""``.

    Examples
    --------
    >>> did_you_mean("Adamm", ["Adam", "SGD"])
    " Did you mean 'Adam'?"
    >>> did_you_mean("zzz", ["Adam"])
    ''
    """
    matches = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=n, cutoff=cutoff)
    return " Did you mean " + " or ".join(repr(m) for m in matches) + "?" if matches else ""


def plain_json(value: Any, *, finite: bool = False) -> Any:
    """``value`` as plain JSON data: numpy scalars and arrays to Python, tuples to lists, keys to str.

    Anything else becomes its ``repr`` (a callable, an object); with ``finite=True`` NaN and infinities become None.

    Examples
    --------
    >>> plain_json({"a": np.float32(0.5), "b": np.arange(2), 3: float("nan")}, finite=True)
    {'a': 0.5, 'b': [0, 1], '3': None}
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return None if finite and isinstance(value, float) and not math.isfinite(value) else value
    if isinstance(value, Mapping):
        return {str(k): plain_json(v, finite=finite) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v, finite=finite) for v in value]
    if isinstance(value, np.generic | np.ndarray):
        return plain_json(value.tolist(), finite=finite)
    return repr(value)


def check_positive_int(name: str, value: Any) -> None:
    """Raise a clear error unless ``value`` is a positive int or None.

    Examples
    --------
    >>> check_positive_int("steps", 0)
    Traceback (most recent call last):
    ...
    ValueError: steps must be a positive int or None, got 0
    """
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0):
        raise ValueError(f"{name} must be a positive int or None, got {value!r}")


def warn_ignored_arguments(owner: str, given: Mapping[str, Any], why: str = "it has no meaning in PyTorch") -> None:
    """Warn once, naming every TF argument in ``given`` that was set (not None) and is ignored.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_ignored_arguments("RunConfig", {"session_config": object(), "device_fn": None})
    >>> print(caught[0].message)
    RunConfig: ignoring session_config (it has no meaning in PyTorch); remove it to silence this warning
    """
    import warnings

    names = [name for name, value in given.items() if value is not None]
    if names:
        warnings.warn(f"{owner}: ignoring {', '.join(names)} ({why}); remove it to silence this warning",
                      IgnoredArgumentWarning, stacklevel=3)


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (one we may not signal counts as alive).

    Examples
    --------
    >>> pid_alive(os.getpid())
    True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def env_max_steps(environ: Mapping[str, str] | None = None) -> int | None:
    """The ``ESTLAB_MAX_STEPS`` step cap, or None when unset.

    Examples
    --------
    >>> env_max_steps({"ESTLAB_MAX_STEPS": "50"}), env_max_steps({})
    (50, None)
    """
    raw = (os.environ if environ is None else environ).get(MAX_STEPS_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) <= 0:
        raise ValueError(f"environment variable {MAX_STEPS_ENV} must be a positive int, got {raw!r}; "
                         f"unset it or set e.g. {MAX_STEPS_ENV}=20")
    return int(raw)


#: prediction keys with one value per class: their columns are named by class (``probabilities_<class>``)
PER_CLASS_KEYS = ("probabilities", "logits")


# pandas ships no type information; the types pyright infers from its source admit every input kind (a
# scalar, an array, a frame), so these name the Series or DataFrame that a Series, a column label, a list of
# labels or a boolean row mask gives.
def numeric_series(values: pd.Series) -> pd.Series:
    """``pd.to_numeric(values, errors="coerce")``: non-numbers become NaN; a Series in, a Series out.

    Examples
    --------
    >>> numeric_series(pd.Series(["1", "x"])).tolist()
    [1.0, nan]
    """
    return cast(pd.Series, pd.to_numeric(values, errors="coerce"))


def frame_column(frame: pd.DataFrame, key: Hashable) -> pd.Series:
    """``frame[key]`` for one column label (unique in ``frame``), typed as the Series it is.

    Examples
    --------
    >>> frame_column(pd.DataFrame({"a": [1, 2]}), "a").tolist()
    [1, 2]
    """
    return cast(pd.Series, frame[key])


def frame_columns(frame: pd.DataFrame, keys: list[Hashable] | list[str]) -> pd.DataFrame:
    """``frame[keys]`` for a list of column labels: the frame of those columns.

    Examples
    --------
    >>> frame_columns(pd.DataFrame({"a": [1], "b": [2]}), ["b"]).columns.tolist()
    ['b']
    """
    return cast(pd.DataFrame, frame[keys])


def frame_rows(frame: pd.DataFrame, mask: pd.Series | np.ndarray) -> pd.DataFrame:
    """``frame[mask]`` for a boolean row mask: the frame of the rows where ``mask`` is True.

    Examples
    --------
    >>> frame_rows(pd.DataFrame({"a": [1, 2]}), np.array([False, True]))["a"].tolist()
    [2]
    """
    return cast(pd.DataFrame, frame[mask])


def quantile_bins(values: pd.Series, q: int) -> pd.Series:
    """``pd.qcut(values, q, duplicates="drop")``: each value's quantile bin, a categorical Series.

    Examples
    --------
    >>> quantile_bins(pd.Series([1.0, 2.0, 3.0, 4.0]), 2).cat.codes.tolist()
    [0, 0, 1, 1]
    """
    return cast(pd.Series, pd.qcut(values, q, duplicates="drop"))


def hash_rows(data: pd.Series | pd.DataFrame, *, index: bool) -> pd.Series:
    """``pd.util.hash_pandas_object(data, index=index)``: one uint64 hash per row.

    Examples
    --------
    >>> hash_rows(pd.Series([1, 1]), index=False).nunique()
    1
    """
    # pandas.util exports it through a module ``__getattr__``, which pyright types as ``object``
    hash_object = cast(Callable[..., pd.Series], pandas.util.hash_pandas_object)
    return hash_object(data, index=index)
