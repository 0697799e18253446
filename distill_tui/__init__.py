"""Distill: train a small RVQ-VAE on your own sounds, see and edit their codes."""

__version__ = "0.1.0"
