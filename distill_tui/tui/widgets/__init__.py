"""The editor's widgets: code grid, spectrogram, panels, slider."""
