"""Distill: train a small RVQ-VAE on your own sounds, see and edit their codes."""

from .threads import openmp_waiting

# Before torch loads its OpenMP runtime: idle threads sleep at once (the `train` command asks for a short spin
# instead, `threads.WAITING`). A user's own setting wins.
openmp_waiting("interactive")

__version__ = "0.1.0"
