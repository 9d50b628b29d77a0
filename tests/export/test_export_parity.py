"""Export → load → predict equals ``estimator.predict`` for every premade estimator and custom ones.

The loading side runs in a fresh Python process that must not import estlab's training or
estimator code (nor LightGBM): the export is self-contained.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from estlab import datasets
from estlab import feature_column as fc
from estlab.estimators import REGISTRY, Estimator, make_head
from estlab.estimators.custom import ModelSpec
from estlab.export import build_raw_serving_input_receiver_fn

ADULT_VOCAB = ["<=50K", ">50K"]


def _adult_columns() -> dict[str, list]:
    education = fc.categorical_column_with_learned_vocabulary("education")
    occupation = fc.categorical_column_with_hash_bucket("occupation", 16)
    age = fc.numeric_column("age", default_value=30.0, normalizer="zscore")
    hours = fc.bucketized_column(fc.numeric_column("hours_per_week"), [30, 40, 50])
    cross = fc.crossed_column(["education", "gender"], 32)
    years = fc.categorical_column_with_identity("education_num", 17)  # an int64 input
    race = fc.weighted_categorical_column(  # a float weight input
        fc.categorical_column_with_vocabulary_list("race", ["White", "Black", "Other"], num_oov_buckets=1),
        "capital_gain",
    )
    return {
        "dense": [
            age,
            hours,
            fc.indicator_column(education),
            fc.embedding_column(occupation, 3),
            fc.indicator_column(years),
        ],
        "linear": [age, hours, education, occupation, cross, race],
        "trees": [age, hours, fc.indicator_column(education)],
    }


def _diamond_columns() -> dict[str, list]:
    cut = fc.categorical_column_with_vocabulary_list("cut", ["Fair", "Good", "Very Good", "Premium", "Ideal"])
    clarity = fc.categorical_column_with_learned_vocabulary("clarity")
    carat = fc.numeric_column("carat")
    depth = fc.numeric_column("depth", default_value=61.0, normalizer="zscore")
    return {
        "dense": [carat, depth, fc.indicator_column(cut), fc.embedding_column(clarity, 2)],
        "linear": [carat, depth, cut, clarity],
        "trees": [carat, depth, fc.indicator_column(cut)],
    }


def _case_kwargs(name: str) -> tuple[str, dict]:
    """(dataset, constructor kwargs) for each registered premade estimator."""
    classifier = name.endswith("classifier")
    cols = _adult_columns() if classifier else _diamond_columns()
    head = {"label_vocabulary": ADULT_VOCAB} if classifier else {}
    dataset = "adult" if classifier else "diamonds"
    kwargs = {
        "baseline_classifier": head,
        "baseline_regressor": {},
        "boosted_trees_classifier": {
            "feature_columns": cols["trees"],
            "n_trees": 4,
            "min_child_samples": 5,
            **head,
        },
        "boosted_trees_regressor": {"feature_columns": cols["trees"], "n_trees": 4, "min_child_samples": 5},
        "dnn_classifier": {"feature_columns": cols["dense"], "hidden_units": [8, 4], "dropout": 0.2, **head},
        "dnn_regressor": {"feature_columns": cols["dense"], "hidden_units": [8], "batch_norm": True},
        "dnn_linear_combined_classifier": {
            "linear_feature_columns": cols["linear"],
            "dnn_feature_columns": cols["dense"],
            "dnn_hidden_units": [4],
            **head,
        },
        "dnn_linear_combined_regressor": {
            "linear_feature_columns": cols["linear"],
            "dnn_feature_columns": cols["dense"],
            "dnn_hidden_units": [4],
        },
        "linear_classifier": {"feature_columns": cols["linear"], **head},
        "linear_regressor": {"feature_columns": cols["linear"]},
    }
    return dataset, kwargs[name]


_MISSING = {"adult": "age", "diamonds": "depth", "penguins": "bill_length_mm"}


def _data(dataset: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    data = datasets.load(dataset)
    train, test = data.train.head(300).copy(), data.test.head(25).copy()
    # a missing numeric value and an unseen category: both must map exactly as in training
    test[_MISSING[dataset]] = test[_MISSING[dataset]].astype(float)
    test.iloc[0, test.columns.get_loc(_MISSING[dataset])] = np.nan
    string_column = test.select_dtypes(exclude="number").columns[0]
    test[string_column] = test[string_column].astype(object)
    test.iloc[1, test.columns.get_loc(string_column)] = "never-seen-category"
    return train, test, data.label


class _PenguinNet(torch.nn.Module):
    def __init__(self, transformer_width: int = 5) -> None:
        super().__init__()
        self.features = fc.DenseFeatures(_PENGUIN_COLUMNS)
        self.out = torch.nn.Linear(transformer_width, 3)

    def forward(self, encoded):
        return self.out(self.features(encoded))


# a custom model_fn builds its module before the transformer is fitted: stateless columns only
_PENGUIN_COLUMNS = [
    fc.numeric_column("bill_length_mm", default_value=44.0),
    fc.numeric_column("flipper_length_mm", default_value=200.0),
    fc.indicator_column(
        fc.categorical_column_with_vocabulary_list("island", ["Biscoe", "Dream", "Torgersen"])
    ),
]


class _RawNet(torch.nn.Module):
    """Takes raw tensors positionally (no feature columns) and a mode argument."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, carat, depth, mode=None):
        return self.linear(torch.stack([carat, depth / 60.0], dim=1)).squeeze(1)


def _custom_cases() -> list[tuple[str, Estimator, str, dict]]:
    head_fn = lambda params: ModelSpec(  # noqa: E731
        module=_PenguinNet(),
        head=make_head(3, ["Adelie", "Chinstrap", "Gentoo"]),
        feature_columns=_PENGUIN_COLUMNS,
    )
    raw_fn = lambda params: ModelSpec(  # noqa: E731
        module=_RawNet(),
        loss_fn=lambda logits, y: torch.nn.functional.mse_loss(logits.squeeze(1), y),
        input_names=("carat", "depth"),
        predictions_fn=lambda logits: {"price": logits * 1000.0, "rounded": logits.round().to(torch.int64)},
    )
    receiver = build_raw_serving_input_receiver_fn({"carat": "float32", "depth": "float32"})
    return [
        ("custom_head_penguins", Estimator(head_fn), "penguins", {}),
        (
            "custom_raw_tensors_loss_fn",
            Estimator(raw_fn),
            "diamonds",
            {"serving_input_receiver_fn": receiver},
        ),
    ]


def _expected(estimator, test: pd.DataFrame) -> dict:
    rows = list(estimator.predict(test))
    out = {}
    for key in rows[0]:
        values = np.stack([row[key] for row in rows])
        out[key] = {
            "dtype": values.dtype.str if values.dtype.kind != "O" else "O",
            "shape": list(values.shape),
            "values": values.tolist(),
        }
    return out


CHECK_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import pandas as pd
    from estlab.export import load

    results = {}
    for case in json.load(open(sys.argv[1])):
        model = load(case["export"])
        frame = pd.read_parquet(case["rows"])
        records = json.load(open(case["records"]))
        report = {}
        for source, data in (("frame", frame), ("records", records)):
            got = model.predict(data)
            for key, expected in json.load(open(case["expected"])).items():
                values = np.stack([row[key] for row in got])
                dtype = values.dtype.str if values.dtype.kind != "O" else "O"
                if values.dtype.kind == "f":
                    want = np.asarray(expected["values"], dtype=np.float64)
                    both_nan = np.isnan(values) & np.isnan(want)
                    diff = float(np.max(np.where(both_nan, 0.0, np.abs(values - want)), initial=0.0))
                    diff = float("inf") if np.isnan(diff) else diff
                else:
                    diff = 0.0 if values.tolist() == expected["values"] else float("inf")
                same_shape = list(values.shape) == expected["shape"]
                report[f"{source}:{key}"] = [diff, dtype == expected["dtype"], same_shape]
        results[case["name"]] = report
    banned = ("estlab.training", "estlab.estimators", "lightgbm")
    banned = sorted(m for m in sys.modules if m.startswith(banned))
    print(json.dumps({"banned": banned, "results": results}))
    """
)


def _cases(tmp_path: Path) -> list[tuple[str, Estimator, str, dict]]:
    cases = []
    for name, cls in REGISTRY.items():
        dataset, kwargs = _case_kwargs(name)
        cases.append((name, cls(model_dir=str(tmp_path / name / "model"), **kwargs), dataset, {}))
    return cases + _custom_cases()


def test_every_registered_premade_has_a_parity_case():
    for name in REGISTRY:
        dataset, kwargs = _case_kwargs(name)
        assert dataset in ("adult", "diamonds") and isinstance(kwargs, dict)


@pytest.mark.slow
def test_export_predicts_exactly_as_the_estimator_in_a_fresh_process(tmp_path):
    manifest = []
    for name, estimator, dataset, export_kwargs in _cases(tmp_path):
        train, test, label = _data(dataset)
        if name.startswith("custom_raw_tensors"):  # raw tensors have no missing-value rule: NaN is refused
            test[_MISSING[dataset]] = test[_MISSING[dataset]].fillna(61.0)
        estimator.train(train, label=label, steps=3, batch_size=64)
        path = estimator.export_saved_model(str(tmp_path / name / "export"), onnx=False, **export_kwargs)
        case_dir = tmp_path / name
        case_dir.mkdir(exist_ok=True)
        test.drop(columns=[label]).to_parquet(case_dir / "rows.parquet")
        (case_dir / "records.json").write_text(json.dumps(test.drop(columns=[label]).to_dict("records")))
        (case_dir / "expected.json").write_text(json.dumps(_expected(estimator, test)))
        manifest.append(
            {
                "name": name,
                "export": path,
                "rows": str(case_dir / "rows.parquet"),
                "records": str(case_dir / "records.json"),
                "expected": str(case_dir / "expected.json"),
            }
        )
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "check.py").write_text(CHECK_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(tmp_path / "check.py"), str(tmp_path / "manifest.json")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["banned"] == []
    assert sorted(report["results"]) == sorted([m["name"] for m in manifest])
    for name, keys in report["results"].items():
        for key, (diff, same_dtype, same_shape) in keys.items():
            assert diff <= 1e-6 and same_dtype and same_shape, (name, key, diff, same_dtype, same_shape)
    assert set(report["results"]["custom_raw_tensors_loss_fn"]) >= {"frame:price", "frame:rounded"}
