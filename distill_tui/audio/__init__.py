"""Audio in and out, and the spectral front end."""
