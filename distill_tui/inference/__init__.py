"""Encode audio to codes and decode codes to audio; generation with the prior."""
