"""estlab's warning classes, so users can filter them by category (``warnings.filterwarnings``).

Every class is a ``UserWarning`` through :class:`EstlabWarning`, so code that filtered ``UserWarning`` before
keeps working; :class:`CheckpointWarning` is also a ``RuntimeWarning`` (what estlab 0.1 issued for it). Every
``warnings.warn`` in estlab uses one of these classes (``tests/test_warnings.py`` checks the source).

This module imports nothing (``estlab._util`` takes :class:`IgnoredArgumentWarning` from here).

Examples
--------
>>> import warnings
>>> from estlab.warnings import EstlabWarning, ExportWarning
>>> issubclass(ExportWarning, EstlabWarning) and issubclass(EstlabWarning, UserWarning)
True
>>> warnings.filterwarnings("ignore", category=ExportWarning)  # e.g. silence "no ONNX file written"
"""

from __future__ import annotations

__all__ = [
    "CheckpointWarning",
    "EstlabWarning",
    "ExportWarning",
    "IgnoredArgumentWarning",
    "LabWarning",
    "TrainingWarning",
]


class EstlabWarning(UserWarning):
    """Base class of the warnings estlab issues."""


class IgnoredArgumentWarning(EstlabWarning):
    """A TensorFlow argument with no PyTorch meaning was given and is ignored."""


class ExportWarning(EstlabWarning):
    """An export was written with a fallback: no ONNX copy, or TorchScript instead of ``torch.export``."""


class LabWarning(EstlabWarning):
    """The notebook lab refused or adjusted a request (a duplicate run, another lab still training)."""


class CheckpointWarning(EstlabWarning, RuntimeWarning):
    """A checkpoint could not be used as it is (damaged and moved aside, or not kept for a restore)."""


class TrainingWarning(EstlabWarning):
    """Training went on in a degraded way (e.g. ``EarlyStopping(restore_best=True)`` found nothing to restore)."""
