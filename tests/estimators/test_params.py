"""sklearn's parameter contract: constructors store, ``_check()`` validates once, get/set_params, clone."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.base import clone

from estlab import feature_column as fc
from estlab.estimators import REGISTRY, DNNClassifier, DNNLinearCombinedRegressor, LinearClassifier, validate
from estlab.training.config import RunConfig

X = fc.numeric_column("x")


def test_constructor_stores_arguments_as_given_and_validates_nothing(tmp_path) -> None:
    units = (8, 4)
    est = DNNClassifier(hidden_units=units, feature_columns=[X], dropout=1.5, model_dir=str(tmp_path / "m"))
    assert est.hidden_units is units and est.dropout == 1.5
    assert not (tmp_path / "m").exists()
    frame = pd.DataFrame({"x": [0.0, 1.0], "y": [0, 1]})
    with pytest.raises(ValueError, match=r"dropout must be None or a drop probability in \[0, 1\); received 1.5"):
        est.train(frame, label="y", steps=1)
    assert not (tmp_path / "m").exists()
    with pytest.raises(ValueError, match=r"dropout must be None or a drop probability"):
        validate("dnn_classifier", hidden_units=units, feature_columns=[X], dropout=1.5)


def test_get_params_follows_the_signature() -> None:
    config = RunConfig(random_seed=3)
    est = LinearClassifier([X], n_classes=3, config=config)
    params = est.get_params()
    # TF's order (TF 2.15's LinearClassifier), then estlab's keyword-only learning_rate, class_weight
    assert list(params) == ["feature_columns", "model_dir", "n_classes", "weight_column", "label_vocabulary",
                            "optimizer", "config", "warm_start_from", "loss_reduction", "sparse_combiner",
                            "learning_rate", "class_weight"]
    assert params["feature_columns"] == [X] and params["n_classes"] == 3
    assert params["model_dir"] is None and params["config"] is config
    assert est.get_params(deep=False) == params  # no argument has parameters of its own


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_sklearn_clone_gives_an_equal_unfitted_copy(name: str, tmp_path) -> None:
    columns = {"feature_columns": [X], "hidden_units": [4]}
    cls = REGISTRY[name]
    accepted = set(cls._param_names())
    kwargs = {k: v for k, v in columns.items() if k in accepted}
    if "dnn_feature_columns" in accepted:
        kwargs["dnn_feature_columns"] = [X]
    est = cls(model_dir=str(tmp_path), **kwargs)
    copy = clone(est)
    assert type(copy) is cls and copy is not est
    assert copy.get_params() == est.get_params()
    assert copy.model_dir == est.model_dir


def test_set_params_sets_by_name_and_suggests_names(tmp_path) -> None:
    est = DNNLinearCombinedRegressor(dnn_feature_columns=[X], model_dir=str(tmp_path / "a"))
    assert est.set_params(dnn_hidden_units=[2], dnn_dropout=0.1) is est
    assert est.dnn_hidden_units == [2] and est.dnn_dropout == 0.1
    est.set_params(model_dir=str(tmp_path / "b"))
    assert est.model_dir == str(tmp_path / "b") and est.get_params()["model_dir"] == str(tmp_path / "b")
    with pytest.raises(ValueError, match=r"DNNLinearCombinedRegressor has no parameter 'dnn_hiden_units'.*"
                                         r"Did you mean 'dnn_hidden_units'"):
        est.set_params(dnn_hiden_units=[3])
    with pytest.raises(ValueError, match=r"dnn_hidden_units must be a list of positive ints"):
        est.set_params(dnn_hidden_units=[0])._check()
