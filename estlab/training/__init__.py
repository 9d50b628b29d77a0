"""estlab.training."""
