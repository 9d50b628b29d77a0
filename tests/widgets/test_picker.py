"""EstimatorPicker: forms generated from the registry, the estimator's own validation, a comparison queue."""

from __future__ import annotations

import ipywidgets as widgets
import pytest

from estlab import feature_column as fc
from estlab.widgets.picker import LAB_MANAGED, EstimatorPicker, parse_text

COLUMNS = [fc.numeric_column("x")]


@pytest.fixture
def picker():
    return EstimatorPicker("classification", validation_kwargs=lambda name: {
        "feature_columns": COLUMNS, "linear_feature_columns": COLUMNS, "dnn_feature_columns": COLUMNS})


def test_offers_the_registry_estimators_of_the_task(picker):
    from estlab.estimators import registry

    assert [v for _, v in picker.choice.options] == [i.name for i in registry.list_premade("classification")]
    assert picker.choice.value == "dnn_classifier"
    picker.set_task("regression")
    assert picker.choice.value == "dnn_regressor"
    assert all(name.endswith("regressor") for _, name in picker.choice.options)


def test_form_is_generated_from_the_parameters_with_defaults(picker):
    from estlab.estimators import registry

    expected = [p.name for p in registry.info("dnn_classifier").parameters if p.name not in LAB_MANAGED]
    assert list(picker._fields) == expected
    fields = picker._fields
    assert isinstance(fields["optimizer"], widgets.Dropdown) and fields["optimizer"].value == "Adam"
    assert isinstance(fields["batch_norm"], widgets.Checkbox) and fields["batch_norm"].value is False
    assert fields["hidden_units"].value == "64, 32"  # suggested for a required argument
    assert fields["learning_rate"].placeholder == "None (default)"
    picker.select("boosted_trees_classifier")
    assert isinstance(picker._fields["n_trees"], widgets.IntText) and picker._fields["n_trees"].value == 200
    assert picker._fields["n_trees"].tooltip.startswith("Number of boosting rounds")


def test_invalid_values_are_rejected_with_the_estimators_message(picker):
    picker.set_value("dropout", "1.5")
    picker.add_button.click()
    assert picker.queue == []
    assert "dnn_classifier: dropout must be None or a drop probability in [0, 1); received 1.5." in picker.error.value
    picker.select("boosted_trees_classifier")
    picker.set_value("n_trees", 0)
    assert picker.add() is False
    assert "n_trees" in picker.error.value


def test_queue_several_estimators_as_one_comparison(picker):
    picker.set_value("hidden_units", "16, 8")
    picker.set_value("dropout", "0.2")
    assert picker.add()
    picker.select("linear_classifier")
    assert picker.add()
    picker.select("boosted_trees_classifier")
    picker.set_value("n_trees", 20)
    assert picker.add()
    assert picker.queue == [("dnn_classifier", {"hidden_units": [16, 8], "dropout": 0.2}),
                            ("linear_classifier", {}), ("boosted_trees_classifier", {"n_trees": 20})]
    assert "3 runs: 2 × 1,000 steps (evaluated every 200), 1 one-step fit" in picker.plan_text.value
    assert picker.plan == "3 runs: 2 × 1,000 steps (evaluated every 200), 1 one-step fit"  # plain text to print
    assert "<" not in picker.plan and "color:#555" not in picker.plan_text.value + picker.summary.value
    set_button = picker.sweep_set_button.layout
    assert set_button.width == "auto" and set_button.flex == "0 0 auto"  # "Set" is never cut to "S…"
    assert picker.add() is False and "already in the comparison" in picker.error.value
    picker.queue_list.value = 1
    picker.remove_button.click()
    assert [name for name, _ in picker.queue] == ["dnn_classifier", "boosted_trees_classifier"]
    picker.clear_button.click()
    assert picker.queue == [] and picker.queue_list.options == ()


def test_parse_text():
    assert parse_text("", "Sequence[int]") is None
    assert parse_text("[32, 16]", "Sequence[int]") == [32, 16]
    assert parse_text("true") is True and parse_text("1e-3") == 0.001 and parse_text("7") == 7
    with pytest.raises(ValueError, match="name: 'nope' is not a classification premade estimator"):
        EstimatorPicker("classification").select("nope")


def test_sweep_from_the_form_builds_a_grid_over_the_chosen_values(picker):
    picker.set_value("dropout", "0.1")
    picker.sweep_param.value = "learning_rate"
    picker.sweep_values.value = "0.01 | 0.1 | 0.3"
    picker.sweep_set_button.click()
    picker.sweep_param.value = "hidden_units"
    picker.sweep_values.value = "8 | 16, 8"
    picker.sweep_set_button.click()
    assert picker.sweep_text.value == "grid: learning_rate × 3, hidden_units × 2 = 6 runs"
    assert not picker.sweep_button.disabled
    picker.sweep_button.click()
    assert picker.queue == [("dnn_classifier", {"hidden_units": h, "dropout": 0.1, "learning_rate": lr})
                            for lr in (0.01, 0.1, 0.3) for h in ([8], [16, 8])]
    assert picker.sweep == {} and picker.sweep_button.disabled and picker.error.value == ""
    assert "6 runs: 6 × 1,000 steps" in picker.plan_text.value


def test_a_sweep_with_an_invalid_value_adds_nothing_and_says_which(picker):
    picker.set_sweep("dropout", [0.1, 1.5])
    assert picker.add_sweep() is False
    assert picker.queue == []
    assert picker.last_error.startswith("dnn_classifier sweep: trial {'hidden_units': [64, 32], 'dropout': 1.5} is "
                                        "invalid: ")
    picker.sweep_param.value = "dropout"
    picker.sweep_values.value = " | "
    picker.sweep_set_button.click()
    assert "values: write at least one value" in picker.error.value
    with pytest.raises(ValueError, match="param: dnn_classifier has no form field 'dropuot'"):
        picker.set_sweep("dropuot", [0.1])
