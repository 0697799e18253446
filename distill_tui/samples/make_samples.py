"""Synthesize Distill's bundled demo sounds, deterministically (no recordings are copied in).

    python samples/make_samples.py [OUT_DIR]     # default: samples/sounds

A dozen short sounds of the kinds musicians bring: plucks, bells, pads, kicks, hats, snares, noise sweeps.
The same script always writes the same samples (fixed seeds), 44100 Hz, 16-bit WAV.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 44100


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SR)) / SR


def pluck(freq: float, seconds: float = 1.2, seed: int = 0) -> np.ndarray:
    """Karplus-Strong string."""
    rng = np.random.default_rng(seed)
    period = int(SR / freq)
    buf = rng.uniform(-1, 1, period)
    out = np.empty(int(seconds * SR))
    for i in range(len(out)):
        out[i] = buf[i % period]
        buf[i % period] = 0.996 * 0.5 * (buf[i % period] + buf[(i + 1) % period])
    return out


def bell(freq: float, seconds: float = 2.0) -> np.ndarray:
    t = _t(seconds)
    partials = [(1.0, 1.0, 1.5), (2.76, 0.5, 2.5), (5.4, 0.3, 4.0), (8.93, 0.15, 6.0)]
    return sum(a * np.sin(2 * np.pi * freq * r * t) * np.exp(-t * d) for r, a, d in partials)


def pad(freqs: list[float], seconds: float = 2.5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = _t(seconds)
    x = np.zeros_like(t)
    for f in freqs:
        for detune in (-0.4, 0.0, 0.4):
            x += np.sin(2 * np.pi * (f + detune) * t + rng.uniform(0, 6.28))
    env = np.minimum(1, t / 0.6) * np.minimum(1, (seconds - t) / 0.8)
    return x * env


def kick(seconds: float = 0.5, tone: float = 50.0) -> np.ndarray:
    t = _t(seconds)
    freq = tone + 140 * np.exp(-t * 35)
    return np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t * 7)


def hat(seconds: float = 0.15, seed: int = 0, decay: float = 40.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = _t(seconds)
    noise = rng.standard_normal(len(t))
    bright = np.diff(noise, prepend=0.0)  # first difference: a crude high-pass
    return bright * np.exp(-t * decay)


def snare(seconds: float = 0.3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = _t(seconds)
    return 0.6 * rng.standard_normal(len(t)) * np.exp(-t * 18) + 0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(-t * 25)


def sweep(seconds: float = 2.0, seed: int = 0, up: bool = True) -> np.ndarray:
    """Noise through a resonant band-pass whose centre sweeps."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    noise = rng.standard_normal(n)
    centre = np.geomspace(300, 6000, n) if up else np.geomspace(6000, 300, n)
    out, y1, y2 = np.zeros(n), 0.0, 0.0
    r = 0.995
    for i in range(n):
        c = 2 * r * np.cos(2 * np.pi * centre[i] / SR)
        y = noise[i] * (1 - r) + c * y1 - r * r * y2
        out[i], y2, y1 = y, y1, y
    return out * np.minimum(1, np.arange(n) / (0.1 * SR))


SOUNDS = {
    "pluck_a2": lambda: pluck(110.0, seed=1),
    "pluck_e3": lambda: pluck(164.8, seed=2),
    "bell_c5": lambda: bell(523.3),
    "bell_g4": lambda: bell(392.0, 1.6),
    "pad_am": lambda: pad([220.0, 261.6, 329.6], seed=3),
    "pad_fmaj7": lambda: pad([174.6, 220.0, 261.6, 329.6], seed=4),
    "kick_deep": lambda: kick(0.6, 45.0),
    "kick_punch": lambda: kick(0.35, 60.0),
    "hat_closed": lambda: hat(0.12, seed=5, decay=60.0),
    "hat_open": lambda: hat(0.45, seed=6, decay=9.0),
    "snare": lambda: snare(seed=7),
    "sweep_up": lambda: sweep(2.0, seed=8, up=True),
    "sweep_down": lambda: sweep(1.5, seed=9, up=False),
}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, make in SOUNDS.items():
        x = make()
        x = 0.89 * x / np.abs(x).max()
        sf.write(out / f"{name}.wav", x.astype(np.float32), SR, subtype="PCM_16")
    print(f"{len(SOUNDS)} sounds written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "sounds")
