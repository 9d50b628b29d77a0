"""estlab.export."""
