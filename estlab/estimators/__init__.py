"""estlab.estimators."""
