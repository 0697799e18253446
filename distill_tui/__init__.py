"""Distill: train a small RVQ-VAE on your own sounds, see and edit their codes."""

import os

# OpenMP threads that spin while waiting turn a busy 2-core machine (a trainer, a TUI and a decode at once)
# into a crawl: a 4 s decode took 1.2 s median with spinning and 0.21 s with passive waiting on the same loaded
# box (bench/RESULTS.md). It must be set before torch loads its OpenMP runtime; users can still override it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
