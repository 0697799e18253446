"""How audio reaches a person: local speakers, a remote listener over an SSH tunnel, or a written file."""

# The listener's port. It lives here so that the CLI can build its parser without importing numpy.
DEFAULT_PORT = 47474
