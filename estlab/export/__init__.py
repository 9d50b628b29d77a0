"""Export for serving: write a self-contained export, load it without the training code, serve it.

Examples
--------
>>> from estlab import export
>>> path = estimator.export_saved_model("model_dir/export")  # doctest: +SKIP
>>> export.load(path).predict(test_frame.head(2))  # doctest: +SKIP
"""

from estlab.export.estimator_export import export_saved_model
from estlab.export.heads import HeadSpec
from estlab.export.inputs import InvalidInputError
from estlab.export.layout import list_versions, resolve_export_dir
from estlab.export.loader import ExportedModel, load
from estlab.export.spec import ServingInputReceiver, TensorSpec, build_raw_serving_input_receiver_fn
from estlab.export.writer import write_export

__all__ = [
    "ExportedModel",
    "HeadSpec",
    "InvalidInputError",
    "ServingInputReceiver",
    "TensorSpec",
    "build_raw_serving_input_receiver_fn",
    "export_saved_model",
    "list_versions",
    "load",
    "resolve_export_dir",
    "write_export",
]
