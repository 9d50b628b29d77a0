"""``embedding_column(..., ckpt_to_load_from, tensor_name_in_ckpt)``: a new model's table from an estlab checkpoint.

Read with the safe checkpoint loader when an estimator builds the model (a model_dir: its newest checkpoint;
or one file); a model restored from its own checkpoint keeps its trained table; a wrong name or shape is refused
naming the checkpoint's variables.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from estlab import feature_column as fc
from estlab.estimators import DNNClassifier, Estimator
from estlab.estimators.embedding_checkpoints import EmbeddingCheckpointError, load_checkpoint_tables
from estlab.features import FeatureColumnError, FeatureTransformer
from estlab.features.serialize import column_from_dict, column_to_dict
from estlab.training.config import RunConfig

TABLE = "features.embedding_weights.color_embedding"
COLOR = fc.categorical_column_with_vocabulary_list("color", ["red", "green", "blue"])


@pytest.fixture
def frame() -> pd.DataFrame:
    colors = np.array(["red", "green", "blue", "red"] * 8)
    return pd.DataFrame(
        {"color": colors, "x": np.linspace(-1, 1, 32, dtype="float32"), "y": (colors == "red").astype(int)}
    )


@pytest.fixture
def source(frame, tmp_path) -> DNNClassifier:
    """A trained DNNClassifier whose checkpoint holds a 3 x 4 table ``TABLE``."""
    est = DNNClassifier(
        [4],
        [fc.embedding_column(COLOR, 4), fc.numeric_column("x")],
        model_dir=str(tmp_path / "source"),
        config=RunConfig(random_seed=0),
    )
    return est.train(frame, label="y", steps=3)


def _frozen(path, name=TABLE, dimension=4) -> list:
    """Columns reading the table from ``path`` and keeping it (trainable=False), so it can be compared after training."""
    return [
        fc.embedding_column(
            COLOR, dimension, ckpt_to_load_from=path, tensor_name_in_ckpt=name, trainable=False
        ),
        fc.numeric_column("x"),
    ]


def test_a_new_model_starts_from_the_checkpoints_table(source, frame, tmp_path):
    table = source.get_variable_value(TABLE)
    assert table.shape == (3, 4)
    for i, path in enumerate([source.model_dir, source.latest_checkpoint()]):  # a model_dir or one file
        est = DNNClassifier(
            [4], _frozen(path), model_dir=str(tmp_path / f"new{i}"), config=RunConfig(random_seed=1)
        )
        est.train(frame, label="y", steps=2)
        np.testing.assert_array_equal(est.get_variable_value(TABLE), table)


def test_a_trainable_table_starts_there(source, frame, tmp_path):
    column = fc.embedding_column(COLOR, 4, ckpt_to_load_from=source.model_dir, tensor_name_in_ckpt=TABLE)
    assert column.trainable
    # a step of 1e-30 leaves float32 values of this size as they are: the table read is the one checkpointed
    est = DNNClassifier(
        [4],
        [column, fc.numeric_column("x")],
        model_dir=str(tmp_path / "t"),
        optimizer="SGD",
        learning_rate=1e-30,
        config=RunConfig(random_seed=1),
    ).train(frame, label="y", steps=1)
    np.testing.assert_array_equal(est.get_variable_value(TABLE), source.get_variable_value(TABLE))


def test_a_restored_model_keeps_its_own_table_and_needs_no_source(source, frame, tmp_path):
    est = DNNClassifier(
        [4],
        _frozen(source.model_dir)[:1] + [fc.numeric_column("x")],
        model_dir=str(tmp_path / "own"),
        config=RunConfig(random_seed=1),
    )
    est.train(frame, label="y", steps=2)
    own = est.get_variable_value(TABLE)
    shutil.rmtree(source.model_dir)  # the source is gone: restoring reads only the model's own checkpoint
    again = DNNClassifier([4], _frozen(source.model_dir), model_dir=est.model_dir)
    before = again.evaluate(frame, label="y")
    again.train(frame, label="y", steps=1)
    np.testing.assert_array_equal(again.get_variable_value(TABLE), own)
    assert before["global_step"] == 2
    with pytest.raises(EmbeddingCheckpointError, match=r"ckpt_to_load_from='.*source' does not exist"):
        DNNClassifier([4], _frozen(source.model_dir), model_dir=str(tmp_path / "fresh")).train(
            frame, label="y", steps=1
        )


def test_a_wrong_name_or_shape_is_refused_naming_the_variables(source, frame, tmp_path):
    with pytest.raises(
        EmbeddingCheckpointError,
        match=(
            r"embedding column 'color_embedding': tensor_name_in_ckpt='color' is not a variable of checkpoint "
            r"'.*model\.ckpt-3\.pt'; its variables \(name \[shape\]\) are \['features\.embedding_weights\."
            r"color_embedding \[3, 4\]', 'hidden\.0\.bias \[4\]', 'hidden\.0\.weight \[4, 5\]', 'logits\.bias \[1\]', "
            r"'logits\.weight \[1, 4\]'\]"
        ),
    ):
        DNNClassifier([4], _frozen(source.model_dir, name="color"), model_dir=str(tmp_path / "a")).train(
            frame, label="y", steps=1
        )
    with pytest.raises(
        EmbeddingCheckpointError,
        match=(
            r"variable 'features\.embedding_weights\.color_embedding' of checkpoint '.*' has shape \[3, 4\] but the "
            r"table is \[3, 2\] \(num_buckets x dimension\); no variable has shape \[3, 2\]"
        ),
    ):
        DNNClassifier([4], _frozen(source.model_dir, dimension=2), model_dir=str(tmp_path / "b")).train(
            frame, label="y", steps=1
        )
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(
        EmbeddingCheckpointError, match=r"is a directory without checkpoints \(model\.ckpt-<step>\.pt\)"
    ):
        DNNClassifier([4], _frozen(str(empty)), model_dir=str(tmp_path / "c")).train(
            frame, label="y", steps=1
        )


def test_shared_embeddings_read_their_one_table(source, frame, tmp_path):
    other = fc.categorical_column_with_vocabulary_list("other", ["red", "green", "blue"])
    shared = fc.shared_embeddings(
        [COLOR, other],
        4,
        shared_embedding_collection_name="colors",
        ckpt_to_load_from=source.model_dir,
        tensor_name_in_ckpt=TABLE,
        trainable=False,
    )
    est = DNNClassifier([4], shared, model_dir=str(tmp_path / "s"), config=RunConfig(random_seed=1))
    est.train(frame.assign(other=frame["color"][::-1].to_numpy()), label="y", steps=1)
    np.testing.assert_array_equal(
        est.get_variable_value("features.embedding_weights.colors"), source.get_variable_value(TABLE)
    )


def test_a_model_fn_input_layer_reads_it_too(source, frame, tmp_path):
    from estlab.estimators import layers
    from estlab.estimators.tf_model_fn import EstimatorSpec, ModeKeys

    def model_fn(features, labels, mode, params):
        logits = layers.dense(layers.input_layer(features, params["feature_columns"], trainable=False), 1)
        if mode == ModeKeys.PREDICT:
            return EstimatorSpec(mode, predictions=logits)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.float().reshape(-1, 1))
        return EstimatorSpec(mode, loss=loss, train_op="SGD")

    est = Estimator(
        model_fn=model_fn,
        params={"feature_columns": _frozen(source.model_dir)},
        model_dir=str(tmp_path / "fn"),
        config=RunConfig(random_seed=1),
    )
    est.train(frame, label="y", steps=2)
    (table,) = [n for n in est.get_variable_names() if n.endswith("embedding_weights.color_embedding")]
    np.testing.assert_array_equal(est.get_variable_value(table), source.get_variable_value(TABLE))


def test_a_layer_on_its_own_says_how_to_read_the_table(source):
    column = _frozen(source.model_dir)[0]
    layer = fc.DenseFeatures([column], FeatureTransformer([column]))
    with pytest.raises(
        FeatureColumnError,
        match=(
            r"embedding column 'color_embedding' takes its initial table from checkpoint '.*source' \(variable "
            r"'features\.embedding_weights\.color_embedding'\), which has not been read: .*load_checkpoint_tables"
        ),
    ):
        layer({"color": ["red"]})
    assert load_checkpoint_tables(layer) == ["color_embedding"]
    assert layer({"color": ["blue"]}).tolist() == [source.get_variable_value(TABLE)[2].tolist()]
    assert load_checkpoint_tables(layer) == []  # read once


def test_the_checkpoint_arguments_are_stored_only_when_given(tmp_path):
    plain = fc.embedding_column(COLOR, 4)
    assert "ckpt_to_load_from" not in column_to_dict(
        plain
    )  # specs and fingerprints of other columns unchanged
    column = fc.embedding_column(COLOR, 4, ckpt_to_load_from=tmp_path, tensor_name_in_ckpt=TABLE)
    stored = column_to_dict(column)
    assert (stored["ckpt_to_load_from"], stored["tensor_name_in_ckpt"]) == (str(tmp_path), TABLE)
    assert column_from_dict(stored) == column
    assert column.to_source() == (
        "fc.embedding_column(fc.categorical_column_with_vocabulary_list('color', ['red', 'green', 'blue']), "
        f"dimension=4, ckpt_to_load_from={str(tmp_path)!r}, tensor_name_in_ckpt={TABLE!r})"
    )
