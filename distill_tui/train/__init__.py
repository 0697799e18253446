"""Training runs: the run folder and event log, stage 1 (RVQ-VAE) and stage 2 (prior)."""
