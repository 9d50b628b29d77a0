"""``estlab.check(train_df, eval_df, label=...)``: data problems found before training, each with a one-line fix.

Torch-free (pandas and numpy only). Returns a DataFrame with one row per problem:

========== ==========================================================================================
column     meaning
========== ==========================================================================================
severity   ``error`` (blocking: the lab refuses to start a run), ``warning`` or ``info``
check      the rule's name (see :data:`RULES`)
column     the column concerned ("" for the whole frame)
value      the measured number (share, PSI, accuracy...) or NaN
message    what was found, in one line
fix        what to do, in one line
========== ==========================================================================================

Rules and thresholds (:data:`RULES`, the keyword arguments of :func:`check`):

* ``label_missing`` (error): the label is not a column of the train or eval frame.
* ``label_nan`` (error): the label has missing values.
* ``single_class`` (error) / ``class_balance`` (warning below ``minority_share`` = 5 %): classification labels.
* ``unseen_label`` (warning): eval labels never seen in training.
* ``missing_in_eval`` (error): a train column the eval frame lacks; ``extra_in_eval`` (info).
* ``dtype_mismatch``: numbers vs text (error), other kind changes such as bool vs number (warning).
* ``unseen_categories`` (warning above ``unseen_share`` = 5 % of eval rows).
* ``drift`` (warning): numeric PSI over 10 train-quantile bins above ``psi_threshold`` = 0.2 and a two-sample
  KS statistic above its 5 % critical value for the two sizes (PSI alone is noisy on small frames: a random
  split of a few hundred rows often scores 0.2).
* ``constant`` (warning): at most one distinct value in training; ``duplicate`` (warning): same values as
  an earlier column; ``mostly_missing`` (warning above ``missing_share`` = 50 %).
* ``leakage`` (warning): one column alone predicts the label almost perfectly: per-value (categories) or
  per-quantile-bin (numbers, 20 bins) majority-class accuracy ≥ ``leak_accuracy`` = 0.99 while the majority
  class alone scores < 0.95; for a numeric label, ``|corr|`` ≥ 0.99 or R² of per-value means ≥ 0.99.
  Identifier-like columns (distinct values > 50 % of rows) are not judged (they memorise any label).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from estlab._util import frame_rows, hash_rows, numeric_series, quantile_bins

COLUMNS = ("severity", "check", "column", "value", "message", "fix")
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}

#: Rule name -> default severity.
RULES = {
    "label_missing": "error", "label_nan": "error", "single_class": "error", "class_balance": "warning",
    "unseen_label": "warning", "missing_in_eval": "error", "extra_in_eval": "info", "dtype_mismatch": "error",
    "unseen_categories": "warning", "drift": "warning", "constant": "warning", "duplicate": "warning",
    "mostly_missing": "warning", "leakage": "warning",
}
_MAX_CLASSES = 50  # a label with more distinct values and a numeric dtype is treated as regression


def _kind(series: pd.Series) -> str:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    return "text"


def is_classification(label: pd.Series) -> bool:
    """Whether ``label`` looks like classes (text, bool, or few integer values) rather than a number to regress.

    Examples
    --------
    >>> is_classification(pd.Series(["a", "b"])), is_classification(pd.Series([0.1, 0.7, 2.5] * 30))
    (True, False)
    """
    kind = _kind(label)
    if kind in ("text", "bool"):
        return True
    values = label.dropna()
    if kind == "number" and values.nunique() <= _MAX_CLASSES:
        return bool(pd.api.types.is_integer_dtype(label.dtype) or np.all(np.mod(values.to_numpy(float), 1) == 0))
    return False


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected`` over ``expected``'s quantile bins.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=5000)
    >>> psi(a, rng.normal(size=5000)) < 0.02, psi(a, rng.normal(1.0, size=5000)) > 0.2
    (True, True)
    """
    expected, actual = expected[np.isfinite(expected)], actual[np.isfinite(actual)]
    if not len(expected) or not len(actual):
        return float("nan")
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, expected, side="right"), minlength=len(edges) + 1) / len(expected)
    a = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=len(edges) + 1) / len(actual)
    e, a = np.clip(e, 1e-4, None), np.clip(a, 1e-4, None)
    return float(np.sum((a - e) * np.log(a / e)))


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic (largest gap between the empirical CDFs).

    Examples
    --------
    >>> ks_statistic(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    0.0
    >>> ks_statistic(np.array([0.0, 0.0]), np.array([1.0, 1.0]))
    1.0
    """
    a, b = np.sort(a[np.isfinite(a)]), np.sort(b[np.isfinite(b)])
    if not len(a) or not len(b):
        return float("nan")
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / len(a)
    cdf_b = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def ks_critical_value(n: int, m: int, alpha: float = 0.05) -> float:
    """The two-sample KS statistic above which samples of ``n`` and ``m`` rows differ at level ``alpha``
    (the asymptotic critical value ``c(alpha) * sqrt((n + m) / (n * m))``).

    Examples
    --------
    >>> round(ks_critical_value(300, 69), 3), round(ks_critical_value(10_000, 10_000), 4)
    (0.181, 0.0192)
    """
    return math.sqrt(-0.5 * math.log(alpha / 2)) * math.sqrt((n + m) / (n * m))


def _as_float(series: pd.Series) -> np.ndarray:
    return numeric_series(series).to_numpy(dtype=float, na_value=np.nan)


def _leak_score(feature: pd.Series, label: pd.Series, classification: bool) -> float | None:
    """How well ``feature`` alone predicts ``label`` (accuracy or R²); None when not judged."""
    frame = pd.DataFrame({"x": feature, "y": label}).dropna(subset=["y"])
    if len(frame) < 20:
        return None
    x = frame["x"]
    if _kind(x) == "number" and x.nunique() > 20:
        if not classification:
            xs, ys = _as_float(x), frame["y"].to_numpy(float)
            ok = np.isfinite(xs)
            if ok.sum() < 20 or np.std(xs[ok]) == 0 or np.std(ys[ok]) == 0:
                return None
            return float(abs(np.corrcoef(xs[ok], ys[ok])[0, 1]))
        key = quantile_bins(x, 20).astype(object).where(x.notna(), "<missing>")
    else:
        if x.nunique(dropna=False) > 0.5 * len(frame):
            return None  # identifier-like: memorises any label
        key = x.astype(object).where(x.notna(), "<missing>")
    if classification:
        counts = frame.groupby([key.to_numpy(), frame["y"].to_numpy()], dropna=False).size()
        return float(counts.groupby(level=0).agg("max").sum() / len(frame))
    y = frame["y"].to_numpy(float)
    fitted = frame["y"].groupby(key.to_numpy(), dropna=False).transform("mean").to_numpy(float)
    total = np.sum((y - y.mean()) ** 2)
    return float(1 - np.sum((y - fitted) ** 2) / total) if total > 0 else None


def check(train_df: pd.DataFrame, eval_df: pd.DataFrame | None = None, label: str | None = None, *,
          columns: list[str] | None = None, psi_threshold: float = 0.2, unseen_share: float = 0.05,
          minority_share: float = 0.05, missing_share: float = 0.5, leak_accuracy: float = 0.99,
          sample: int = 50_000) -> pd.DataFrame:
    """Check a training frame (and an eval frame) before training; one row per problem, errors first.

    Parameters
    ----------
    train_df, eval_df
        The frames; ``eval_df`` may be None (then only the train-side rules run).
    label
        The label column (label rules and the leakage hint need it).
    columns
        The feature columns to check (default: every column but the label).
    psi_threshold, unseen_share, minority_share, missing_share, leak_accuracy
        Thresholds (see the module docstring).
    sample
        Rows used by the drift and leakage rules (a fixed random sample of larger frames).

    Examples
    --------
    >>> train = pd.DataFrame({"x": [float(i) for i in range(40)], "c": ["a", "b"] * 20, "y": [0, 1] * 20})
    >>> report = check(train, train.drop(columns="c"), label="y")
    >>> report[["severity", "check", "column"]].values.tolist()
    [['error', 'missing_in_eval', 'c'], ['warning', 'leakage', 'c']]
    >>> report.loc[0, "fix"]
    "add 'c' to the eval frame, or leave it out of the features"
    """
    rows: list[dict[str, Any]] = []

    def add(rule: str, column: str, value: float, message: str, fix: str, severity: str | None = None) -> None:
        rows.append({"severity": severity or RULES[rule], "check": rule, "column": column,
                     "value": float(value) if value is not None else math.nan, "message": message, "fix": fix})

    def sampled(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sample(sample, random_state=0) if len(frame) > sample else frame

    features = list(columns) if columns is not None else [c for c in train_df.columns if c != label]
    features = [c for c in features if c in train_df.columns]
    classification = False
    if label is not None:
        for name, frame in (("train", train_df), ("eval", eval_df)):
            if frame is None:
                continue
            if label not in frame.columns:
                add("label_missing", label, math.nan, f"the {name} frame has no column {label!r}",
                    f"pick a label that both frames have, or add {label!r} to the {name} frame")
                continue
            missing = int(frame[label].isna().sum())
            if missing:
                add("label_nan", label, missing / len(frame),
                    f"{missing:,} of {len(frame):,} {name} rows ({missing / len(frame):.1%}) have no label",
                    f"drop them first: {name}_df = {name}_df.dropna(subset=[{label!r}])")
        if label in train_df.columns:
            y = train_df[label]
            classification = is_classification(y)
            if classification:
                shares = y.value_counts(normalize=True)
                if len(shares) == 1:
                    add("single_class", label, 1.0, f"every training label is {shares.index[0]!r}",
                        "a classifier needs at least two classes: check the filter that built the frame")
                elif len(shares) and shares.iloc[-1] < minority_share:
                    add("class_balance", label, float(shares.iloc[-1]),
                        f"class {shares.index[-1]!r} is only {shares.iloc[-1]:.1%} of training rows "
                        f"(largest {shares.index[0]!r} {shares.iloc[0]:.1%})",
                        "judge runs by AUC or per-class recall, or weight / resample the rare class")
                if eval_df is not None and label in eval_df.columns:
                    unseen = sorted(map(str, set(eval_df[label].dropna().unique()) - set(y.dropna().unique())))
                    if unseen:
                        add("unseen_label", label, len(unseen),
                            f"eval labels never seen in training: {', '.join(unseen[:5])}",
                            "make the label values consistent (spelling, case, whitespace) in both frames")

    train_s = sampled(train_df)
    eval_s = sampled(eval_df) if eval_df is not None else None
    for col in features:
        tr = train_df[col]
        n_missing = int(tr.isna().sum())
        if len(tr) and n_missing / len(tr) > missing_share:
            add("mostly_missing", col, n_missing / len(tr), f"{n_missing / len(tr):.0%} of training values are missing",
                "drop the column, or keep it with an indicator of missingness")
        if tr.nunique(dropna=True) <= 1:
            add("constant", col, tr.nunique(dropna=True), "at most one distinct value in training",
                "drop it: it carries no information")
        if eval_df is None:
            continue
        if col not in eval_df.columns:
            add("missing_in_eval", col, math.nan, "the eval frame has no such column",
                f"add {col!r} to the eval frame, or leave it out of the features")
            continue
        ev = eval_df[col]
        k_tr, k_ev = _kind(tr), _kind(ev)
        if k_tr != k_ev and ev.notna().any() and tr.notna().any():
            blocking = {k_tr, k_ev} == {"number", "text"}
            add("dtype_mismatch", col, math.nan, f"{tr.dtype} in train but {ev.dtype} in eval",
                f"convert both the same way, e.g. eval_df[{col!r}] = eval_df[{col!r}].astype(train_df[{col!r}].dtype)",
                None if blocking else "warning")
            continue
        if k_tr in ("text", "bool") or isinstance(tr.dtype, pd.CategoricalDtype):
            seen = set(tr.dropna().unique())
            values = ev.dropna()
            if len(values):
                share = float((~values.isin(seen)).sum() / len(ev))
                if share > unseen_share:
                    add("unseen_categories", col, share,
                        f"{share:.1%} of eval rows hold a value never seen in training",
                        "they share the out-of-vocabulary slot: clean the values, or hash the column")
        elif k_tr == "number":
            a, b = _as_float(train_s[col]), _as_float(eval_s[col])  # type: ignore[index]
            value = psi(a, b)
            if value == value and value > psi_threshold:
                d = ks_statistic(a, b)
                n, m = int(np.isfinite(a).sum()), int(np.isfinite(b).sum())
                critical = ks_critical_value(n, m)
                if d > critical:  # the shift is larger than sampling noise at these sizes
                    add("drift", col, value, f"PSI {value:.3f} > {psi_threshold:g} and KS D = {d:.3f} > {critical:.3f} "
                        f"(its 5 % critical value for {n:,} train / {m:,} eval values) between train and eval",
                        "check how eval was sampled; bucketize or re-split if it is real")

    seen_hashes: dict[int, str] = {}
    for col in features:
        try:
            digest = int(hash_rows(train_df[col], index=False).sum())
        except TypeError:
            continue
        first = seen_hashes.get(digest)
        if first is not None and train_df[col].equals(train_df[first]):
            add("duplicate", col, math.nan, f"same values as {first!r}", f"drop {col!r}: it repeats {first!r}")
        else:
            seen_hashes.setdefault(digest, col)

    if label is not None and label in train_df.columns:
        y = train_s[label]
        if classification:
            baseline = float(y.value_counts(normalize=True).iloc[0]) if y.notna().any() else 1.0
        else:
            baseline = 0.0
        if baseline < 0.95:
            for col in features:
                score = _leak_score(train_s[col], y, classification)
                if score is not None and score >= leak_accuracy:
                    what = "accuracy" if classification else ("|corr|" if _kind(train_s[col]) == "number" else "R²")
                    add("leakage", col, score, f"alone predicts {label!r} with {what} {score:.3f}: a possible leak",
                        f"make sure {col!r} is known before the label is; if not, leave it out of the features")

    report = pd.DataFrame(rows, columns=list(COLUMNS))
    if len(report):
        report = report.sort_values("severity", key=lambda s: s.map(SEVERITY_ORDER), kind="stable")
    return report.reset_index(drop=True)


def blocking(report: pd.DataFrame) -> pd.DataFrame:
    """The rows of a :func:`check` report that refuse a run (severity ``error``)."""
    return frame_rows(report, report["severity"] == "error").reset_index(drop=True)


__all__ = ["COLUMNS", "RULES", "blocking", "check", "is_classification", "ks_critical_value", "ks_statistic", "psi"]
