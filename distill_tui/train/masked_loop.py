"""Stage 2, masked shape: train the masked prior (model/masked_prior.py) and store it beside the causal prior.

`train-prior --shape masked`. The codes are the causal prior's: every sound encoded by the frozen
VQ-VAE with the same augmented copies (pitch, gain, time shift, mixes; `prior_data.encode_files`, the
same cache). Each step takes random windows of `window` positions, hides a share of each drawn from a
cosine schedule in spans along time, and learns the hidden codes from the rest (label smoothing 0.1,
loss on the hidden cells only). The loop (budget, signals, checkpoints, resume) is `runner.Runner`'s.
The model file gains a "masked_prior" document and `masked.*` tensors; everything else stays as it was.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import from_dict, to_dict
from ..data.dataset import scan
from ..errors import BadInputError
from ..inference.codec import Codec, build_vqvae
from ..model.masked_prior import MaskedConfig, MaskedPrior, count_parameters, masked_loss, training_mask
from ..persistence.document import MaskedPriorSummary
from ..persistence.model_file import load_model_file, save_model_file
from ..threads import torch_threads
from .adamw import AdamW
from .checkpoint import Checkpoint, load_optimizer
from .events import EventLog
from .prior_data import FileCodes, encode_files
from .runfolder import check_same_sounds, check_writable_folder
from .runner import FinalModel, Runner
from .state import Budget, LoopConfig, Schedule, pick_device


@dataclass
class MaskedTrainConfig:
    """Training of the masked prior; the augmentation fields are `PriorTrainConfig`'s (the same copies, cached)."""

    steps: int = 3000  # about 3 CPU minutes on a 2-core machine (bench/RESULTS.md, sixth session)
    minutes: float | None = None
    clock: str = "wall"
    batch_size: int = 24
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 100
    label_smoothing: float = 0.1  # VampNet's
    augment: bool = True
    pitch_semitones: list[float] = field(default_factory=lambda: [-2.0, -1.0, 1.0, 2.0])
    mixes_per_file: float = 1.0
    gain_db: list[float] = field(default_factory=lambda: [-6.0, 6.0])
    time_shifts: list[float] = field(default_factory=lambda: [0.5])
    seed: int = 0
    checkpoint_every_s: float = 60.0
    device: str = "cpu"
    threads: int = 1


@dataclass
class MaskedRequest:
    model_path: Path
    run_dir: Path
    data_dir: Path | None = None  # None: the folder the VQ-VAE was trained on
    train: MaskedTrainConfig = field(default_factory=MaskedTrainConfig)
    overrides: dict[str, Any] = field(default_factory=dict)  # window, layers, d_model, dropout


@dataclass
class MaskedResult:
    status: str  # "done" or "stopped"
    model_path: Path
    run_dir: Path
    step: int
    seconds: float
    train_nll: float | None  # nats per hidden code on training windows (fixed masks), at the end
    parameters: int
    warnings: list[str]


class GridWindows:
    """Random windows (B, Q, window) of the grids; a sound shorter than a window is padded with -1."""

    def __init__(self, grids: list[np.ndarray], window: int, seed: int) -> None:
        self.grids = [g for g in grids if g.shape[1] > 0]
        lengths = np.array([g.shape[1] for g in self.grids], dtype=np.float64)
        self.weights = np.sqrt(lengths) / np.sqrt(lengths).sum()  # long sounds a bit more often, as the causal prior
        self.window = window
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> torch.Tensor:
        q = self.grids[0].shape[0]
        out = np.full((n, q, self.window), -1, dtype=np.int64)  # (B, Q, W)
        for b, i in enumerate(self.rng.choice(len(self.grids), size=n, p=self.weights)):
            g = self.grids[i]
            t0 = int(self.rng.integers(0, max(1, g.shape[1] - self.window + 1)))
            piece = g[:, t0 : t0 + self.window]
            out[b, :, : piece.shape[1]] = piece
        return torch.from_numpy(out)


def batch_mask(codes: torch.Tensor, cfg: MaskedConfig, gen: torch.Generator) -> torch.Tensor:
    """`training_mask` for codes (B, Q, W), with at least one hidden cell that is not padding per example."""
    mask = training_mask(codes.shape[0], cfg, gen) & (codes >= 0)  # (B, Q, W)
    empty = ~mask.flatten(1).any(dim=1)  # (B,)
    mask[empty, -1, 0] = True  # the finest level's first cell: every window holds at least one position
    return mask


class MaskedTrainer:
    """The hooks `Runner` calls (see train/runner.py); `run()` trains or resumes and returns a `MaskedResult`."""

    name = "masked"
    threads_governed = False  # its own thread count (`threads` in its config)

    def __init__(self, req: MaskedRequest, log: EventLog) -> None:
        self.req, self.log = req, log
        self.runner = Runner(self, req.run_dir, log)
        self.history: list[dict[str, float]] = []
        self.last_loss = float("nan")

    @property
    def warnings(self) -> list[str]:
        return self.runner.warnings

    def run(self) -> MaskedResult:
        with torch_threads(self.req.train.threads):
            return self.runner.run()

    def check_resumable(self, ckpt: Checkpoint) -> None:
        fp = load_model_file(self.req.model_path).fingerprint
        if ckpt.info.get("vqvae_fingerprint") != fp:
            raise BadInputError("this run folder trained a masked prior for another VQ-VAE; delete it or pass --run",
                                self.req.run_dir)
        check_same_sounds(self.req.run_dir, self.runner.state.data_dir, self.req.data_dir)
        kept = {k: v for k, v in ckpt.info.get("train", {}).items() if k not in {"steps", "minutes", "clock", "device"}}
        self.req.train = from_dict(MaskedTrainConfig, {**to_dict(self.req.train), **kept})

    def setup(self, ckpt: Checkpoint | None) -> None:
        req, tc = self.req, self.req.train
        check_writable_folder(req.model_path, "model file")
        mf = load_model_file(req.model_path)
        if not mf.document.model.quantize:
            raise BadInputError("this is a continuous-baseline model: it has no codes to train a prior on", req.model_path)
        vq, spec = build_vqvae(mf, req.model_path)
        codec = Codec(vq, spec, mf.fingerprint, mf.document)
        self.fingerprint = mf.fingerprint
        root = req.data_dir or (Path(self.runner.state.data_dir) if self.runner.state.data_dir else None)
        if root is None:
            if not mf.document.dataset.root or not Path(mf.document.dataset.root).exists():
                raise BadInputError("give DATA_DIR: the folder the model was trained on is not known or gone", req.model_path)
            root = Path(mf.document.dataset.root)
        self.data_dir = root
        scanned = scan(root, spec, max_file_seconds=mf.document.training.max_file_seconds)
        self.codes: FileCodes = encode_files(codec, scanned.files, tc)
        if not self.codes.grids:
            raise BadInputError("no sound could be encoded (all silent?)", root)
        self.cfg = (from_dict(MaskedConfig, ckpt.info["config"]) if ckpt is not None
                    else masked_config(codec.cfg.levels, codec.codebook_sizes, **req.overrides))
        self.device = pick_device(tc.device)
        torch.manual_seed(tc.seed)
        self.model = MaskedPrior(self.cfg).to(self.device)
        self.optimizer = AdamW(self.model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, betas=(0.9, 0.98))
        self.runner.state.data_dir = str(Path(root).resolve())
        if ckpt is not None:
            self.model.load_state_dict(ckpt.group("model"))
            load_optimizer(self.optimizer, ckpt.group("optim"), ckpt.optim_groups)
            self.history = list(self.runner.state.stage.get("history", []))
            self.log.emit("resume", step=self.runner.state.step, elapsed_s=self.runner.state.elapsed_s)
        else:
            self.log.emit("start", step=0, files=len(self.codes.grids), augmented_grids=len(self.codes.augmented),
                          cached=self.codes.cached, prior={"architecture": "masked", **to_dict(self.cfg)},
                          train=to_dict(tc), parameters=count_parameters(self.model), device=self.device,
                          vqvae_fingerprint=self.fingerprint)
        probe = GridWindows(self.codes.grids, self.cfg.window, tc.seed + 1)  # fixed windows and masks for `eval`
        self.probe = probe.batch(64)
        self.probe_mask = batch_mask(self.probe, self.cfg, torch.Generator().manual_seed(tc.seed + 1))

    def loop_config(self) -> LoopConfig:
        tc = self.req.train
        return LoopConfig(Budget(tc.steps, tc.minutes, tc.clock), Schedule(tc.lr, tc.warmup_steps, tc.min_lr_ratio),
                          tc.eval_every, tc.checkpoint_every_s)

    def on_train_start(self, fresh: bool) -> None:
        tc, step = self.req.train, self.runner.state.step
        self.windows = GridWindows(self.codes.grids + self.codes.augmented, self.cfg.window, tc.seed + step)
        self.gen = torch.Generator().manual_seed(tc.seed + step)
        self.model.train()

    def training_step(self, lr: float) -> bool:
        tc = self.req.train
        codes = self.windows.batch(tc.batch_size)  # (B, Q, W)
        loss = masked_loss(self.model, codes.to(self.device), batch_mask(codes, self.cfg, self.gen).to(self.device),
                           tc.label_smoothing)
        if not torch.isfinite(loss):
            self.runner.warn("non-finite loss: step skipped", "nonfinite", once=True)
            return False
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), tc.grad_clip)
        self.optimizer.step()
        self.last_loss = float(loss.detach())
        return True

    def step_fields(self) -> dict[str, Any]:
        return {"loss": round(self.last_loss, 4)}

    @torch.no_grad()
    def probe_nll(self) -> float:
        """Nats per hidden code on fixed training windows and masks (no smoothing)."""
        was = self.model.training
        self.model.eval()
        value = float(masked_loss(self.model, self.probe.to(self.device), self.probe_mask.to(self.device), 0.0))
        self.model.train(was)
        return value

    def validation(self, progress: float) -> bool:
        nll = self.probe_nll()
        self.history.append({"step": self.runner.state.step, "train_nll": round(nll, 4)})
        self.log.emit("eval", step=self.runner.state.step, train_nll=round(nll, 4))
        return False  # a fixed budget: the shape was chosen on held-out sounds (bench/RESULTS.md, sixth session)

    def checkpoint_info(self) -> dict[str, Any]:
        return {"vqvae_fingerprint": self.fingerprint, "model": str(self.req.model_path), "config": to_dict(self.cfg),
                "train": to_dict(self.req.train)}

    def stage_state(self) -> dict[str, Any]:
        return {"history": self.history}

    def best_tensors(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def stopped_result(self) -> MaskedResult:
        st = self.runner.state
        return MaskedResult("stopped", self.req.model_path, self.req.run_dir, st.step, st.elapsed_s, None,
                            count_parameters(self.model), self.warnings)

    def finish(self, stopped_by: str) -> FinalModel:
        st = self.runner.state
        nll = self.probe_nll()
        self.model.eval().cpu()
        doc = {"architecture": "masked", "vqvae_fingerprint": self.fingerprint, "config": to_dict(self.cfg),
               "train": to_dict(self.req.train), "parameters": count_parameters(self.model),
               "train_nll": round(nll, 4),
               "data": {"root": str(self.data_dir), "files": len(self.codes.grids),
                        "augmented_grids": len(self.codes.augmented)},
               "training": {"steps": st.step, "seconds": round(st.elapsed_s, 2), "stopped_by": stopped_by,
                            "history": self.history, "warnings": self.warnings}}
        return FinalModel(doc, {"masked": {k: v.detach().cpu() for k, v in copy.deepcopy(self.model.state_dict()).items()}})

    def write_model(self, final: FinalModel, again: bool) -> MaskedResult:
        """Add the masked prior to the model file atomically; the VQ-VAE, the causal prior and the rest stay."""
        req, st = self.req, self.runner.state
        summary = MaskedPriorSummary.from_dict(final.doc, "masked_prior", req.run_dir)
        mf = load_model_file(req.model_path)
        if mf.fingerprint != summary.vqvae_fingerprint:
            raise BadInputError("the model's VQ-VAE changed while the masked prior trained; train it again", req.model_path)
        groups = {name: group for name, group in mf.tensors.items() if name != "masked"}
        groups["masked"] = final.tensors["masked"]
        save_model_file(req.model_path, dataclasses.replace(mf.document, masked_prior=summary), groups)
        self.log.emit("done", step=st.step, model=str(req.model_path), elapsed_s=round(st.elapsed_s, 2),
                      architecture="masked", train_nll=final.doc.get("train_nll"))
        return MaskedResult("done", req.model_path, req.run_dir, st.step, st.elapsed_s, final.doc.get("train_nll"),
                            int(final.doc.get("parameters", 0)), list(self.warnings))


def masked_config(levels: int, codebook_sizes: list[int], **overrides: Any) -> MaskedConfig:
    """The default shape (bench/RESULTS.md, sixth session), with the asked-for fields (None keeps the default)."""
    cfg = MaskedConfig(levels=levels, codebook_sizes=list(codebook_sizes))
    for key, value in overrides.items():
        if value is not None:
            setattr(cfg, key, value)
    cfg.validate()
    return cfg


def train_masked(req: MaskedRequest, echo: Callable[[dict[str, Any]], None] | None = None) -> MaskedResult:
    """Run (or resume) a masked-prior training; see `MaskedTrainer` and `runner.Runner`."""
    return MaskedTrainer(req, EventLog(req.run_dir, echo=echo)).run()


def result_json(res: MaskedResult) -> dict[str, Any]:
    return {"status": res.status, "model": str(res.model_path), "run_dir": str(res.run_dir), "step": res.step,
            "seconds": round(res.seconds, 2), "architecture": "masked", "train_nll": res.train_nll,
            "parameters": res.parameters, "warnings": res.warnings}
