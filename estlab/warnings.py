"""estlab's warning classes, so users can filter them by category (``warnings.filterwarnings``).

Every class is a ``UserWarning`` through :class:`EstlabWarning`, so code that filtered ``UserWarning`` before
keeps working.

Examples
--------
>>> import warnings
>>> from estlab.warnings import EstlabWarning, ExportWarning
>>> issubclass(ExportWarning, EstlabWarning) and issubclass(EstlabWarning, UserWarning)
True
>>> warnings.filterwarnings("ignore", category=ExportWarning)  # e.g. silence "no ONNX file written"
"""

from __future__ import annotations

from estlab._util import IgnoredArgumentWarning

__all__ = ["EstlabWarning", "ExportWarning", "IgnoredArgumentWarning", "LabWarning"]


class EstlabWarning(UserWarning):
    """Base class of the warnings estlab issues."""


class ExportWarning(EstlabWarning):
    """An export was written with a fallback: no ONNX copy, or TorchScript instead of ``torch.export``."""


class LabWarning(EstlabWarning):
    """The notebook lab refused or adjusted a request (a duplicate run, another lab still training)."""
