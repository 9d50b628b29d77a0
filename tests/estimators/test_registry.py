"""The registry lists every premade estimator with documented parameters; create/validate give clear errors."""

from __future__ import annotations

import inspect

import pytest

from estlab import feature_column as fc
from estlab.estimators import REGISTRY, create, info, list_premade, validate
from estlab.estimators.registry import REQUIRED

X = fc.numeric_column("x")


def test_registry_names_and_task_filter() -> None:
    assert sorted(REGISTRY) == [
        "baseline_classifier", "baseline_regressor", "boosted_trees_classifier", "boosted_trees_regressor",
        "dnn_classifier", "dnn_linear_combined_classifier", "dnn_linear_combined_regressor", "dnn_regressor",
        "linear_classifier", "linear_regressor",
    ]
    assert {i.name for i in list_premade("binary")} == {n for n in REGISTRY if n.endswith("classifier")}
    assert {i.task for i in list_premade("regression")} == {"regression"}
    with pytest.raises(ValueError, match=r"Unknown task 'regresion'.*Did you mean 'regression'"):
        list_premade("regresion")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_parameter_is_documented(name: str) -> None:
    premade = info(name)
    assert premade.summary and premade.cls is REGISTRY[name]
    signature = [p for p in inspect.signature(premade.cls.__init__).parameters if p != "self"]
    assert [p.name for p in premade.parameters] == signature
    undocumented = [p.name for p in premade.parameters if not p.doc]
    assert undocumented == []


def test_param_info_defaults_annotations_choices() -> None:
    params = {p.name: p for p in info("dnn_classifier").parameters}
    assert params["hidden_units"].required and params["hidden_units"].default is REQUIRED
    assert params["optimizer"].default == "Adam" and "Ftrl" in params["optimizer"].choices
    assert params["activation_fn"].choices[:2] == ["elu", "gelu"]
    assert params["dropout"].annotation == "float | None"
    assert params["n_classes"].doc == "Number of label classes (2 = binary)."
    combined = {p.name: p for p in info("dnn_linear_combined_classifier").parameters}
    assert combined["dnn_hidden_units"].default == [128, 64]


def test_create_errors_suggest_names() -> None:
    with pytest.raises(ValueError, match=r"Unknown premade estimator name 'dnn_clasifier'.*Did you mean 'dnn_classifier'"):
        create("dnn_clasifier")
    with pytest.raises(ValueError, match=r"DNNClassifier has no parameter 'hiden_units'.*Did you mean 'hidden_units'"):
        create("dnn_classifier", hiden_units=[3], feature_columns=[X])
    with pytest.raises(ValueError, match=r"DNNClassifier needs parameter\(s\) \['hidden_units'\]"):
        create("dnn_classifier", feature_columns=[X])


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("dnn_classifier", {"hidden_units": [0], "feature_columns": [X]}, r"hidden_units must be a list of positive ints"),
        ("dnn_classifier", {"hidden_units": [4], "feature_columns": [X], "dropout": 1.5},
         r"dropout must be None or a drop probability in \[0, 1\); received 1.5"),
        ("dnn_regressor", {"hidden_units": [4], "feature_columns": [X], "activation_fn": "relux"},
         r"activation_fn='relux' is not a known activation"),
        ("linear_classifier", {"feature_columns": [X], "optimizer": "Adamm"},
         r"optimizer='Adamm' is not a known optimizer name.*Did you mean 'Adam'"),
        ("linear_classifier", {"feature_columns": ["x"]}, r"feature_columns holds 'x', which is not a feature column"),
        ("linear_regressor", {"feature_columns": []}, r"feature_columns is empty"),
        ("linear_classifier", {"feature_columns": [X], "n_classes": 2, "label_vocabulary": ["a", "b", "c"]},
         r"label_vocabulary=\['a', 'b', 'c'\] has 3 labels but a binary head needs exactly 2"),
        ("baseline_classifier", {"loss_reduction": "mean"}, r"loss_reduction='mean' is not supported"),
        ("baseline_regressor", {"learning_rate": 0}, r"learning_rate must be a positive number; received 0"),
        ("dnn_linear_combined_classifier", {}, r"linear_feature_columns and dnn_feature_columns are both empty"),
        ("dnn_linear_combined_regressor", {"dnn_feature_columns": [X], "dnn_optimizer": "sgdd"},
         r"dnn_optimizer='sgdd' is not a known optimizer name"),
        ("boosted_trees_classifier", {"feature_columns": [X], "n_trees": 0}, r"n_trees must be an integer >= 1; received 0"),
        ("boosted_trees_regressor", {"feature_columns": [X], "label_dimension": 2},
         r"label_dimension=2 is not supported by boosted trees"),
        ("linear_classifier", {"feature_columns": [X], "weight_column": 3}, r"weight_column must be a column name"),
    ],
)
def test_validate_raises_the_estimators_own_error(name: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate(name, **kwargs)


def test_validate_returns_the_estimator_with_arguments_stored_as_given(tmp_path) -> None:
    est = validate("dnn_classifier", hidden_units=[8, 4], feature_columns=[X], dropout=0.2, model_dir=str(tmp_path))
    assert type(est).__name__ == "DNNClassifier" and est.hidden_units == [8, 4] and est.dropout == 0.2
    assert est.get_params()["model_dir"] == str(tmp_path)
    params = est._estimator_params()
    assert params["feature_columns"] == ["x"] and params["optimizer"] == "Adam"
