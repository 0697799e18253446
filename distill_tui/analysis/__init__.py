"""Measurements: audio quality, codebook health, memorization."""
