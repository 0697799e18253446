"""An inference session: one loaded model, and everything the editor asks of it (encode, decode, sample).

Every call blocks; the editor runs them in thread workers, and a lock lets one torch job run at a time.
Torch is imported inside `InferenceSession.load`, so that the editor paints its first frame before
paying for it. Also here: where the bundled demo model and sounds live (`demo_paths`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..codes.grid import CodeGrid
from ..errors import BadInputError, NoPriorError
from ..persistence.document import ModelDocument
from .sampling import SamplingSettings

SAMPLES = Path(__file__).resolve().parents[1] / "samples"  # package data: a wheel carries it (tests/test_packaging.py)
DEMO_MODEL = SAMPLES / "demo.distill"
DEMO_SOUNDS = SAMPLES / "sounds"
NO_PRIOR_YET = "no prior yet: press : then 'Train the prior…' (it learns these sounds in a few minutes, on its own)"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


class InferenceSession:
    """A loaded model: codec, per-code perceptual data, the prior (or why there is none), and the auditioner."""

    def __init__(self, path: Path, codec: Any, perceptual: Any, prior: Any, prior_error: str | None, auditioner: Any) -> None:
        self.path = path
        self.codec = codec
        self.perceptual = perceptual
        self.prior = prior
        self.prior_error = prior_error
        self.auditioner = auditioner
        self._neighbours: list[np.ndarray] | None = None
        self._lock = threading.Lock()  # one torch job at a time: two would only fight over two cores

    @classmethod
    def load(cls, path: str | Path) -> InferenceSession:
        """Load everything the editor needs; raises `DistillError` with a one-line reason."""
        from ..analysis.perceptual import load_perceptual
        from .audition import Auditioner
        from .codec import load_codec

        path = Path(path)
        codec = load_codec(path)
        perceptual = load_perceptual(path, codec)
        prior, prior_error = _load_prior(path)
        return cls(path, codec, perceptual, prior, prior_error, Auditioner(codec))

    def reload_prior(self) -> None:
        """Read the model file's prior again (a prior trained since it was opened); the codec, and so every open
        grid, stays as it is. A prior made for another VQ-VAE than the loaded one is refused."""
        prior, error = _load_prior(self.path)
        if prior is not None and prior.fingerprint != self.fingerprint:  # the file was trained again since
            prior, error = None, "the model file was trained again since it was opened: open it again (: then 'Open model…')"
        with self._lock:
            self.prior, self.prior_error = prior, error

    # ---- facts
    @property
    def fingerprint(self) -> str:
        return self.codec.fingerprint

    @property
    def sample_rate(self) -> int:
        return int(self.codec.spec.sample_rate)

    @property
    def doc(self) -> ModelDocument | None:
        """The model file's typed document."""
        return self.codec.doc

    @property
    def labels(self) -> list[str]:
        return list(self.perceptual.labels)

    @property
    def ranks(self) -> list[np.ndarray]:
        return [lv.rank for lv in self.perceptual.levels]

    @property
    def order(self) -> list[np.ndarray]:
        return list(self.perceptual.order)

    @property
    def usage(self) -> list[np.ndarray] | None:
        usage = list(self.perceptual.usage)
        return usage if all(u.sum() > 0 for u in usage) else None

    def neighbours(self, k: int = 4) -> list[np.ndarray]:
        """Each code's k nearest codes in embedding space, per level (for gentle randomizing)."""
        # kept for the k last asked for (it was the first k asked for, whatever k came later)
        if self._neighbours is None or self._neighbours[0].shape[1] != min(k, self.codec.codebook_sizes[0] - 1):
            from ..model.latent import neighbours_by_level

            self._neighbours = neighbours_by_level(self.codec.model.quantizer, len(self.codec.codebook_sizes), k)
        return self._neighbours

    # ---- files
    def encode(self, path: Path) -> CodeGrid:
        """An audio file as a grid of this model's codes."""
        with self._lock:
            return self.codec.encode_file(path)

    def load_codes(self, path: Path) -> CodeGrid:
        """A codes file, refused (`DistillError`) unless it was made with this model."""
        grid = CodeGrid.load(path)
        grid.check_model(self.fingerprint, self.codec.codebook_sizes, path)
        return grid

    def open_file(self, path: Path) -> CodeGrid:
        """An audio file (encoded) or a codes file (validated against this model)."""
        if path.name.endswith(".json"):
            return self.load_codes(path)
        return self.encode(path)

    # ---- listening
    def decode(self, grid: CodeGrid, muted: set[int], previous: Any = None,
               step: Callable[[], None] = lambda: None) -> Any:
        """A full decode, or a partial re-decode from `previous` (the last `Audition` of this sound), which it takes
        over: `previous`'s arrays become the new decode's, changed in place (`Auditioner.update`'s `reuse`).
        A full decode calls `step()` after each chunk of a long sound and after each Griffin-Lim iteration (the
        editor's check whether to give way to an edit: an exception it raises ends the decode there)."""
        with self._lock:
            if previous is None:
                return self.auditioner.full(grid, tuple(sorted(muted)), step, between=step)
            return self.auditioner.update(grid, previous, tuple(sorted(muted)), reuse=True)

    def decode_loop(self, grid: CodeGrid, muted: set[int]) -> np.ndarray:
        """One cycle of `grid` decoded as a loop (`inference.loops.loop_cycle`): what loop playback plays round."""
        from ..threads import torch_threads
        from .loops import loop_cycle

        with self._lock, torch_threads(self.auditioner.threads):
            return loop_cycle(self.codec, grid, tuple(sorted(muted)))

    # ---- sampling
    def require_prior(self) -> Any:
        """The `Prior`, or `BadInputError` saying why this model has none."""
        if self.prior is None:
            raise BadInputError(self.prior_error or NO_PRIOR_YET, self.path)
        return self.prior

    def generate(self, seconds: float, settings: SamplingSettings, name: str = "generated", *,
                 loop: bool = False, one_shot: bool = False) -> tuple[CodeGrid, int | None]:
        """A new grid from the prior, named `name` (the editor numbers repeats: generated, generated-2, …; the
        seed is kept in its source, where it can replay the sound); returns it and the seed used.
        With `loop`, a grid whose end flows into its start (`inference.loops.make_loop`); with `one_shot`, one that
        starts and ends in silence (`Prior.one_shot`, 8 endings tried, as `generate --one-shot` does)."""
        from .generate import positions_for_seconds, silence_column

        prior = self.require_prior()
        spec, cfg = self.codec.spec, self.codec.cfg
        positions = positions_for_seconds(seconds, spec.sample_rate, spec.hop_length, cfg.stride)
        with self._lock:
            if loop:
                from .loops import make_loop

                codes = make_loop(prior, self.codec, max(positions, 2), settings).codes
            elif one_shot:
                codes = prior.one_shot(silence_column(self.codec), max(positions, 4), settings)
            else:
                codes = prior.generate(positions, settings)
        seed = prior.last_seed
        grid = CodeGrid(codes=codes, model_fingerprint=self.fingerprint, codebook_sizes=self.codec.codebook_sizes,
                        sample_rate=spec.sample_rate, hop_length=spec.hop_length, stride=cfg.stride,
                        name=name, source={"generated": True, "seed": seed, "loop": loop, "one_shot": one_shot,
                                                        "temperature": settings.temperature, "top_k": settings.top_k,
                                                        "top_p": settings.top_p})
        return grid, seed

    def precompute(self, edit: Any, grid: CodeGrid) -> Any:
        """Run a model-driven edit's computation on a copy (in a worker); applying it later only writes."""
        with self._lock:
            edit.do(grid.copy())
        return edit


def demo_paths() -> tuple[Path, list[Path]]:
    """The bundled demo model and its sounds."""
    sounds = sorted(p for p in DEMO_SOUNDS.glob("*") if p.suffix.lower() in AUDIO_SUFFIXES) if DEMO_SOUNDS.is_dir() else []
    return DEMO_MODEL, sounds


def _load_prior(path: Path) -> tuple[Any, str | None]:
    """The model file's prior, or None and why not, in the editor's words."""
    try:
        from .generate import Prior

        return Prior.from_model_file(path), None
    except NoPriorError:
        return None, NO_PRIOR_YET
    except BadInputError as exc:
        return None, f"its prior cannot be used ({exc.reason}); : then 'Train the prior…' makes a new one"
    except ImportError as exc:  # pragma: no cover - a build without the prior
        return None, f"sampling is not available in this build ({exc})"
