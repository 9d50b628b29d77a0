"""estlab: TensorFlow's Estimator workflow on PyTorch, Jupyter-native.

Examples
--------
>>> import estlab
>>> from estlab import feature_column as fc
"""

__version__ = "0.1.0"
