"""estlab.widgets."""
