"""The RVQ-VAE (encoder, quantizer, decoder) and the prior."""
