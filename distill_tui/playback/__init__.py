"""How audio reaches a person: local speakers, a remote listener over an SSH tunnel, or a written file."""

DEFAULT_PORT = 47474  # the listener's port (here for the CLI, which must not import numpy to build its parser)
