"""Stage 2: freeze the VQ-VAE, encode the sounds (cached, augmented), train the prior, store it in the model file.

The loop (budget, learning rate, signals, checkpoints, resume) is `runner.Runner`'s; this module is
the stage. Before the loop, k-fold cross-validation by file (`prior_folds.py`) decides, on whole
held-out sounds, whether the network beats the same-level bigram and at which step; the loop then
trains the final prior on every file. At the end the memorization guard (copy rate, nearest grid)
is computed and stored with the prior and the fold figures; a network that lost to the bigram
across the folds falls back to the bigram itself.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..analysis.memorization import BigramResult, MemorizationReport, bigram_log_tables, memorization_report
from ..config import from_dict, to_dict
from ..data.dataset import scan
from ..errors import BadInputError
from ..fileio import atomic_write_json
from ..inference.codec import Codec, build_vqvae
from ..inference.generate import Prior, SamplingSettings, silence_column
from ..model.cross_level import cross_table
from ..model.ngram import ngram_table
from ..model.prior import PriorConfig, PriorModel, adaptive_prior_config, count_parameters
from ..persistence.document import PriorSummary
from ..persistence.model_file import load_model_file, save_model_file
from ..threads import torch_threads
from .adamw import AdamW
from .checkpoint import Checkpoint, load_optimizer
from .events import EventLog
from .prior_data import (  # noqa: F401 - re-exported: tests and benchmarks import them from here
    FileCodes,
    GridEncoder,
    WindowSampler,
    encode_files,
    perplexity,
    pitch_shift,
)
from .prior_folds import FoldDecision, calibrate, decide, make_folds, run_fold, train_step
from .runfolder import check_same_sounds, check_writable_folder
from .runner import FinalModel, Runner
from .state import Budget, LoopConfig, Schedule, make_clock, pick_device

RESUME_KEEPS_ASKED = {"steps", "minutes", "device", "clock"}  # a resumed run takes these from the request


@dataclass
class PriorTrainConfig:
    """Stage-2 training. `steps` bounds each fold and the final run; `minutes`, when given, the whole of them."""

    steps: int = 600  # per fold and for the final prior (3 CPU minutes on 20 files allowed about 500)
    minutes: float | None = None
    clock: str = "wall"  # what `minutes` counts: "wall" time, or "cpu" (process CPU time / threads)
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 0.1  # heavy: 5 to 500 sounds
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 50
    patience: int = 8  # unused since the k-fold decision (the folds choose the step); kept for older run folders
    start_share: float = 0.3  # share of training windows that begin where their sound begins
    augment: bool = True  # pitch-shifted copies and mixtures of the training sounds, encoded like the originals
    pitch_semitones: list[float] = field(default_factory=lambda: [-2.0, -1.0, 1.0, 2.0])
    mixes_per_file: float = 1.0
    gain_db: list[float] = field(default_factory=lambda: [-6.0, 6.0])  # louder/softer copies of each training sound
    time_shifts: list[float] = field(default_factory=lambda: [0.5])  # copies delayed by this share of a code column
    label_smoothing: float = 0.1  # share of each target spread over its level's codes (VampNet's 0.1)
    cross_level: bool = True  # the blend may give a share to the cross-level table (model/cross_level.py)
    memory: bool = True  # the blend may lean on the sound's own codes so far (model/memory.py), as the folds choose
    # the three above: fold-mean held-out perplexity 41.7 against 47.2 without them on pads-drums-20 (bench/RESULTS.md)
    folds: int = 5  # cross-validation folds by file for the network-or-bigram decision (at most the file count)
    generated_grids: int = 8  # generated at temperature 1.0 for the memorization guard
    seed: int = 0
    checkpoint_every_s: float = 60.0
    device: str = "cpu"  # the prior is tiny: CPU is fast enough and keeps GPU memory free
    threads: int = 1  # CPU threads; on a shared 2-core box a second thread made steps 1-10x slower, never 2x faster


@dataclass
class PriorRequest:
    model_path: Path
    run_dir: Path
    data_dir: Path | None = None  # None: the folder the VQ-VAE was trained on
    train: PriorTrainConfig = field(default_factory=PriorTrainConfig)
    prior_overrides: dict[str, Any] = field(default_factory=dict)  # architecture, context, layers, d_model, ...


@dataclass
class PriorResult:
    status: str  # "done" or "stopped"
    model_path: Path
    run_dir: Path
    step: int
    seconds: float
    architecture: str
    report: MemorizationReport | None
    warnings: list[str]
    train_files: int = 0
    val_files: int = 0  # sounds held out in the folds (each file once), 0 for one sound judged on its tail
    folds: dict[str, Any] | None = None  # `FoldDecision.as_dict()`


@dataclass
class FoldSchedule(Schedule):
    """The folds' schedule for the final run: progress is step / `horizon` (the folds' step count), so the
    final prior sees the learning rates the folds saw, whatever the budget's clock says."""

    horizon: int = 1

    def rate(self, step: int, progress: float, scale: float = 1.0) -> float:
        return super().rate(step, step / max(self.horizon, 1), scale)


class PriorTrainer:
    """The stage-2 hooks for `Runner`; `run()` trains (or resumes) and returns a `PriorResult`.

    `setup` encodes every sound and runs the k-fold decision (`prior_folds.py`) before the loop; the
    loop then trains the final prior on every file for the folds' step count and keeps its state at
    the folds' best step.
    """

    name = "prior"
    threads_governed = False  # its own thread count (`threads` in its config)

    def __init__(self, req: PriorRequest, log: EventLog) -> None:
        self.req = req
        self.log = log
        self.runner = Runner(self, req.run_dir, log)
        self.history: list[dict[str, float]] = []
        self.model: PriorModel | None = None
        self.optimizer: AdamW | None = None
        self.decision: FoldDecision | None = None
        self._report: MemorizationReport | None = None

    @property
    def stop_signal(self) -> str | None:
        return self.runner.stop_signal

    @property
    def warnings(self) -> list[str]:
        return self.runner.warnings

    def run(self) -> PriorResult:
        with torch_threads(self.req.train.threads):
            return self.runner.run()

    # ------------------------------------------------------------------ setup
    def setup(self, ckpt: Checkpoint | None) -> None:
        req, st = self.req, self.runner.state
        check_writable_folder(req.model_path, "model file")
        mf = load_model_file(req.model_path)
        if not mf.document.model.quantize:
            raise BadInputError("this is a continuous-baseline model: it has no codes to train a prior on", req.model_path)
        vq, spec = build_vqvae(mf, req.model_path)
        self.codec = codec = Codec(vq, spec, mf.fingerprint, mf.document)
        self.fingerprint = mf.fingerprint
        tc = req.train
        self.data_dir = data_dir = self._data_dir(mf.document.dataset.root)
        self.scanned = scanned = scan(data_dir, spec, max_file_seconds=mf.document.training.max_file_seconds)
        self.codes = encode_files(codec, scanned.files, tc)  # every file: the final prior trains on all of them
        if not self.codes.grids:
            raise BadInputError("no sound could be encoded (all silent?)", data_dir)
        self.fold_codes, self.folds, self.split = fold_plan(self.codes, tc)
        sizes = codec.codebook_sizes
        cfg = (from_dict(PriorConfig, ckpt.info["config"]) if ckpt is not None
               else adaptive_prior_config(len(scanned.files), codec.cfg.levels, sizes, **req.prior_overrides,
                                          memory_silence=int(silence_column(codec)[0])))
        self.cfg = cfg
        self.device = pick_device(tc.device)
        torch.manual_seed(tc.seed)
        self.model = model = PriorModel(cfg).to(self.device)
        self.optimizer = AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, betas=(0.9, 0.98))
        self.train_tokens = sum(g.size for g in self.codes.grids + self.codes.augmented)
        st.data_dir = str(data_dir.resolve())
        if ckpt is not None:
            model.load_state_dict(ckpt.group("model"))
            self.best_state = {k: v.to(self.device) for k, v in ckpt.group("best").items()}
            load_optimizer(self.optimizer, ckpt.group("optim"), ckpt.optim_groups)
            self.history = list(st.stage.get("history", []))
            folds = st.stage.get("folds")
            self.decision = FoldDecision(**folds) if folds else None
            self.log.emit("resume", step=st.step, elapsed_s=st.elapsed_s, files=len(scanned.files),
                          cached=self.codes.cached, device=self.device)
        else:
            self._start()
        if self.split != "by file":
            self.runner.warn("only one sound: the decision is judged on its last fifth, not a held-out sound", "split")
        if self.decision is None:
            self._cross_validate()
        d = self.decision
        grids = self.codes.grids + (self.codes.augmented if d is not None and d.bigram_augmented else [])
        self.tables = bigram_log_tables(grids, sizes, d.bigram_alpha if d is not None else 0.1)
        if ckpt is None:
            model.set_bigram(*self.tables)  # with cfg.bigram_base the prior starts as the baseline
            self.best_state = copy.deepcopy(model.state_dict())

    def _cross_validate(self) -> None:
        """The k folds, each a fresh network for the same step count (from the budget when it is in minutes)."""
        tc, st = self.req.train, self.runner.state
        clock = make_clock(tc.clock)
        t0 = clock()
        steps, limit = tc.steps, None
        if tc.minutes:  # the folds and the final run share the budget evenly
            per_run = tc.minutes * 60 * 0.95 / (len(self.folds) + 1)
            steps = min(steps, calibrate(self.cfg, tc, self.fold_codes, self.folds[0], per_run, clock))
            limit = 1.5 * per_run
        results = []
        for i, held in enumerate(self.folds):
            r = run_fold(self.cfg, tc, self.fold_codes, held, steps, stop=lambda: self.runner.stop_signal is not None,
                         clock=clock, limit_s=limit)
            if self.runner.stop_signal is not None:
                return  # stopped: the loop ends at once, and a resumed run begins the folds again
            results.append(r)
            tokens = sum(r.tokens)
            self.log.emit("fold", step=0, fold=i + 1, folds=len(self.folds), held_out=r.held_out, steps=r.steps[-1],
                          best_val_ppl=round(math.exp(min(sum(c) for c in r.network) / tokens), 4),
                          bigram_val_ppl=round(math.exp(min(sum(b) for b in r.bigram) / tokens), 4),
                          cpu_s=round(r.cpu_s, 2))
        self.decision = d = decide(results, len(self.codes.grids), steps, cross=tc.cross_level, memory=tc.memory)
        st.elapsed_s += clock() - t0
        self.log.emit("folds", step=0, elapsed_s=round(st.elapsed_s, 2), **d.as_dict())

    def check_resumable(self, ckpt: Checkpoint) -> None:
        """The run folder must train a prior for this VQ-VAE, of the shape asked for; it keeps its settings."""
        req, info = self.req, ckpt.info
        fingerprint = load_model_file(req.model_path).fingerprint
        if info.get("vqvae_fingerprint") != fingerprint:
            raise BadInputError(
                f"this run folder trained a prior for another VQ-VAE (fingerprint {info.get('vqvae_fingerprint')}, "
                f"the model is {fingerprint}); delete it or pass --run", req.run_dir)
        check_same_sounds(req.run_dir, self.runner.state.data_dir, req.data_dir)
        saved = {k: v for k, v in info.get("train", {}).items() if k not in RESUME_KEEPS_ASKED}
        req.train = from_dict(PriorTrainConfig, {**to_dict(req.train), **saved})
        config = info.get("config", {})
        differ = {k: (config.get(k), v) for k, v in req.prior_overrides.items() if config.get(k) != v}
        if differ:
            what = ", ".join(f"{k} {old} (asked {new})" for k, (old, new) in differ.items())
            raise BadInputError(f"this run folder trains a prior with {what}; delete it or pass --run DIR to train another",
                                req.run_dir)

    def _data_dir(self, root: str) -> Path:
        """The folder asked for, else the one this run trained on, else the one the model was trained on (`root`)."""
        st = self.runner.state
        if self.req.data_dir is not None:
            return self.req.data_dir
        if st.data_dir:
            return Path(st.data_dir)
        if not root:
            raise BadInputError("give DATA_DIR: the model does not say which folder it was trained on", self.req.model_path)
        if not Path(root).exists():
            raise BadInputError(f"the folder the model was trained on ({root}) is gone: give DATA_DIR", self.req.model_path)
        return Path(root)

    def _start(self) -> None:
        req, codes, tc = self.req, self.codes, self.req.train
        atomic_write_json(req.run_dir / "run.json", {"model": str(req.model_path), "data_dir": str(self.data_dir.resolve()),
                                                     "version": __version__, "stage": "prior"}, "run record", indent=1)
        self.log.emit(
            "start", step=0, files=len(self.scanned.files), train_files=len(codes.grids), folds=len(self.folds),
            split=self.split, augmented_grids=len(codes.augmented), train_tokens=int(self.train_tokens),
            cached=codes.cached, device=self.device, prior=to_dict(self.cfg), train=to_dict(tc),
            parameters=count_parameters(self.model), vqvae_fingerprint=self.fingerprint,
        )
        for s in self.scanned.skipped:
            self.runner.warn(f"skipped {s['path']}: {s['reason']}", f"skip:{s['path']}", step=0)

    def loop_config(self) -> LoopConfig:
        tc, d = self.req.train, self.decision
        steps = d.fold_steps if d is not None else 1
        # the folds' step count bounds the final run, not the clock: the stored network is trained as the folds were
        return LoopConfig(Budget(steps, None, tc.clock), FoldSchedule(tc.lr, tc.warmup_steps, tc.min_lr_ratio, steps),
                          tc.eval_every, tc.checkpoint_every_s)

    def on_train_start(self, fresh: bool) -> None:
        if fresh:
            self._evaluate()
        tc, st = self.req.train, self.runner.state
        self.sampler = WindowSampler(self.cfg, self.codes.grids + self.codes.augmented, tc.start_share, tc.seed + st.step)
        self.model.train()

    def checkpoint_info(self) -> dict[str, Any]:
        return {"vqvae_fingerprint": self.fingerprint, "model": str(self.req.model_path), "config": to_dict(self.cfg),
                "train": to_dict(self.req.train)}

    def stage_state(self) -> dict[str, Any]:
        return {"history": self.history, "folds": None if self.decision is None else dataclasses.asdict(self.decision)}

    def best_tensors(self) -> dict[str, torch.Tensor]:
        return self.best_state

    # ------------------------------------------------------------------ training
    def training_step(self, lr: float) -> bool:
        """One step of the final prior, on every file; the state at the folds' best step is the one kept."""
        loss = train_step(self.model, self.optimizer, self.sampler, self.req.train, lr, self.device)
        if loss is None:
            self.runner.warn("non-finite loss: step skipped", "nonfinite")
            return False
        self.last_loss = loss
        if self.decision is not None and self.runner.state.step + 1 == self.decision.stored_step:
            self.best_state = copy.deepcopy(self.model.state_dict())
        return True

    def step_fields(self) -> dict[str, Any]:
        return {"loss": round(float(self.last_loss), 4)}

    def validation(self, progress: float) -> bool:
        self._evaluate()
        return False  # no held-out sound left to stop on: the folds chose the step

    def _evaluate(self) -> None:
        st, d = self.runner.state, self.decision
        train_ppl = perplexity(self.model, self.codes.grids[:64])
        self.history.append({"step": st.step, "train_ppl": round(train_ppl, 4)})
        folds = {} if d is None else {"val_ppl": round(d.network_perplexity, 4), "bigram_val_ppl": round(d.bigram_perplexity, 4)}
        self.log.emit("eval", step=st.step, train_ppl=round(train_ppl, 4), **folds)  # val: the folds' held-out figure

    # ------------------------------------------------------------------ the end
    def stopped_result(self) -> PriorResult:
        st = self.runner.state
        return PriorResult("stopped", self.req.model_path, self.req.run_dir, st.step, st.elapsed_s, self.cfg.architecture,
                           None, self.warnings, len(self.codes.grids), len(self.codes.grids))

    def finish(self, stopped_by: str) -> FinalModel:
        """The state at the folds' best step (or the bigram, if the network lost across the folds) and the guard."""
        st, codes, tc, d = self.runner.state, self.codes, self.req.train, self.decision
        assert d is not None
        if not self.history or self.history[-1]["step"] != st.step:
            self._evaluate()
        self.model.load_state_dict(self.best_state)
        cfg, model, fallback = self.cfg, self.model, None
        if d.keep_blend:
            cfg, model = self._blended(d)
        elif not d.keep_network:  # with `bigram_base` too: a fresh base model, its head at zero, is the bigram alone
            base_cfg = from_dict(PriorConfig, {**to_dict(cfg), "bigram_base": True})
            base_model = PriorModel(base_cfg)
            if base_model.use_base:  # a vocabulary too large for the table keeps the network, with the warning below
                fallback, cfg, model = "bigram", base_cfg, base_model
                model.set_bigram(*self.tables)  # the head starts at zero: this prior is exactly the bigram
        if not d.keep_network and not d.keep_blend:
            self.runner.warn(f"the network did not beat the bigram on held-out sounds (mean over {d.folds} folds: "
                             f"{d.network_perplexity:.2f} against {d.bigram_perplexity:.2f})" +
                             (": the prior falls back to the bigram" if fallback else
                              "; the vocabulary is too large to store the bigram instead"), "fallback")
        model.eval().cpu()
        val_ppl = d.bigram_perplexity if fallback else d.blend_perplexity if d.keep_blend else d.network_perplexity
        bigram = BigramResult(d.bigram_alpha, d.bigram_perplexity, int(sum(g.size for g in codes.grids)), d.bigram_augmented)
        lengths = sorted(g.shape[1] for g in codes.grids)
        gen_positions = int(min(max(lengths[len(lengths) // 2], 16), 2 * cfg.context))
        generated = list(Prior(model, self.fingerprint).generate_batch(
            tc.generated_grids, gen_positions, SamplingSettings(temperature=1.0, seed=tc.seed)))
        report = memorization_report(val_ppl, perplexity(model, codes.grids), bigram, generated, codes.grids,
                                     self.codec.codebook_sizes)
        if fallback:
            report.verdict += "; the prior samples like the bigram"
        self._report = report
        doc = self.prior_document(report, cfg, model, fallback, stopped_by, gen_positions)
        return FinalModel(doc, {"prior": {k: v.detach().cpu() for k, v in model.state_dict().items()}})

    def _blended(self, d: FoldDecision) -> tuple[PriorConfig, PriorModel]:
        """The trained network blended with the bigram of every file's codes (and their augmented copies, as
        in the folds), and with the cross-level table when the folds gave it a share, with the kind,
        smoothing and per-level weights the folds chose."""
        cfg = from_dict(PriorConfig, {**to_dict(self.cfg), "blend": d.blend, "blend_weights": d.blend_weights,
                                      "cross_weights": d.cross_weights, "ngram_weights": d.ngram_weights,
                                      "ngram_order": d.ngram_order, "memory_modes": d.memory_modes,
                                      "memory_decays": d.memory_decays, "memory_kappas": d.memory_kappas})
        model = PriorModel(cfg)
        missing, unexpected = model.load_state_dict(self.best_state, strict=False)
        assert not unexpected and set(missing) <= {"bigram", "cross", "ngram.table"}, (missing, unexpected)
        model.set_bigram(*blend_bigram(self.codes, self.codec.codebook_sizes, d.blend_alpha))
        if d.cross_weights:
            model.set_cross(cross_table(cfg, self.codes.grids + self.codes.augmented, d.cross_alpha))
        if d.ngram_weights:  # model/ngram.py, fitted like the folds fit it
            model.set_ngram(ngram_table(cfg, self.codes.grids + self.codes.augmented, d.ngram_order))
        return cfg, model

    def prior_document(self, report: MemorizationReport, cfg: PriorConfig, model: PriorModel, fallback: str | None,
                       stopped_by: str, gen_positions: int) -> dict[str, Any]:
        """The model file's "prior" document."""
        st, codes, d = self.runner.state, self.codes, self.decision
        assert d is not None
        return {
            "architecture": "bigram" if fallback else cfg.architecture,  # a fallback prior is the bigram itself
            "val_perplexity": round(report.val_perplexity, 4),
            "bigram_val_perplexity": round(report.bigram_val_perplexity, 4),
            "copy_rate_8gram": round(report.copy_rate_8gram, 4),
            "verdict": report.verdict,
            "folds": d.as_dict(),
            "train_perplexity": round(report.train_perplexity, 4),
            "nearest_hamming": round(report.nearest_hamming, 4),
            "copy_rate_8gram_by_level": [round(c, 4) for c in report.copy_rate_8gram_by_level],
            "bigram_alpha": report.bigram_alpha,
            "bigram_augmented": d.bigram_augmented,
            "fallback": fallback,
            "vqvae_fingerprint": self.fingerprint,
            "config": to_dict(cfg),
            "train": to_dict(self.req.train),
            "parameters": count_parameters(model),
            "data": {"root": str(self.data_dir), "files": len(self.scanned.files), "train_files": len(codes.grids),
                     "val_files": len(codes.grids) if self.split == "by file" else 0, "split": self.split,
                     "folds": len(self.folds), "augmented_grids": len(codes.augmented),
                     "train_tokens": int(self.train_tokens)},
            "training": {"steps": st.step, "seconds": round(st.elapsed_s, 2), "stopped_by": stopped_by,
                         "best_step": d.best_step, "history": self.history, "warnings": self.warnings},
            "generated_positions": gen_positions,
            "distill_tui_version": __version__,
        }

    def write_model(self, final: FinalModel, again: bool) -> PriorResult:
        """Add the prior to the model file atomically; the VQ-VAE tensors and doc keys stay as they were."""
        req, st = self.req, self.runner.state
        prior = PriorSummary.from_dict(final.doc, "prior", req.run_dir)  # the one reader, as for a model file
        if again:
            self.runner.warn("this run had finished; writing its prior again", "finished")
        mf = load_model_file(req.model_path)  # again: the file must still hold the VQ-VAE the prior was trained on
        if mf.fingerprint != prior.vqvae_fingerprint:
            raise BadInputError("the model's VQ-VAE changed while the prior trained; train the prior again", req.model_path)
        groups = {name: group for name, group in mf.tensors.items() if name != "prior"}
        groups["prior"] = final.tensors["prior"]
        save_model_file(req.model_path, dataclasses.replace(mf.document, prior=prior), groups)
        saved = prior.to_dict()
        report = self._report or MemorizationReport(**{k: saved[k] for k in MemorizationReport.__dataclass_fields__})
        training, data = saved["training"], saved["data"]
        self.log.emit("done", step=st.step, model=str(req.model_path), elapsed_s=round(st.elapsed_s, 2),
                      stopped_by=training["stopped_by"], report=report.as_dict(), architecture=prior.architecture,
                      folds=prior.folds)
        return PriorResult("done", req.model_path, req.run_dir, st.step, st.elapsed_s, prior.architecture, report,
                           list(training["warnings"]), data["train_files"], data["val_files"], prior.folds)


def blend_bigram(codes: FileCodes, sizes: list[int], alpha: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The blend's bigram: log tables of every file's codes and their augmented copies, as each fold fitted it."""
    return bigram_log_tables(codes.grids + codes.augmented, sizes, alpha)


def fold_plan(codes: FileCodes, tc: PriorTrainConfig) -> tuple[FileCodes, list[list[int]], str]:
    """The grids the folds split, the held-out indices per fold, and the split's name. One sound: its
    first four fifths train, its last fifth is held out (one fold, no augmentation)."""
    if len(codes.grids) >= 2:
        return codes, make_folds(len(codes.grids), tc.seed, tc.folds), "by file"
    g = codes.grids[0]
    cut = max(1, int(g.shape[1] * 0.8))
    tail = g[:, cut:] if cut < g.shape[1] else g
    return FileCodes([codes.names[0], codes.names[0] + " (end)"], [g[:, :cut], tail], [], []), [[1]], "held-out tail"


def train_prior(req: PriorRequest, echo: Callable[[dict[str, Any]], None] | None = None) -> PriorResult:
    """Run (or resume) a stage-2 training; see `PriorTrainer` and `runner.Runner`."""
    return PriorTrainer(req, EventLog(req.run_dir, echo=echo)).run()


def result_json(res: PriorResult) -> dict[str, Any]:
    return {"status": res.status, "model": str(res.model_path), "run_dir": str(res.run_dir), "step": res.step,
            "seconds": round(res.seconds, 2), "architecture": res.architecture, "train_files": res.train_files,
            "val_files": res.val_files, "warnings": res.warnings, "folds": res.folds,
            "prior": None if res.report is None else asdict(res.report)}
