"""Notebook display: estimators and feature columns render an escaped HTML table of their parameters / spec."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from estlab._html_repr import column_html, html_table, value_text

ROOT = Path(__file__).resolve().parents[1]


def test_table_escapes_names_values_and_notes():
    out = html_table("<T>", [("a<b", "<script>"), ("n", 3)], note="x & y")
    assert "<script>" not in out and "&lt;script&gt;" in out and "a&lt;b" in out and "x &amp; y" in out
    assert out.count("<tr>") == 2 and "<code>3</code>" in out
    assert value_text("x" * 500).endswith("...") and len(value_text("x" * 500)) == 200


def test_feature_column_shows_its_fields_and_source():
    from estlab.features import categorical_column_with_vocabulary_list, embedding_column, numeric_column

    out = numeric_column("age", normalizer="zscore")._repr_html_()
    assert "<b>NumericColumn age (numeric)</b>" in out
    assert '<th style="text-align:left">normalizer</th><td style="text-align:left"><code>&#x27;zscore&#x27;</code>' in out
    assert "source: fc.numeric_column(&#x27;age&#x27;, normalizer=&#x27;zscore&#x27;)" in out
    emb = embedding_column(categorical_column_with_vocabulary_list("c", ["<a>", "b"]), 4)._repr_html_()
    assert "<code>4</code>" in emb and "&lt;a&gt;" in emb and "<a>" not in emb
    # a lambda has no source: the table is still shown, without the source line
    assert "source:" not in numeric_column("x", normalizer_fn=lambda v: v)._repr_html_()
    assert column_html(numeric_column("x")).startswith('<div class="estlab-repr">')


def test_estimator_shows_its_parameters_without_making_a_model_dir(tmp_path, binary_frame):
    from estimator_testing import linear_model_fn

    from estlab.estimators import DNNClassifier
    from estlab.estimators.estimator import Estimator
    from estlab.features import numeric_column

    est = DNNClassifier(hidden_units=[8, 4], feature_columns=[numeric_column("a"), numeric_column("b")])
    out = est._repr_html_()
    assert "<b>DNNClassifier</b>" in out and "<code>[8, 4]</code>" in out and est._model_dir is None
    assert '<th style="text-align:left">model_dir</th><td style="text-align:left"><code>None</code>' in out
    custom = Estimator(linear_model_fn, model_dir=str(tmp_path / "m"), params={"learning_rate": 0.5})
    assert "estimator_testing.linear_model_fn" in custom._repr_html_() and "trained" not in custom._repr_html_()
    custom.train(binary_frame, label="y", steps=2)
    assert "<div>trained to global step 2</div>" in custom._repr_html_()


def test_column_html_needs_no_torch():
    code = ("import sys; sys.modules['torch'] = None; from estlab.features import numeric_column; "
            "print(numeric_column('age')._repr_html_()[:60])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith('<div class="estlab-repr"><b>NumericColumn age')
