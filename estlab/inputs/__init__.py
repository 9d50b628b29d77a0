"""estlab.inputs."""
