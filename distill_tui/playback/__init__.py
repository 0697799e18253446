"""How audio reaches a person: local speakers, a remote listener over an SSH tunnel, or a written file."""
