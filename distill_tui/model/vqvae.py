"""The RVQ-VAE: a 1-D conv encoder over time (spectrogram bins as channels), ResidualVQ, and a
mirror decoder that predicts linear-frequency log-magnitude (design.md §1-2).

Spectrogram values are relative dB in [floor_db, 0]; the network sees them scaled to about [-1, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from .quantizer import Quantizer, QuantizeResult


class ResBlock(nn.Module):
    """Two dilated convolutions with a skip; keeps (B, C, T)."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.gelu(self.conv1(F.gelu(x))))


def _blocks(channels: int, n: int) -> list[nn.Module]:
    return [ResBlock(channels, 3**i) for i in range(n)]


class Encoder(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        c = cfg.channels
        layers: list[nn.Module] = [nn.Conv1d(cfg.n_bins, c, 3, padding=1), *_blocks(c, cfg.res_blocks)]
        for _ in range(int(math.log2(cfg.stride))):
            layers += [nn.Conv1d(c, c, 4, stride=2, padding=1), *_blocks(c, cfg.res_blocks)]
        layers += [nn.GELU(), nn.Conv1d(c, cfg.latent_dim, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, F, T) -> (B, D, T / stride)
        return self.net(x)


class Decoder(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        c = cfg.channels
        layers: list[nn.Module] = [nn.Conv1d(cfg.latent_dim, c, 3, padding=1), *_blocks(c, cfg.res_blocks)]
        for _ in range(int(math.log2(cfg.stride))):
            layers += [nn.ConvTranspose1d(c, c, 4, stride=2, padding=1), *_blocks(c, cfg.res_blocks)]
        layers += [nn.GELU(), nn.Conv1d(c, cfg.n_bins, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, D, P) -> (B, F, P * stride)
        return self.net(z)


@dataclass
class VQVAEOutput:
    recon_db: torch.Tensor  # (B, F, T) predicted relative dB
    quant: QuantizeResult


class VQVAE(nn.Module):
    """Spectrogram frames -> codes (B, Q, P) -> spectrogram frames. T must be a multiple of `stride`."""

    def __init__(self, cfg: ModelConfig, floor_db: float = -90.0) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.floor_db = floor_db
        self.encoder = Encoder(cfg)
        self.quantizer = Quantizer(cfg)
        self.decoder = Decoder(cfg)

    # dB in [floor, 0] <-> network units in about [-1, 1]
    def scale_in(self, db: torch.Tensor) -> torch.Tensor:
        half = -self.floor_db / 2
        return (db + half) / half

    def scale_out(self, y: torch.Tensor) -> torch.Tensor:
        half = -self.floor_db / 2
        return y * half - half

    def pad_frames(self, db: torch.Tensor) -> torch.Tensor:
        """Pad (B, F, T) at the end with the floor so that T is a multiple of the stride."""
        extra = (-db.shape[-1]) % self.cfg.stride
        return F.pad(db, (0, extra), value=self.floor_db) if extra else db

    def encode_latent(self, db: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.scale_in(self.pad_frames(db))).transpose(1, 2)  # (B, P, D)

    def decode_latent(self, z: torch.Tensor) -> torch.Tensor:
        return self.scale_out(self.decoder(z.transpose(1, 2)))  # (B, P, D) -> (B, F, P * stride)

    def forward(self, db: torch.Tensor) -> VQVAEOutput:
        z = self.encode_latent(db)
        q = self.quantizer(z)
        return VQVAEOutput(recon_db=self.decode_latent(q.quantized), quant=q)

    @torch.no_grad()
    def encode(self, db: torch.Tensor) -> torch.Tensor:
        """Relative dB (B, F, T) -> codes (B, Q, ceil(T / stride)). Call in eval mode."""
        q = self.quantizer(self.encode_latent(db))
        assert q.indices is not None, "the continuous baseline has no codes"
        return q.indices.transpose(1, 2)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, levels: int | None = None) -> torch.Tensor:
        """codes (B, Q, P) -> relative dB (B, F, P * stride), clamped to [floor, 0]."""
        z = self.quantizer.decode_indices(codes, levels)
        return self.decode_latent(z).clamp(self.floor_db, 0.0)


def spectral_loss(pred_db: torch.Tensor, target_db: torch.Tensor, metric_floor_db: float = -80.0) -> torch.Tensor:
    """Shaped like the log-spectral distance: per-frame RMS over bins of the dB error, with both
    sides floored where the metric floors them, averaged over frames; plus a small L1 over the full
    range so values under the metric's floor still get a gradient.

    pred_db, target_db: (B, F, T) relative dB.
    """
    p = pred_db.clamp_min(metric_floor_db)
    t = target_db.clamp_min(metric_floor_db)
    rms = ((p - t).pow(2).mean(dim=1) + 1e-4).sqrt().mean()
    return rms + 0.1 * (pred_db - target_db).abs().mean()


def frame_distance_db(pred_db: torch.Tensor, target_db: torch.Tensor, metric_floor_db: float = -80.0) -> torch.Tensor:
    """Per-item LSD in the model's own spectral domain (no phase): (B,) dB."""
    p = pred_db.clamp_min(metric_floor_db)
    t = target_db.clamp_min(metric_floor_db)
    return (p - t).pow(2).mean(dim=1).sqrt().mean(dim=-1)
