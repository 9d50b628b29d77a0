"""estlab.viz."""
