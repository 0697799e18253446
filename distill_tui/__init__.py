"""Distill: train a small RVQ-VAE on your own sounds, see and edit their codes."""

import os

# OpenMP threads that spin while they wait make torch crawl on a busy 2-core machine (a trainer, the TUI and a
# decode at once). Measured with a trainer running (bench/RESULTS.md, "Stage 1"): a 4 s decode took 0.11-0.22 s
# with passive waiting in every call, but 2.6-6.9 s in its first calls with spinning. It must be set before
# torch loads its OpenMP runtime; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
