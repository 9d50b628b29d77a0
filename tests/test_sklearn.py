"""estlab.sklearn wrappers and FeatureTransformer's scikit-learn API: clone, pickle, GridSearchCV, Pipeline."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

from estlab.features import FeatureTransformer, categorical_column_with_vocabulary_list, numeric_column  # noqa: E402
from estlab.sklearn import EstlabClassifier, EstlabRegressor  # noqa: E402


@pytest.fixture
def tiny():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    return X, y


def test_classifier_fits_predicts_and_scores(tiny, tmp_path):
    X, y = tiny
    clf = EstlabClassifier("linear", num_epochs=10, batch_size=16, model_dir=str(tmp_path)).fit(X, y)
    assert clf.classes_.tolist() == ["no", "yes"] and clf.n_features_in_ == 3
    proba = clf.predict_proba(X)
    assert proba.shape == (80, 2) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert set(clf.predict(X)) <= {"no", "yes"}
    assert clf.score(X, y) > 0.85


def test_clone_and_pickle_reload_from_the_model_dir(tiny, tmp_path):
    X, y = tiny
    clf = EstlabClassifier("linear", num_epochs=5, batch_size=16, model_dir=str(tmp_path)).fit(X, y)
    assert clone(clf).get_params() == clf.get_params()
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(again.predict_proba(X), clf.predict_proba(X), rtol=1e-6)


def test_grid_search_over_a_dnn_wrapper(tiny, tmp_path):
    X, y = tiny
    search = GridSearchCV(EstlabClassifier("dnn", hidden_units=(8,), num_epochs=5, batch_size=16,
                                           model_dir=str(tmp_path)),
                          {"learning_rate": [0.001, 0.05]}, cv=2).fit(X, y)
    assert search.best_params_["learning_rate"] in (0.001, 0.05)
    assert search.best_score_ > 0.6


def test_regressor_cross_val_score_on_a_dataframe(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=60), "colour": rng.choice(["red", "blue"], size=60)})
    target = 3 * frame["a"] + (frame["colour"] == "red")
    scores = cross_val_score(EstlabRegressor("linear", num_epochs=20, batch_size=16, model_dir=str(tmp_path)),
                             frame, target, cv=2)
    assert scores.min() > 0.5


def test_unfitted_wrapper_raises_not_fitted(tiny):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        EstlabClassifier().predict(tiny[0])


def test_feature_transformer_in_a_pipeline():
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "c": ["a", "b", "a", "b"]})
    columns = [numeric_column("x", normalizer="zscore"),
               categorical_column_with_vocabulary_list("c", ["a", "b"])]
    ft = FeatureTransformer(columns).set_output(transform="pandas")
    out = ft.fit(frame, [0, 1, 0, 1]).transform(frame.set_axis(list("pqrs")))
    assert list(out.columns) == ft.get_feature_names_out().tolist() == ["x", "c"]
    assert out.index.tolist() == list("pqrs") and out["c"].tolist() == [0, 1, 0, 1]
    pipe = Pipeline([("columns", FeatureTransformer(columns).set_output(transform="default")),
                     ("tree", DecisionTreeClassifier(random_state=0))])
    assert pipe.fit(frame, [0, 1, 0, 1]).score(frame, [0, 1, 0, 1]) == 1.0
    assert clone(ft).get_params()["feature_columns"] == columns
    assert isinstance(FeatureTransformer(columns).fit(frame).transform(frame), dict)  # default: tensors


@pytest.mark.slow
def test_sklearn_estimator_checks(tmp_path):
    """sklearn.utils.estimator_checks on both wrappers; check_array_api_input is skipped by sklearn itself."""
    from sklearn.utils.estimator_checks import check_estimator

    for est in (EstlabClassifier("linear", num_epochs=20, batch_size=16, model_dir=str(tmp_path)),
                EstlabRegressor("linear", num_epochs=20, batch_size=16, model_dir=str(tmp_path))):
        results = check_estimator(est, on_fail=None)
        failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
        assert not failed, failed
