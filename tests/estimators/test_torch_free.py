"""The registry's parameter info, metric directions and choices import without torch; the static reading
matches the live classes."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap

import pytest

from estlab.estimators import REGISTRY, info
from estlab.estimators.registry import REQUIRED

PROBE = textwrap.dedent(
    """
    import json, sys
    sys.modules["torch"] = None  # any import of torch now fails
    from estlab.estimators import registry
    from estlab.training.metric_info import higher_is_better, preferred_metrics
    premades = registry.list_premade()
    dnn = {p.name: p for p in registry.info("dnn_classifier").parameters}
    print(json.dumps({
        "names": [i.name for i in premades],
        "classes": [i.class_name for i in premades],
        "optimizer_choices": dnn["optimizer"].choices[:2],
        "auc": higher_is_better("auc"),
        "regression": list(preferred_metrics("regression")),
        "torch_like": sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "sklearn", "lightgbm")),
    }))
    """
)


def test_registry_and_metric_info_import_with_torch_blocked() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["names"] == sorted(REGISTRY)
    assert result["classes"][:2] == ["BaselineClassifier", "BaselineRegressor"]
    assert result["optimizer_choices"] == ["Adam", "AdamW"]
    assert result["auc"] is True and result["regression"] == ["rmse", "mae", "average_loss"]
    assert result["torch_like"] == ["torch"]  # only the blocking entry itself


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_static_info_matches_the_live_class(name: str) -> None:
    premade, cls = info(name), REGISTRY[name]
    assert premade.cls is cls and premade.class_name == cls.__name__
    assert (premade.task, premade.summary) == (cls.task, cls.summary)
    signature = {n: p for n, p in inspect.signature(cls.__init__).parameters.items() if n != "self"}
    assert [p.name for p in premade.parameters] == list(signature)
    for param in premade.parameters:
        live = signature[param.name]
        default = REQUIRED if live.default is inspect.Parameter.empty else live.default
        assert param.default == (list(default) if isinstance(default, tuple) else default)
        assert param.annotation == live.annotation
