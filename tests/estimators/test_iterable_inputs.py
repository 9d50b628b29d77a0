"""Input functions in every form TF users have (issue 10, item 3): generators and iterables of batches,
torch ``DataLoader`` / ``IterableDataset``, features-only prediction input, CSV chunks; trained batch by batch,
resumed from checkpoints, with exact step counts and weights equal to the in-memory equivalent."""

from __future__ import annotations

import logging
import weakref

import numpy as np
import pandas as pd
import pytest
import torch

from estlab.estimators.custom import ModelSpec
from estlab.estimators.estimator import Estimator
from estlab.estimators.heads import make_head
from estlab.inputs import numpy_input_fn, pandas_input_fn
from estlab.inputs.batched import iterable_input_fn
from estlab.training.config import RunConfig
from estlab.training.events import Listener

N_ROWS, BATCH = 64, 10  # 7 batches per pass: 6 of 10 rows and one of 4


@pytest.fixture
def data(binary_frame):
    """``(features frame, labels array)`` of the 64-row separable problem."""
    return binary_frame[["a", "b"]], binary_frame["y"].to_numpy()


def batches_of(features, labels, batch_size=BATCH, log=None):
    """TF's ``from_tensor_slices((dict(df), y)).batch(batch_size)`` as a generator; ``log`` records batch numbers."""
    for number, start in enumerate(range(0, len(features), batch_size)):
        if log is not None:
            log.append(number)
        rows = slice(start, start + batch_size)
        yield {k: features[k].to_numpy()[rows] for k in features.columns}, labels[rows]


def weights(est):
    return est.get_variable_value("linear.weight"), est.get_variable_value("linear.bias")


def assert_same_weights(left, right):
    for a, b in zip(weights(left), weights(right)):
        np.testing.assert_array_equal(a, b)


def in_memory(features, labels, num_epochs=1, batch_size=BATCH):
    return pandas_input_fn(features, pd.Series(labels), batch_size=batch_size, num_epochs=num_epochs, shuffle=False)


class StepCounter(Listener):
    """Records, at each step, the value ``probe()`` returns."""

    def __init__(self, probe):
        super().__init__()
        self.probe, self.seen = probe, []

    def on_step_end(self, event):
        self.seen.append(self.probe())


# ------------------------------------------------------------------ generators: steps and weights as TF


def test_generator_input_fn_trains_tf_steps_and_in_memory_weights(make_estimator, tmp_path, data):
    features, labels = data
    est = make_estimator(tmp_path / "gen").train(lambda: batches_of(features, labels))
    reference = make_estimator(tmp_path / "mem").train(in_memory(features, labels))
    assert est.global_step == reference.global_step == 7  # one pass of 7 batches, as TF's input_fn
    assert est.last_run.reason == "input exhausted"
    assert_same_weights(est, reference)


def test_steps_caps_and_the_end_of_the_iterable_ends_the_call(make_estimator, tmp_path, data):
    features, labels = data
    assert make_estimator(tmp_path / "a").train(lambda: batches_of(features, labels), steps=3).global_step == 3
    capped = make_estimator(tmp_path / "b").train(lambda: batches_of(features, labels), steps=100)
    assert capped.global_step == 7 and capped.last_run.reason == "input exhausted"


def test_num_epochs_calls_the_input_fn_again_for_each_epoch(make_estimator, tmp_path, data):
    features, labels = data
    calls = []

    def input_fn():
        calls.append(len(calls))
        return batches_of(features, labels)

    est = make_estimator(tmp_path / "gen").train(input_fn, num_epochs=2)
    reference = make_estimator(tmp_path / "mem").train(in_memory(features, labels, num_epochs=2))
    assert est.global_step == 14 and calls == [0, 1]
    assert_same_weights(est, reference)


def test_a_generator_object_is_read_once(make_estimator, tmp_path, data):
    features, labels = data
    generator = batches_of(features, labels)
    est = make_estimator(tmp_path / "g").train(generator, steps=3)
    est.train(generator, steps=100)  # the same generator continues where it was: batches 3..6
    reference = make_estimator(tmp_path / "mem").train(in_memory(features, labels))
    assert est.global_step == 7
    assert_same_weights(est, reference)
    with pytest.raises(ValueError, match=r"yielded no batches \(a generator can be consumed only once"):
        est.train(generator)


def test_batches_of_torch_tensors_train_as_numpy(make_estimator, tmp_path, data):
    features, labels = data

    def tensors():
        for f, y in batches_of(features, labels):
            yield {k: torch.tensor(v) for k, v in f.items()}, torch.tensor(y)

    est = make_estimator(tmp_path / "t").train(tensors)
    assert_same_weights(est, make_estimator(tmp_path / "mem").train(in_memory(features, labels)))


# ------------------------------------------------------------------ torch DataLoader / IterableDataset


def vector_model_fn(params):
    """Logistic regression on one (N, 2) tensor ``x`` (a TensorDataset's features)."""
    return ModelSpec(module=torch.nn.Linear(2, 1), head=make_head(2), input_names=("x",), optimizer="SGD",
                     learning_rate=0.5)


def test_dataloader_of_a_tensor_dataset_trains_and_evaluates(tmp_path, data):
    features, labels = data
    x = torch.tensor(features.to_numpy())
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, torch.tensor(labels)), batch_size=16)
    config = RunConfig(save_checkpoints_steps=5, random_seed=0)
    est = Estimator(vector_model_fn, model_dir=str(tmp_path / "loader"), config=config).train(loader)
    array = features.to_numpy()
    reference = Estimator(vector_model_fn, model_dir=str(tmp_path / "mem"), config=config).train(
        numpy_input_fn(array, labels, batch_size=16, num_epochs=1, shuffle=False))
    assert est.global_step == reference.global_step == 4
    np.testing.assert_array_equal(est.get_variable_value("weight"), reference.get_variable_value("weight"))
    metrics = est.evaluate(loader)
    # logits of batches of 16 against one batch of 64: equal up to the float32 matmul's summation order
    assert metrics == pytest.approx(reference.evaluate(numpy_input_fn(array, labels, shuffle=False)), rel=1e-6)
    assert metrics["global_step"] == 4
    assert est.evaluate(loader, steps=2)["label/mean"] == pytest.approx(labels[:32].mean(), abs=1e-7)


class DictDataset(torch.utils.data.Dataset):
    """Map-style: one ``({"a", "b"}, y)`` example per index (what TF users build from a frame)."""

    def __init__(self, features, labels):
        self.features, self.labels = features, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"a": self.features["a"].iloc[i], "b": self.features["b"].iloc[i]}, self.labels[i]


def test_dataloader_of_a_dict_dataset_trains_evaluates_and_resumes(make_estimator, tmp_path, data):
    features, labels = data
    loader = torch.utils.data.DataLoader(DictDataset(features, labels), batch_size=BATCH)
    est = make_estimator(tmp_path / "loader").train(loader, steps=4)
    est = make_estimator(tmp_path / "loader").train(loader)  # a new estimator resumes at batch 4 of 7
    reference = make_estimator(tmp_path / "mem").train(in_memory(features, labels))
    assert est.global_step == 7
    for a, b in zip(weights(est), weights(reference)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)  # the collated float64 batches are cast to float32
    assert est.evaluate(loader)["accuracy"] == pytest.approx(reference.evaluate(features.assign(y=labels),
                                                                                label="y")["accuracy"], abs=0)


class Endless(torch.utils.data.IterableDataset):
    """An IterableDataset yielding batches forever (TF's ``dataset.repeat()``)."""

    def __init__(self, features, labels):
        self.features, self.labels = features, labels

    def __iter__(self):
        while True:
            yield from batches_of(self.features, self.labels)


def test_an_iterable_dataset_trains_with_steps(make_estimator, tmp_path, data):
    features, labels = data
    est = make_estimator(tmp_path / "it").train(Endless(features, labels), steps=9)
    assert est.global_step == 9 and est.last_run.reason == "reached the target step"
    reference = make_estimator(tmp_path / "mem").train(in_memory(features, labels, num_epochs=None), steps=9)
    assert_same_weights(est, reference)


# ------------------------------------------------------------------ prediction on features only


def test_predict_on_a_features_only_generator_yields_one_prediction_per_row_in_order(make_estimator, tmp_path,
                                                                                    data):
    features, labels = data
    est = make_estimator(tmp_path / "p").train(in_memory(features, labels))

    def features_only():
        for f, _ in batches_of(features, labels):
            yield f

    expected = [p["logits"][0] for p in est.predict(features)]
    from_function = [p["logits"][0] for p in est.predict(features_only)]
    from_generator = [p["logits"][0] for p in est.predict(features_only())]
    assert len(from_function) == len(from_generator) == N_ROWS
    assert from_function == from_generator == expected
    per_batch = list(est.predict(features_only, yield_single_examples=False))  # TF: one dict per input batch
    assert [len(p["logits"]) for p in per_batch] == [10, 10, 10, 10, 10, 10, 4]
    frames = (features.iloc[s:s + BATCH] for s in range(0, N_ROWS, BATCH))  # frames with no labels
    assert [p["logits"][0] for p in est.predict(frames)] == expected


def test_input_fn_returning_features_only_predicts(make_estimator, tmp_path, data):
    features, labels = data
    est = make_estimator(tmp_path / "p").train(in_memory(features, labels))
    assert len(list(est.predict(lambda: dict(features)))) == N_ROWS
    assert len(list(est.predict(lambda: features))) == N_ROWS


# ------------------------------------------------------------------ resuming the input position


def test_resuming_a_recallable_input_fn_continues_from_the_next_batch(make_estimator, tmp_path, data):
    features, labels = data
    log: list[int] = []
    first = make_estimator(tmp_path / "resumed").train(lambda: batches_of(features, labels, log=log), steps=3)
    assert first.global_step == 3 and log == [0, 1, 2]  # nothing read ahead of the last step
    log.clear()
    resumed = make_estimator(tmp_path / "resumed").train(lambda: batches_of(features, labels, log=log), steps=3)
    assert log == [0, 1, 2, 3, 4, 5]  # replayed 0..2 untrained, trained on 3..5
    uninterrupted = make_estimator(tmp_path / "once").train(lambda: batches_of(features, labels), steps=6)
    assert resumed.global_step == uninterrupted.global_step == 6
    assert_same_weights(resumed, uninterrupted)


def test_resume_crosses_epochs_and_restarts_a_used_up_input(make_estimator, tmp_path, data):
    features, labels = data

    def input_fn():
        return batches_of(features, labels)

    split = make_estimator(tmp_path / "split").train(input_fn, steps=5, num_epochs=2)
    split = make_estimator(tmp_path / "split").train(input_fn, steps=5, num_epochs=2)  # 5, 6, then epoch 2's 0..2
    whole = make_estimator(tmp_path / "whole").train(input_fn, steps=10, num_epochs=2)
    assert split.global_step == whole.global_step == 10
    assert_same_weights(split, whole)
    # stopped exactly at the end of the input: the next call starts it again (as an exhausted IndexBatcher does)
    ended = make_estimator(tmp_path / "ended").train(input_fn, steps=7)
    ended = make_estimator(tmp_path / "ended").train(input_fn, steps=2)
    assert_same_weights(ended, make_estimator(tmp_path / "nine").train(input_fn, steps=9, num_epochs=2))


def test_a_different_input_starts_from_its_beginning(make_estimator, tmp_path, data):
    features, labels = data

    def first_input():
        return batches_of(features, labels)

    est = make_estimator(tmp_path / "m").train(first_input, steps=3)
    log: list[int] = []
    est.train(lambda: batches_of(features, labels, log=log), steps=1)  # saved position: first_input's 3
    assert log == [0]


# ------------------------------------------------------------------ bounded materialisation


def test_only_the_first_batch_is_read_before_the_first_step(make_estimator, tmp_path, data):
    features, labels = data
    pulled, alive = [0], [0]  # batches read; batches still in memory (their arrays not yet freed)

    class Tracked(np.ndarray):
        pass

    def freed():
        alive[0] -= 1

    def endless():
        while True:
            for f, y in batches_of(features, labels):
                pulled[0] += 1
                alive[0] += 1
                tracked = f["a"].view(Tracked)
                weakref.finalize(tracked, freed)
                yield {"a": tracked, "b": f["b"]}, y
                del tracked

    counter = StepCounter(lambda: (pulled[0], alive[0]))
    make_estimator(tmp_path / "b").train(endless, steps=20, hooks=[counter])
    assert counter.seen[0] == (1, 1)  # one batch read before the first step
    assert counter.seen == [(step, 1) for step in range(1, 21)]  # one read per step, and only it held


def test_learned_columns_fit_on_the_first_fit_rows_then_train_on_them(tmp_path, data, caplog):
    from estlab.estimators.linear import LinearClassifier
    from estlab.features import numeric_column

    features, labels = data
    pulled = [0]

    def endless():
        while True:
            for batch in batches_of(features, labels):
                pulled[0] += 1
                yield batch

    est = LinearClassifier(feature_columns=[numeric_column("a", normalizer="zscore"), numeric_column("b")],
                           model_dir=str(tmp_path / "lin"), config=RunConfig(random_seed=0))
    counter = StepCounter(lambda: pulled[0])
    with caplog.at_level(logging.WARNING, logger="estlab.inputs.batched"):
        est.train(iterable_input_fn(endless, fit_rows=20), steps=5, hooks=[counter])
    # fitted on batches 0 and 1 (20 rows), one more read to know the input goes on; nothing else before step 1
    assert counter.seen == [3, 3, 3, 4, 5]
    assert "learned their state (vocabularies, moments, quantiles) from the first 20 rows" in caplog.text
    state = est.serving_model().transformer.state_["numeric"]
    key = next(k for k in state if "a" in k)
    assert state[key]["mean"] == [pytest.approx(float(features["a"].to_numpy()[:20].astype(np.float64).mean()),
                                                rel=1e-6)]


def test_columns_fitted_on_a_whole_small_generator_match_the_in_memory_model(tmp_path, data):
    from estlab.estimators.linear import LinearClassifier
    from estlab.features import numeric_column

    features, labels = data

    def make(name):
        return LinearClassifier(feature_columns=[numeric_column("a", normalizer="zscore"), numeric_column("b")],
                                model_dir=str(tmp_path / name), config=RunConfig(random_seed=0))

    def tensors():  # torch tensors through the feature-column path
        for f, y in batches_of(features, labels):
            yield {k: torch.tensor(v) for k, v in f.items()}, torch.tensor(y)

    est = make("gen").train(tensors)
    reference = make("mem").train(in_memory(features, labels))
    assert est.global_step == reference.global_step == 7
    for name in est.get_variable_names():
        np.testing.assert_allclose(est.get_variable_value(name), reference.get_variable_value(name), rtol=0,
                                   atol=1e-6)


# ------------------------------------------------------------------ CSV (tf.data.experimental.make_csv_dataset)


def test_csv_chunks_with_label_train_and_evaluate_as_the_frame(make_estimator, tmp_path, binary_frame):
    path = tmp_path / "train.csv"
    binary_frame.to_csv(path, index=False)
    est = make_estimator(tmp_path / "csv").train(lambda: pd.read_csv(path, chunksize=BATCH), label="y")
    frame = pd.read_csv(path)
    reference = make_estimator(tmp_path / "mem").train(
        pandas_input_fn(frame[["a", "b"]], frame["y"], batch_size=BATCH, num_epochs=1, shuffle=False))
    assert est.global_step == 7
    assert_same_weights(est, reference)
    assert est.evaluate(lambda: pd.read_csv(path, chunksize=BATCH)) == reference.evaluate(frame, label="y")


# ------------------------------------------------------------------ full-batch learners


def test_a_full_batch_learner_reads_one_pass_of_a_generator(tmp_path, data):
    from estlab.estimators.baseline import BaselineRegressor

    features, labels = data
    est = BaselineRegressor(model_dir=str(tmp_path / "base")).train(lambda: batches_of(features, labels))
    prediction = next(est.predict(features))["predictions"][0]
    assert prediction == pytest.approx(labels.mean(), abs=1e-6)


# ------------------------------------------------------------------ the migration guide's tf.data rewrites


def test_the_guides_rewrites_of_from_tensor_slices_shuffle_repeat_batch(make_estimator, tmp_path, binary_frame):
    df, y = binary_frame[["a", "b"]], binary_frame["y"]
    n = 3

    def train_input_fn():  # from_tensor_slices((dict(df), y)).shuffle(1000).repeat(n).batch(32), as a generator
        rng = np.random.default_rng(0)
        for _ in range(n):
            order = rng.permutation(len(df))
            for start in range(0, len(df), 32):
                rows = order[start:start + 32]
                yield df.iloc[rows], y.iloc[rows]

    generator = make_estimator(tmp_path / "gen").train(train_input_fn)
    in_memory_fn = pandas_input_fn(df, y, batch_size=32, num_epochs=n, shuffle=True)
    memory = make_estimator(tmp_path / "mem").train(in_memory_fn)
    assert generator.global_step == memory.global_step == 6  # 3 epochs of 2 batches, as TF
    assert generator.evaluate(df.assign(y=y), label="y")["accuracy"] == 60 / 64  # seeded: the same every run


# ------------------------------------------------------------------ TF's input_fn(mode, params, config)


def test_an_input_fn_naming_mode_gets_tf_mode_strings(make_estimator, tmp_path, data):
    features, labels = data
    modes = []

    def input_fn(mode, params):
        modes.append((mode, params))
        return batches_of(features, labels) if mode != "infer" else (f for f, _ in batches_of(features, labels))

    est = make_estimator(tmp_path / "m").train(input_fn)
    est.evaluate(input_fn)
    assert len(list(est.predict(input_fn))) == N_ROWS
    assert modes == [("train", {}), ("eval", {}), ("infer", {})]
    with pytest.raises(TypeError, match=r"input_fn 'needs' takes argument\(s\) \['batch_size'\], which the "
                                        r"Estimator does not pass .*lambda: input_fn\(batch_size=32\)"):

        def needs(batch_size):
            return batches_of(features, labels, batch_size)

        est.train(needs)
