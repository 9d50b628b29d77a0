"""estlab.features."""
