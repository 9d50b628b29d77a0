"""Numbers as the lab shows them (thousands separators, 4 significant digits), R² from saved predictions, and
the leaderboard DataFrame whose notebook display uses them. Torch-free."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import pandas as pd

from estlab.runner.predictions import load_predictions

#: Columns of a leaderboard that are counts (shown as integers with separators).
_COUNT_COLUMNS = ("steps",)
_R2_CACHE: dict[tuple[str, float], float | None] = {}


def as_number(value: Any) -> float | None:
    """``value`` as a finite float, else None (None, NaN, text).

    Examples
    --------
    >>> as_number("1.5"), as_number(float("nan")), as_number(None)
    (1.5, None, None)
    """
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def fmt_value(value: Any, sign: bool = False) -> str:
    """A metric for people: thousands separators, about 4 significant digits, ``–`` for none.

    Examples
    --------
    >>> fmt_value(15986828.5169), fmt_value(123.456), fmt_value(12.3456), fmt_value(0.851234)
    ('15,986,829', '123.5', '12.35', '0.8512')
    >>> fmt_value(0.0000123), fmt_value(-0.0123, sign=True), fmt_value(None)
    ('1.23e-05', '-0.0123', '–')
    """
    number = as_number(value)
    if number is None:
        return "–"
    plus = "+" if sign else ""
    magnitude = abs(number)
    if magnitude >= 1000:
        return f"{number:{plus},.0f}"
    if magnitude >= 100:
        return f"{number:{plus},.1f}"
    if magnitude >= 10:
        return f"{number:{plus}.2f}"
    if magnitude >= 1e-4 or magnitude == 0:
        return f"{number:{plus}.4f}"
    return f"{number:{plus}.2e}"


def fmt_delta(delta: Any, like: Any) -> str:
    """A difference shown with the decimals of the value it changes (``like``); ``±0`` when it rounds to nothing.

    Examples
    --------
    >>> fmt_delta(0.0000481, 0.8506), fmt_delta(0.0175, 0.8706), fmt_delta(-1067323.4, 326580.2)
    ('±0', '+0.0175', '-1,067,323')
    >>> fmt_delta(-609.2, 571.5), fmt_delta(None, 1.0)
    ('-609.2', '–')
    """
    number = as_number(delta)
    if number is None:
        return "–"
    shown = fmt_value(like)
    decimals = len(shown.split(".")[1]) if "." in shown and "e" not in shown else 0
    if "e" in shown:  # the value itself is tiny: keep the difference's own significant digits
        return fmt_value(number, sign=True)
    if abs(number) < 0.5 * 10.0 ** -decimals:
        return "±0"
    return f"{number:+,.{decimals}f}"


def r2_score(y_true: Any, y_pred: Any) -> float | None:
    """The coefficient of determination, ``1 - SS_res / SS_tot`` (None when the labels are constant).

    Examples
    --------
    >>> r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    0.5
    """
    truth = np.asarray(y_true, dtype=float).ravel()
    pred = np.asarray(y_pred, dtype=float).ravel()
    keep = np.isfinite(truth) & np.isfinite(pred)
    truth, pred = truth[keep], pred[keep]
    total = float(((truth - truth.mean()) ** 2).sum()) if len(truth) else 0.0
    if total == 0.0:
        return None
    return 1.0 - float(((truth - pred) ** 2).sum()) / total


def r2_of_file(path: str) -> float | None:
    """R² of a regression run's saved eval-set predictions (cached by path and modification time)."""
    if not path or not os.path.exists(path):
        return None
    key = (path, os.path.getmtime(path))
    if key not in _R2_CACHE:
        try:
            predictions = load_predictions(path)
            ok = predictions.get("task") == "regression"
            _R2_CACHE[key] = r2_score(predictions["y_true"], predictions["y_pred"]) if ok else None
        except (OSError, KeyError, ValueError):
            _R2_CACHE[key] = None
    return _R2_CACHE[key]


def format_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a leaderboard with every number as text, as the Runs tab shows it (what the notebook shows).

    Counts get separators, metrics :func:`fmt_value`, differences :func:`fmt_delta`, the wall time ``m:ss``
    (column ``wall time``), and empty params read ``defaults``.

    Examples
    --------
    >>> format_frame(pd.DataFrame({"run": ["a"], "steps": [12000], "average_loss": [15986828.5]})).iloc[0].tolist()
    ['a', '12,000', '15,986,828']
    >>> format_frame(pd.DataFrame({"params": [""], "wall_time_s": [75.4], "auc": [0.8506],
    ...                            "Δ auc": [0.0000481]})).iloc[0].tolist()
    ['defaults', '1:15', '0.8506', '±0']
    """
    from estlab.widgets._html import fmt_duration

    out = frame.copy()
    for column in out.columns:
        name = str(column)
        if column in _COUNT_COLUMNS or column == "rank":
            out[column] = [f"{int(v):,}" if as_number(v) is not None else "–" for v in out[column]]
        elif column == "params":
            out[column] = [str(v) if isinstance(v, str) and v else "defaults" for v in out[column]]
        elif column == "wall_time_s":
            out[column] = [fmt_duration(as_number(v)) for v in out[column]]
        elif name.startswith("Δ ") and name[2:] in out.columns:
            out[column] = [fmt_delta(d, v) for d, v in zip(frame[column], frame[name[2:]], strict=True)]
        elif pd.api.types.is_numeric_dtype(out[column]) and not pd.api.types.is_bool_dtype(out[column]):
            out[column] = [fmt_value(v, sign=name.startswith("Δ ")) for v in out[column]]
    return out.rename(columns={"wall_time_s": "wall time"})


class LeaderboardFrame(pd.DataFrame):
    """A leaderboard: a plain DataFrame whose notebook display formats the numbers (``fmt_value``).

    Examples
    --------
    >>> board = LeaderboardFrame({"run": ["a"], "rmse": [1234.5678]})
    >>> "1,235" in board._repr_html_(), float(board.loc[0, "rmse"])
    (True, 1234.5678)
    """

    @property
    def _constructor(self) -> type[LeaderboardFrame]:
        return LeaderboardFrame

    def _repr_html_(self) -> str:
        table = pd.DataFrame(format_frame(pd.DataFrame(self))).to_html(index=False, escape=True, border=0,
                                                                         classes="estlab-leaderboard-frame")
        return f'<div style="max-width:100%;overflow-x:auto">{table}</div>'
