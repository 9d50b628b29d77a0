"""Property test (hypothesis): column kinds x perturbations x fit/transform, and estimators x train/predict/evaluate.

Every outcome is classified:

* **clear error**: a ``ValueError`` (``FeatureColumnError`` included), ``FloatingPointError`` or ``MemoryError``
  raised by estlab's own code (the innermost frame of the traceback is in the ``estlab`` package) whose message
  names the column (or the label / weight / frame) that was perturbed;
* **ok**: a result that holds its invariants: one row per input row, finite floats, ids in ``[-1, buckets)``,
  the same result twice, bytes giving what their UTF-8 text gives, and for perturbations that must be refused
  (inf in a numeric column, undecodable bytes, a dict as a categorical value) no result at all;
* **crash**: any other exception (a raw ``TypeError``/``KeyError``/``RuntimeError`` from pandas or torch, an
  error from a library's frame, or a message that does not name the column);
* **silent wrong**: a result that breaks an invariant.

The suite asserts 0 crashes and 0 silent-wrong results and prints the counts (``pytest -s`` shows them; the
last test also writes them to ``$ESTLAB_FUZZ_COUNTS`` when that variable names a file). Examples are bounded
(``derandomize=True``: the same cases every run) so the default run stays well under a minute.
"""

from __future__ import annotations

import json
import os
import tempfile
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import estlab
import estlab.feature_column as fc
from estlab.features import FeatureTransformer

ESTLAB_DIR = str(Path(estlab.__file__).resolve().parent)
COUNTS: dict[str, Counter] = {"columns": Counter(), "estimators": Counter()}
CASES: dict[str, list[str]] = {"crash": [], "silent_wrong": []}

#: value perturbations of one cell: name -> value
CELL = {
    "inf": np.inf, "-inf": -np.inf, "1e308": 1e308, "-1e39": -1e39, "nan": np.nan, "none": None,
    "list": ["a", "b"], "int_list": [1, 2], "tuple": ("a",), "nested_list": [["a"]], "dict": {"a": 1},
    "set": {"a"}, "bytes_ascii": b"a", "bytes_utf8": "é".encode(), "bytes_bad": b"\xff\xfe", "empty_string": "",
    "huge_int": 10**30, "negative_int": -7, "minus_one": -1, "bool": True, "string": "abc", "unicode": "日本",
    "float_in_cat": 2.5, "timestamp": pd.Timestamp("2020-01-01"), "object": object(),
}
#: perturbations of the whole input
FRAME = ("empty_frame", "missing_column", "unequal_lengths", "all_missing")
PERTURBATIONS = (*CELL, *FRAME)


@dataclass(frozen=True)
class Kind:
    """A column kind under test: how to build it and which raw key the perturbation hits."""

    name: str
    build: Callable[[], Any]
    key: str
    #: the perturbation must be refused (no result) for these cell values
    refuse: tuple[str, ...] = ()


_NUMERIC_REFUSE = ("inf", "-inf", "1e308", "-1e39", "list", "int_list", "tuple", "nested_list", "dict", "set",
                   "bytes_ascii", "bytes_utf8", "bytes_bad", "string", "unicode", "empty_string", "timestamp", "object")
_CATEGORICAL_REFUSE = ("nested_list", "dict", "bytes_bad")

KINDS = (
    Kind("numeric", lambda: fc.numeric_column("num"), "num", (*_NUMERIC_REFUSE, "nan", "none")),
    Kind("numeric_default", lambda: fc.numeric_column("num", default_value=0.5, non_finite="default"), "num",
         tuple(p for p in _NUMERIC_REFUSE if p not in ("inf", "-inf", "1e308", "-1e39"))),
    Kind("numeric_zscore", lambda: fc.numeric_column("num", normalizer="zscore", default_value=0.0), "num",
         _NUMERIC_REFUSE),
    Kind("bucketized", lambda: fc.bucketized_column(fc.numeric_column("num", default_value=0.0), [0.0, 1.0]), "num",
         _NUMERIC_REFUSE),
    Kind("bucketized_quantiles",
         lambda: fc.bucketized_column(fc.numeric_column("num", default_value=0.0), "quantiles:3"), "num",
         _NUMERIC_REFUSE),
    Kind("vocabulary", lambda: fc.indicator_column(fc.categorical_column_with_vocabulary_list("cat", ["a", "b", "c"])),
         "cat", _CATEGORICAL_REFUSE),
    Kind("vocabulary_oov", lambda: fc.categorical_column_with_vocabulary_list("cat", ["a", "b"], num_oov_buckets=2),
         "cat", _CATEGORICAL_REFUSE),
    Kind("learned", lambda: fc.categorical_column_with_learned_vocabulary("cat"), "cat", _CATEGORICAL_REFUSE),
    Kind("hash", lambda: fc.categorical_column_with_hash_bucket("cat", 7), "cat", _CATEGORICAL_REFUSE),
    Kind("embedding", lambda: fc.embedding_column(fc.categorical_column_with_hash_bucket("cat", 11), 3), "cat",
         _CATEGORICAL_REFUSE),
    Kind("identity", lambda: fc.categorical_column_with_identity("int", 5), "int",
         (*_CATEGORICAL_REFUSE, "huge_int", "negative_int", "string", "unicode", "float_in_cat", "bytes_utf8",
          "inf", "-inf", "1e308", "-1e39", "list", "tuple", "set", "bytes_ascii", "empty_string")),
    Kind("crossed", lambda: fc.crossed_column(["cat", "int"], 13), "cat", _CATEGORICAL_REFUSE),
    Kind("crossed_bucketized",
         lambda: fc.crossed_column([fc.bucketized_column(fc.numeric_column("num", default_value=0.0), [0.0]), "cat"],
                                   13), "num", _NUMERIC_REFUSE),
    Kind("weighted", lambda: fc.weighted_categorical_column(fc.categorical_column_with_identity("int", 5), "w"), "w",
         ("inf", "-inf", "1e308", "-1e39", "nan", "none", "list", "int_list", "tuple", "nested_list", "dict", "set",
          "bytes_bad", "bytes_utf8", "bytes_ascii", "string", "unicode", "empty_string")),
)


def base_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "num": rng.normal(size=n).round(3), "cat": rng.choice(["a", "b", "c", "d"], size=n),
        "int": rng.integers(0, 5, size=n), "w": rng.uniform(0.5, 2.0, size=n).round(3),
    })


def perturb(frame: pd.DataFrame, key: str, perturbation: str, row: int) -> Any:
    """The frame (or dict) with ``perturbation`` applied to ``key`` at ``row``."""
    if perturbation == "empty_frame":
        return frame.iloc[:0]
    if perturbation == "missing_column":
        return frame.drop(columns=key)
    if perturbation == "unequal_lengths":
        data = {k: frame[k].tolist() for k in frame.columns}
        data[key] = data[key][:-1] if len(data[key]) > 1 else [*data[key], data[key][0]]
        return data
    if perturbation == "all_missing":
        return frame.assign(**{key: [None] * len(frame)})
    values = frame[key].astype(object).tolist()
    values[row % len(values)] = CELL[perturbation]
    out = frame.copy()
    out[key] = pd.Series(values, dtype=object, index=frame.index)
    return out


def as_text(data: Any, key: str) -> Any:
    """``data`` with every bytes value of ``key`` decoded (the oracle for bytes)."""
    out = data.copy() if isinstance(data, pd.DataFrame) else dict(data)
    out[key] = [v.decode("utf-8") if isinstance(v, bytes) else v for v in list(out[key])]
    return out


def is_clear(error: BaseException, names: tuple[str, ...]) -> bool:
    """Raised by estlab (innermost frame), of a clear type, naming one of ``names`` (any, when empty)."""
    if not isinstance(error, (ValueError, FloatingPointError, MemoryError)):
        return False
    frames = traceback.extract_tb(error.__traceback__)
    if not frames or not str(Path(frames[-1].filename).resolve()).startswith(ESTLAB_DIR):
        return False
    text = str(error)
    return not names or any(repr(n) in text or f"{n}" in text for n in names)


def check_encoded(out: dict[str, torch.Tensor], ft: FeatureTransformer, n: int) -> str | None:
    """Why an encoding is wrong (rows, non-finite floats, ids out of range), or None."""
    for key, tensor in out.items():
        if tensor.shape[0] != n:
            return f"{key}: {tensor.shape[0]} rows for {n}"
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            return f"{key}: non-finite values {tensor.tolist()[:4]}"
    for column in ft.feature_columns:
        leaf = column.leaf
        tensor = out[ft.encoded_key(leaf)]
        if not tensor.is_floating_point() and hasattr(leaf, "bucket_count") and not hasattr(leaf, "shape"):
            buckets = ft.num_buckets(leaf)
            if bool(((tensor < -1) | (tensor >= buckets)).any()):
                return f"{leaf.name}: ids {tensor.tolist()[:4]} outside [-1, {buckets})"
    return None


def classify(kind: Kind, perturbation: str, stage: str, n: int, row: int, seed: int) -> tuple[str, str]:
    """Run one case: ``(outcome, detail)`` with outcome in ok / clear_error / crash / silent_wrong."""
    clean = base_frame(n, seed)
    bad = perturb(clean, kind.key, perturbation, row)
    column = kind.build()
    ft = FeatureTransformer([column])
    names = (kind.key,) if perturbation in CELL or perturbation == "all_missing" else ()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if stage == "fit":
                ft.fit(bad)
                out = ft.transform(bad)
            else:
                ft.fit(clean)
                out = ft.transform(bad)
            again = ft.transform(bad)
    except Exception as error:  # noqa: BLE001 - every failure is classified
        if is_clear(error, names):
            return "clear_error", ""
        return "crash", f"{type(error).__module__}.{type(error).__name__}: {str(error)[:200]}"
    rows = len(bad) if isinstance(bad, pd.DataFrame) else len(next(iter(bad.values())))
    if perturbation in kind.refuse and rows:
        return "silent_wrong", f"{perturbation!r} was accepted: {({k: v.tolist()[:3] for k, v in out.items()})}"
    wrong = check_encoded(out, ft, rows)
    if wrong is None and any(not torch.equal(out[k], again[k]) for k in out):
        wrong = "two transforms of the same input differ"
    if wrong is None and perturbation.startswith("bytes") and stage == "transform":
        text = ft.transform(as_text(bad, kind.key))
        if any(not torch.equal(out[k], text[k]) for k in out):
            wrong = "bytes encode differently from their UTF-8 text"
    if wrong is None and kind.name == "numeric_default" and perturbation in ("inf", "-inf", "1e308", "-1e39"):
        if out["num"][row % n].item() != 0.5:
            wrong = f"non-finite value became {out['num'][row % n].item()}, not default_value 0.5"
    return ("silent_wrong", wrong) if wrong else ("ok", "")


def _record(suite: str, case: str, outcome: str, detail: str) -> None:
    COUNTS[suite][outcome] += 1
    if outcome in CASES:
        CASES[outcome].append(f"{suite}: {case}: {detail}")


@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(kind=st.sampled_from(KINDS), perturbation=st.sampled_from(PERTURBATIONS),
       stage=st.sampled_from(("fit", "transform")), n=st.integers(1, 12), row=st.integers(0, 11),
       seed=st.integers(0, 3))
def test_columns_under_perturbation_never_crash_nor_go_silently_wrong(kind, perturbation, stage, n, row, seed):
    outcome, detail = classify(kind, perturbation, stage, n, row, seed)
    _record("columns", f"{kind.name} x {perturbation} x {stage} (n={n}, row={row})", outcome, detail)
    assert outcome in ("ok", "clear_error"), detail


def test_every_column_kind_meets_every_perturbation_at_both_stages():
    """The exhaustive grid (hypothesis samples it; this walks it once, deterministically)."""
    for kind in KINDS:
        for perturbation in PERTURBATIONS:
            for stage in ("fit", "transform"):
                outcome, detail = classify(kind, perturbation, stage, 6, 2, 0)
                _record("columns", f"{kind.name} x {perturbation} x {stage}", outcome, detail)
                assert outcome in ("ok", "clear_error"), f"{kind.name} x {perturbation} x {stage}: {detail}"


# --- estimators: labels, weights and features at train / predict / evaluate ------------------------------------

LABEL = {"label_inf": np.inf, "label_nan": np.nan, "label_string": "yes", "label_out_of_range": 7,
         "label_negative": -1, "label_float": 0.5, "label_list": [1]}
WEIGHT = {"weight_inf": np.inf, "weight_negative": -1.0, "weight_nan": np.nan, "weight_1e308": 1e308,
          "weight_string": "heavy"}
FEATURE = ("inf", "1e308", "nan", "list", "dict", "bytes_ascii", "bytes_bad", "huge_int", "string", "empty_frame",
           "missing_column")
REGRESSION_LABEL = {"reg_label_inf": np.inf, "reg_label_1e30": 1e30, "reg_label_string": "big"}


def _columns() -> list:
    return [fc.numeric_column("num", default_value=0.0),
            fc.indicator_column(fc.categorical_column_with_vocabulary_list("cat", ["a", "b", "c"])),
            fc.embedding_column(fc.categorical_column_with_hash_bucket("cat", 11), 2),
            fc.indicator_column(fc.crossed_column(["cat", "int"], 7))]


def _frame(n: int, seed: int) -> pd.DataFrame:
    frame = base_frame(n, seed)
    return frame.assign(y=(frame["num"] > 0).astype(int), r=frame["num"] * 3.0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from estlab.estimators import DNNClassifier

    est = DNNClassifier([3], _columns(), model_dir=str(tmp_path_factory.mktemp("fuzz")), weight_column="w")
    est.train(_frame(24, 0), label="y", steps=2)
    return est


def run_estimator(trained: Any, perturbation: str, stage: str, n: int, row: int, seed: int) -> tuple[str, str]:
    from estlab.estimators import DNNClassifier, LinearRegressor

    frame = _frame(n, seed)
    names: tuple[str, ...]
    regression = perturbation in REGRESSION_LABEL
    if perturbation in LABEL or regression:
        key = "r" if regression else "y"
        values = frame[key].astype(object).tolist()
        values[row % n] = (REGRESSION_LABEL if regression else LABEL)[perturbation]
        data, names = frame.assign(**{key: pd.Series(values, dtype=object)}), ("label", "labels")
    elif perturbation in WEIGHT:
        values = frame["w"].astype(object).tolist()
        values[row % n] = WEIGHT[perturbation]
        data, names = frame.assign(w=pd.Series(values, dtype=object)), ("w",)
    else:
        key = "cat" if perturbation in ("list", "dict", "bytes_ascii", "bytes_bad") else "num"
        data = perturb(frame, key, perturbation, row)
        names = (key,) if perturbation in CELL else ()
    try:
        with warnings.catch_warnings(), tempfile.TemporaryDirectory() as model_dir:
            warnings.simplefilter("ignore")
            if stage == "train":
                est = (LinearRegressor(_columns()[:2], model_dir=model_dir, weight_column="w") if regression else
                       DNNClassifier([3], _columns(), model_dir=model_dir, weight_column="w"))
                est.train(data, label="r" if regression else "y", steps=1)
                result = est.predict_frame(frame.drop(columns=["y", "r"]))
            elif stage == "evaluate":
                metrics = trained.evaluate(data.drop(columns="r") if "r" in data else data, label="y")
                result = pd.DataFrame([metrics])
            else:
                result = trained.predict_frame(data.drop(columns=[c for c in ("y", "r") if c in data]))
    except Exception as error:  # noqa: BLE001 - every failure is classified
        if is_clear(error, names):
            return "clear_error", ""
        return "crash", f"{type(error).__module__}.{type(error).__name__}: {str(error)[:200]}"
    numbers = result.select_dtypes("number").to_numpy(dtype=np.float64)
    rows = len(data) if isinstance(data, pd.DataFrame) else len(next(iter(data.values())))
    if stage == "predict" and len(result) != rows:
        return "silent_wrong", f"{len(result)} predictions for {rows} rows"
    if numbers.size and not np.isfinite(numbers).all():
        return "silent_wrong", f"non-finite output {result.head(2).to_dict()}"
    refused = ("inf", "1e308", "dict", "bytes_bad", "string", *WEIGHT, "label_inf", "label_nan", "label_string",
               "label_out_of_range", "label_negative", "label_float", "label_list", *REGRESSION_LABEL)
    touched = stage == "train" or perturbation not in (*LABEL, *WEIGHT, *REGRESSION_LABEL)
    if perturbation in refused and touched and not (stage == "predict" and perturbation in WEIGHT):
        return "silent_wrong", f"{perturbation!r} at {stage} was accepted"
    return "ok", ""


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(perturbation=st.sampled_from((*LABEL, *WEIGHT, *FEATURE, *REGRESSION_LABEL)),
       stage=st.sampled_from(("train", "predict", "evaluate")), n=st.integers(2, 10), row=st.integers(0, 9),
       seed=st.integers(0, 3))
def test_estimators_under_perturbation_never_crash_nor_go_silently_wrong(trained, perturbation, stage, n, row, seed):
    outcome, detail = run_estimator(trained, perturbation, stage, n, row, seed)
    _record("estimators", f"{perturbation} x {stage} (n={n}, row={row})", outcome, detail)
    assert outcome in ("ok", "clear_error"), detail


def test_every_estimator_perturbation_at_every_stage(trained):
    """The exhaustive estimator grid, walked once."""
    for perturbation in (*LABEL, *WEIGHT, *FEATURE, *REGRESSION_LABEL):
        for stage in ("train", "predict", "evaluate"):
            outcome, detail = run_estimator(trained, perturbation, stage, 6, 2, 0)
            _record("estimators", f"{perturbation} x {stage}", outcome, detail)
            assert outcome in ("ok", "clear_error"), f"{perturbation} x {stage}: {detail}"


def test_counts():
    """Print (and optionally write) the counts: 0 crashes and 0 silent-wrong results."""
    summary = {suite: dict(sorted(counter.items())) for suite, counter in COUNTS.items()}
    print(f"\nfuzz counts: {json.dumps(summary)}")
    if os.environ.get("ESTLAB_FUZZ_COUNTS"):
        Path(os.environ["ESTLAB_FUZZ_COUNTS"]).write_text(json.dumps({**summary, **CASES}, indent=1))
    assert CASES == {"crash": [], "silent_wrong": []}
    assert all(summary[s].get("crash", 0) == 0 and summary[s].get("silent_wrong", 0) == 0 for s in summary)
