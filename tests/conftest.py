"""Shared fixtures: synthesized sounds written at test time, and a tiny model trained once per session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SR = 22050
TINY_TOML = """
[model]
channels = 32
latent_dim = 8
res_blocks = 1
levels = 2
codebook_sizes = [16, 16]

[train]
batch_size = 4
crop_frames = 32
eval_every = 20
kmeans_init_vectors = 256
warmup_steps = 5
"""


def synth(kind: str, seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Deterministic test sounds: tone, pluck, noise burst, kick-like decay, pad, sweep."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    detune = 1.0 + 0.03 * seed  # different seeds give different sounds
    t = t * detune
    if kind == "tone":
        x = 0.5 * np.sin(2 * np.pi * 440 * t)
    elif kind == "pluck":
        x = 0.8 * np.sin(2 * np.pi * 220 * t) * np.exp(-t * 6) + 0.2 * np.sin(2 * np.pi * 660 * t) * np.exp(-t * 9)
    elif kind == "noise":
        x = 0.5 * rng.standard_normal(len(t)) * np.exp(-t * 12)
    elif kind == "kick":
        freq = 50 + 120 * np.exp(-t * 30)
        x = 0.9 * np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t * 8)
    elif kind == "pad":
        x = sum(0.2 * np.sin(2 * np.pi * f * t + i) for i, f in enumerate((220, 277, 330, 440)))
        x = x * np.minimum(1, t * 4)
    elif kind == "sweep":
        x = 0.4 * np.sin(2 * np.pi * np.cumsum(200 + 2000 * t / max(seconds, 1e-3)) / sr)
    else:
        raise ValueError(kind)
    return x.astype(np.float32)


def write_dataset(folder: Path, n: int = 6) -> Path:
    kinds = ["tone", "pluck", "noise", "kick", "pad", "sweep"]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        kind = kinds[i % len(kinds)]
        seconds = 0.2 if kind in ("kick", "noise") else 1.2
        sub = folder / ("drums" if kind in ("kick", "noise") else "tonal")
        sub.mkdir(exist_ok=True)
        sf.write(sub / f"{kind}{i}.wav", synth(kind, seconds, seed=i), SR)
    return folder


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("DISTILL_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("sounds"))


@pytest.fixture(scope="session")
def tiny_toml(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "tiny.toml"
    path.write_text(TINY_TOML)
    return path


def run_cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "distill_tui.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, dataset, tiny_toml) -> Path:
    """A tiny model trained for a few steps by the real CLI (shared by many tests)."""
    out = tmp_path_factory.mktemp("model") / "tiny.distill"
    cache = tmp_path_factory.getbasetemp() / "cache"
    r = run_cli("train", str(dataset), "-o", str(out), "--steps", "40", "--config", str(tiny_toml), "--seed", "1",
                "--json", "--quiet", env={"DISTILL_CACHE": str(cache)})
    assert r.returncode == 0, r.stderr
    return out


SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture(autouse=True)
def _snapshots_in_tests_folder(request, monkeypatch):
    """Tests that compare screenshots keep their SVGs in tests/snapshots/<test file>/ (the plugin's
    default is a folder beside each test file); without the plugin those tests are skipped."""
    if "snap_compare" not in request.fixturenames:
        return
    plugin = pytest.importorskip("pytest_textual_snapshot", reason="pip install pytest-textual-snapshot")

    class InSnapshotsFolder(plugin.SVGImageExtension):
        @classmethod
        def dirname(cls, *, test_location) -> str:  # noqa: ANN001
            return str(SNAPSHOTS / test_location.basename)

    monkeypatch.setattr(plugin, "SVGImageExtension", InSnapshotsFolder)


@pytest.fixture
def one_torch_thread():
    """Tiny models: on a busy 2-core box a second torch thread makes each op wait (seconds per test)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _own_state_folder(tmp_path_factory, monkeypatch):
    """Every test gets its own `$XDG_STATE_HOME`: nothing reads or writes the user's remembered settings or runs."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(scope="module")
def prior_model(tiny_model, tmp_path_factory) -> Path:
    """`tiny_model` with an untrained prior attached (`test_generate.attach_prior`): enough for the commands
    that sample (generate --like, vary)."""
    from .test_generate import attach_prior

    path = tmp_path_factory.mktemp("prior") / "with_prior.distill"
    attach_prior(tiny_model, path)
    return path


@pytest.fixture
def pad(tmp_path) -> Path:
    """A 1.2 s synthesized pad written as a WAV."""
    path = tmp_path / "pad.wav"
    sf.write(path, synth("pad", 1.2, seed=2), SR)
    return path

