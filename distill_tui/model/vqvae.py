"""The RVQ-VAE: a 1-D conv encoder over time (spectrogram bins as channels), ResidualVQ, and a
mirror decoder that predicts linear-frequency log-magnitude (docs/architecture.md, decisions 1 and 2).

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


def _blocks(channels: int, n: int, growth: int = 3) -> list[nn.Module]:
    """n residual blocks with dilations 1, growth, growth**2, ...: growth sets the receptive field."""
    return [ResBlock(channels, growth**i) for i in range(n)]


class Encoder(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        c = cfg.channels
        k = cfg.io_kernel
        layers: list[nn.Module] = [nn.Conv1d(cfg.n_bins, c, k, padding=k // 2), *_blocks(c, cfg.res_blocks, cfg.dilation_growth)]
        for _ in range(int(math.log2(cfg.stride))):
            layers += [nn.Conv1d(c, c, 4, stride=2, padding=1), *_blocks(c, cfg.res_blocks, cfg.dilation_growth)]
        layers += [nn.GELU(), nn.Conv1d(c, cfg.latent_dim, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, F, T) -> (B, D, T / stride)
        return self.net(x)


class Decoder(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        c = cfg.channels
        layers: list[nn.Module] = [nn.Conv1d(cfg.latent_dim, c, 3, padding=1), *_blocks(c, cfg.res_blocks, cfg.dilation_growth)]
        for _ in range(int(math.log2(cfg.stride))):
            layers += [nn.ConvTranspose1d(c, c, 4, stride=2, padding=1), *_blocks(c, cfg.res_blocks, cfg.dilation_growth)]
        k = cfg.io_kernel
        layers += [nn.GELU(), nn.Conv1d(c, cfg.n_bins, k, padding=k // 2)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, D, P) -> (B, F, P * stride)
        h = self.net[:-1](z)
        with torch.autocast(z.device.type, enabled=False):  # the spectrum out in float32, even in bfloat16 training
            return self.net[-1](h.float())


@dataclass
class VQVAEOutput:
    recon_db: torch.Tensor  # (B, F, T) predicted relative dB
    quant: QuantizeResult


class VQVAE(nn.Module):
    """Spectrogram frames -> codes (B, Q, P) -> spectrogram frames. T must be a multiple of `stride`."""

    def __init__(self, cfg: ModelConfig, floor_db: float = -90.0, trainable: bool = True) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.floor_db = floor_db
        self.encoder = Encoder(cfg)
        self.quantizer = Quantizer(cfg, trainable)  # trainable=False: a loaded model's, see `Quantizer`
        self.decoder = Decoder(cfg)
        self._silence: torch.Tensor | None = None  # silence_codes(), cached in eval mode

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

    # ---- whole sounds: with silence around them, as the training crops have it

    @property
    def edge_frames(self) -> int:
        return self.cfg.edge_positions * self.cfg.stride

    def train(self, mode: bool = True) -> VQVAE:
        self._silence = None  # the weights may change: the silence column is computed again
        return super().train(mode)

    def load_state_dict(self, *args, **kwargs):  # type: ignore[override]
        self._silence = None
        return super().load_state_dict(*args, **kwargs)

    @torch.no_grad()
    def start_at_principal_directions(self, db: torch.Tensor) -> float:
        """Start the encoder's first and the decoder's last convolution at the principal directions of the spectra
        `db` (B, F, T) relative dB (training crops); returns the share of the frames' variance those directions hold.

        The first convolution's centre tap projects a frame onto the top `channels` directions, whitened (each
        coordinate of unit variance over `db`), with the mean taken off by its bias; the last one's centre tap gets
        those directions back at their scale, its bias is the mean frame. The side taps and the rest of the centre
        taps keep a tenth of their random start. So the network's way in and out of the spectrum starts on the
        corpus's own spectra instead of random directions (bench/RESULTS.md, thirty-first session). Single
        precision: on 4,096 frames of 1,025 bins it takes about 0.2 s.
        """
        # (N, F) network units, on the CPU: MPS has no eigh, and a 1,025-bin covariance is small
        frames = self.scale_in(db).transpose(1, 2).reshape(-1, db.shape[1]).float().cpu()
        mean = frames.mean(dim=0)  # (F,)
        centred = frames - mean
        cov = centred.T @ centred / max(len(frames), 1)  # (F, F)
        values, vectors = torch.linalg.eigh(cov)  # ascending
        values, vectors = values.flip(0).clamp_min(0.0), vectors.flip(1)
        c = min(self.cfg.channels, db.shape[1])
        scale = values[:c].clamp_min(1e-8).sqrt()  # (c,): each direction's spread
        into = (vectors[:, :c] / scale).T  # (c, F): whitened coordinates
        first, last = self.encoder.net[0], self.decoder.net[-1]
        k = first.kernel_size[0] // 2  # the centre tap
        first.weight.mul_(0.1)
        first.weight[:c, :, k] = into.to(first.weight)
        first.bias[:c] = (-(into @ mean)).to(first.bias)
        last.weight.mul_(0.1)
        last.weight[:, :c, k] += (vectors[:, :c] * scale).to(last.weight)  # (F, c)
        last.bias.copy_(mean)
        total = float(values.sum())
        return float(values[:c].sum()) / total if total > 0 else 1.0

    @torch.no_grad()
    def silence_latent(self) -> torch.Tensor:
        """The encoder's latent for silence (every bin at the floor), far from any edge: (D,)."""
        e = max(self.cfg.edge_positions, 4)
        device = next(self.parameters()).device
        db = torch.full((1, self.cfg.n_bins, (2 * e + 1) * self.cfg.stride), self.floor_db, device=device)  # (1, F, T)
        return self.encode_latent(db)[0, e]  # the middle position, away from the convolutions' padding

    @torch.no_grad()
    def silence_codes(self) -> torch.Tensor:
        """The codes the encoder gives silence: (Q,). Cached in eval mode."""
        if self._silence is not None and not self.training:
            return self._silence
        q = self.quantizer(self.silence_latent()[None, None])
        assert q.indices is not None, "the continuous baseline has no codes"
        codes = q.indices[0, 0]  # (Q,)
        if not self.training:
            self._silence = codes
        return codes

    def _pad_db(self, db: torch.Tensor) -> tuple[torch.Tensor, int]:
        """(B, F, T) -> (B, F, edge + T' + edge) with T' a multiple of the stride; returns T' / stride."""
        db = self.pad_frames(db)
        e = self.edge_frames
        return (F.pad(db, (e, e), value=self.floor_db) if e else db), db.shape[-1] // self.cfg.stride

    @torch.no_grad()
    def encode(self, db: torch.Tensor) -> torch.Tensor:
        """Relative dB (B, F, T) -> codes (B, Q, ceil(T / stride)). Call in eval mode."""
        q = self.quantizer(self.sound_latent(db))
        assert q.indices is not None, "the continuous baseline has no codes"
        return q.indices.transpose(1, 2)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, levels: int | None = None, muted: tuple[int, ...] | list[int] = ()) -> torch.Tensor:
        """codes (B, Q, P) -> relative dB (B, F, P * stride), clamped to [floor, 0].

        Levels above `levels`, and the (0-based) `muted` ones, are left out. The grid is decoded with
        `edge_positions` columns of silence on each side, the context the decoder was trained with.
        """
        b, n_levels, positions = codes.shape
        e = self.cfg.edge_positions
        idx = codes.long()
        if e:
            silence = self.silence_codes().to(idx.device).view(1, n_levels, 1).expand(b, n_levels, e)
            idx = torch.cat([silence, idx, silence], dim=-1)  # (B, Q, e + P + e)
        if muted:
            idx = idx.clone()
            idx[:, list(muted), :] = -1
        out = self.decode_latent(self.quantizer.decode_indices(idx, levels))
        start = self.edge_frames
        return out[..., start : start + positions * self.cfg.stride].clamp(self.floor_db, 0.0)

    @torch.no_grad()
    def sound_latent(self, db: torch.Tensor) -> torch.Tensor:
        """Relative dB (B, F, T) -> the encoder's latent of the sound's own positions, (B, ceil(T / stride), D)."""
        padded, positions = self._pad_db(db)
        e = self.cfg.edge_positions
        return self.encode_latent(padded)[:, e : e + positions]

    @torch.no_grad()
    def reconstruct_continuous(self, db: torch.Tensor) -> torch.Tensor:
        """Relative dB (B, F, T) -> the decoder's output from the unquantized latent, (B, F, ceil(T / stride) * stride)."""
        padded, positions = self._pad_db(db)
        out = self.decode_latent(self.encode_latent(padded))
        start = self.edge_frames
        return out[..., start : start + positions * self.cfg.stride].clamp(self.floor_db, 0.0)


def spectral_loss(
    pred_db: torch.Tensor, target_db: torch.Tensor, inside: torch.Tensor | None = None,
    metric_floor_db: float = -80.0, outside_weight: float = 0.1,
) -> torch.Tensor:
    """Shaped like the log-spectral distance: per-frame RMS over bins of the dB error, with both
    sides floored where the metric floors them; plus a small L1 over the full range so values under
    the metric's floor still get a gradient.

    Each crop is averaged over the frames `inside` its sound (B, T) (the silence around it weighs
    `outside_weight` as much), then crops are averaged: every sound counts alike, however short.
    pred_db, target_db: (B, F, T) relative dB.
    """
    p = pred_db.clamp_min(metric_floor_db)
    t = target_db.clamp_min(metric_floor_db)
    rms = ((p - t).pow(2).mean(dim=1) + 1e-4).sqrt()  # (B, T)
    if inside is None:
        frames = rms.mean()
    else:
        w = torch.where(inside.to(rms.device), 1.0, outside_weight)  # (B, T)
        frames = ((rms * w).sum(dim=1) / w.sum(dim=1)).mean()
    return frames + 0.1 * (pred_db - target_db).abs().mean()


def frame_distance_db(pred_db: torch.Tensor, target_db: torch.Tensor, metric_floor_db: float = -80.0) -> torch.Tensor:
    """Per-item LSD in the model's own spectral domain (no phase): (B,) dB."""
    p = pred_db.clamp_min(metric_floor_db)
    t = target_db.clamp_min(metric_floor_db)
    return (p - t).pow(2).mean(dim=1).sqrt().mean(dim=-1)
