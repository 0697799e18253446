"""Training runs: one runner (`runner.py`: loop, budget, checkpoints, signals) for stage 1 (`vqvae_loop.py`,
the RVQ-VAE) and stage 2 (`prior_loop.py`, the prior); the run folder, its event log and its checkpoint."""
