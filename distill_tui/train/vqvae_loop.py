"""Stage 1: train the RVQ-VAE on a folder of sounds, in a run folder that survives interruption.

The loop itself (budget, learning rate, signals, checkpoints, resume) is `runner.Runner`'s; this module
is the stage: AdamW with gradient clipping, k-means init from one large batch, dead-code replacement
(in the quantizer), validation every N steps with best-model keeping and early stopping. Non-finite
losses or gradients skip the step; a streak of them rolls back to the last good state at half the
learning rate. Out of device memory halves the batch. A collapsed level is re-initialized. At the end unused
codes are re-pointed and the final (or best) state is written as the model file."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..analysis.codebook import HealthReport, continuous_distance_db, dataset_health
from ..audio.spectrogram import sound_db
from ..config import (
    ModelConfig,
    SpectrogramConfig,
    TrainConfig,
    adaptive_model_config,
    from_dict,
    to_dict,
)
from ..data.dataset import (
    Augment,
    CropSampler,
    RateSettings,
    ScanResult,
    corpus_spectrogram,
    scan,
    split,
    validation_items,
)
from ..errors import BadInputError, DistillError, OutputError
from ..fileio import atomic_write_json, reason_of
from ..model.vqvae import VQVAE, spectral_loss
from ..persistence.document import DatasetSummary, HealthSummary, ModelDocument, TrainingSummary
from ..persistence.model_file import read_document, save_model_file
from ..words import counted
from .adamw import AdamW
from .budget_lr import SHORT_LR, schedule_for
from .checkpoint import Checkpoint, load_optimizer
from .events import EventLog
from .runfolder import check_same_sounds, check_writable_folder
from .runner import FinalModel, Runner
from .state import Budget, LoopConfig, pick_device, pick_precision
from .width import WidthChoice, width_for

__all__ = ["LossHook", "Trainer", "TrainRequest", "TrainResult", "pick_device", "train_vqvae"]

LossHook = Callable[[int, torch.Tensor], torch.Tensor]
RESUMED_TRAIN_KEYS = {"batch_size", "crop_frames", "seed", "warmup_steps"}  # a resumed run keeps these as they were


@dataclass
class TrainRequest:
    data_dir: Path
    output: Path
    run_dir: Path
    spec: SpectrogramConfig = field(default_factory=SpectrogramConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    model_overrides: dict[str, Any] = field(default_factory=dict)  # levels, codebook_size, stride, ...
    # The spectrogram fields the user set (a flag or the config file); the others follow the corpus:
    # a fresh run trains at the folder's most common rate, with STFT sizes scaled to it (`data.dataset.corpus_spectrogram`).
    spec_given: frozenset[str] = frozenset({"sample_rate", "n_fft", "hop_length"})


@dataclass
class TrainResult:
    status: str  # "done" or "stopped"
    output: Path | None
    run_dir: Path
    step: int
    seconds: float
    best_val_db: float
    fingerprint: str | None
    health: dict[str, Any] | None
    warnings: list[str]


@dataclass
class _Running:
    """Stage 1's own running values, saved in every checkpoint (`TrainerState.stage`)."""

    smooth_val_db: float | None = None  # validation on a few held-out sounds is noisy: a running average
    best_train_db: float | None = None  # the decode error on the training sounds themselves (the sounds edited)
    evals_since_train_best: int = 0
    healthy_at_s: float | None = None


class Trainer:
    """The stage-1 hooks for `Runner`; `run()` trains (or resumes) and returns a `TrainResult`."""

    name = "model"

    def __init__(self, req: TrainRequest, log: EventLog, loss_hook: LossHook | None = None) -> None:
        self.req = req
        self.log = log
        self.loss_hook = loss_hook  # tests use it to inject non-finite losses
        self.runner = Runner(self, req.run_dir, log)
        self.running = _Running()
        self.rate: RateSettings | None = None  # a fresh run's rate and why (`data.dataset.corpus_spectrogram`)
        self.width: WidthChoice | None = None  # a fresh time-budgeted run's width and why (`width.py`)
        self.model: VQVAE | None = None
        self.threads_governed = False  # set by `setup` (CPU only)
        self.optimizer: AdamW | None = None
        self.peak_lr: float | None = None  # with lr None: the peak chosen from the budget (`budget_lr`)

    @property
    def stop_signal(self) -> str | None:
        return self.runner.stop_signal

    @stop_signal.setter
    def stop_signal(self, name: str | None) -> None:
        self.runner.stop_signal = name

    @property
    def warnings(self) -> list[str]:
        return self.runner.warnings

    def run(self) -> TrainResult:
        return self.runner.run()

    # ------------------------------------------------------------------ setup
    def check_resumable(self, ckpt: Checkpoint) -> None:
        req, st = self.req, self.runner.state
        check_same_sounds(req.run_dir, st.data_dir, req.data_dir)
        req.spec = from_dict(SpectrogramConfig, ckpt.info["spectrogram"])
        saved = {k: v for k, v in ckpt.info.get("train", {}).items() if k in RESUMED_TRAIN_KEYS}
        req.train = from_dict(TrainConfig, {**to_dict(req.train), **saved})

    def setup(self, ckpt: Checkpoint | None) -> None:
        req, st = self.req, self.runner.state
        check_writable_folder(req.output, "model file")
        if ckpt is not None:
            self.running = _Running(**st.stage)
        else:
            self.rate = corpus_spectrogram(req.spec, req.data_dir, req.spec_given)
            req.spec = self.rate.spec
        tc, spec = req.train, req.spec
        scanned = scan(req.data_dir, spec, max_file_seconds=tc.max_file_seconds, trim_silence=tc.trim_silence)
        summary = scanned.summary(req.data_dir, spec.sample_rate)
        refs = sorted(f.ref_db for f in scanned.files)
        self.dataset_doc = {**asdict(summary), "median_ref_db": refs[len(refs) // 2], "notes": scanned.notes}
        self.device = device = pick_device(tc.device)
        self.threads_governed = device == "cpu"  # one thread while that is cheaper: the runner's `governor.py`
        req.train = tc = replace(tc, precision=pick_precision(tc.precision, device))  # what runs is what is recorded
        torch.manual_seed(tc.seed)
        if ckpt is not None:
            cfg = from_dict(ModelConfig, ckpt.info["model"])
        else:
            overrides = {k: v for k, v in req.model_overrides.items() if k != "n_bins"}  # n_bins follows the spectrogram
            cfg = adaptive_model_config(summary.files, summary.minutes, spec.n_bins, **overrides)
            self.width = width_for(cfg, spec, tc, device) if overrides.get("channels") is None else None
            cfg = replace(cfg, channels=self.width.channels) if self.width else cfg
        if tc.crop_frames % cfg.stride:
            raise BadInputError(f"crop of {tc.crop_frames} frames is not a multiple of the stride {cfg.stride}")
        self.cfg = cfg
        self.model = model = VQVAE(cfg, floor_db=spec.floor_db).to(device)
        # fused: one kernel for every parameter; on 2 CPU cores 2.6 ms a step instead of 6.0 ms
        self.optimizer = AdamW(model.parameters(), lr=tc.lr or SHORT_LR, weight_decay=tc.weight_decay, betas=(0.9, 0.99),
                               fused=device in ("cpu", "cuda"))
        self.split = sp = split(scanned.files, (tc.crop_frames - 1) * spec.hop_length, seed=tc.seed, holdout=tc.holdout)
        if sp.by_file:  # `eval` reports these files apart
            self.dataset_doc["held_out"] = sorted(f.digest for f in sp.val)
        self.sampler = CropSampler(sp, spec, tc.crop_frames, seed=tc.seed + st.step, augment=Augment.of(tc))
        self.train_items = [(f.samples, f.ref_db) for f in sp.train]
        self.val_items = self.train_items if sp.holdout == "none" else validation_items(sp)
        self.batch_size = tc.batch_size
        self.bad_streak = 0
        self.usage = self._empty_usage()
        st.data_dir = str(req.data_dir.resolve())
        if ckpt is not None:
            model.load_state_dict(ckpt.group("model"))
            load_optimizer(self.optimizer, ckpt.group("optim"), ckpt.optim_groups)
            self.best_state = {k: v.to(device) for k, v in ckpt.group("best").items()} or copy.deepcopy(model.state_dict())
            self.log.emit("resume", step=st.step, elapsed_s=st.elapsed_s, files=summary.files, cached=scanned.cached,
                          device=device)
        else:
            self._start(scanned, summary, sp)
            first = self.sampler.batch(64, augment=False).to(self.device)  # (64, F, T): starts both
            if req.train.principal_init:  # the spectrum's way in and out at the principal directions (decision 43)
                model.start_at_principal_directions(first)
            self._kmeans_init(first)
            self.best_state = copy.deepcopy(model.state_dict())

    def _start(self, scanned: ScanResult, summary: Any, sp: Any) -> None:
        req = self.req
        atomic_write_json(req.run_dir / "run.json", {"data_dir": str(req.data_dir.resolve()), "output": str(req.output),
                                                     "version": __version__}, "run record", indent=1)
        self.log.emit(
            "start", step=0, files=summary.files, minutes=summary.minutes, skipped=summary.skipped,
            notes=scanned.notes, cached=scanned.cached, device=self.device, model=to_dict(self.cfg),
            train=to_dict(req.train), spectrogram=to_dict(req.spec),
            split={"files": "by file", "crops": "held-out crops"}.get(sp.holdout, "none held out"),
            train_files=len(sp.train), val_files=len(sp.val) if sp.by_file else 0,
        )
        for s in summary.skipped:
            self.runner.warn(f"skipped {s['path']}: {s['reason']}", f"skip:{s['path']}", step=0, once=True)
        if self.rate is not None and self.rate.note:
            self.log.emit("rate", step=0, sample_rate=req.spec.sample_rate, message=self.rate.note)
        if self.rate is not None and self.rate.warning:
            self.runner.warn(self.rate.warning, "upsampled", step=0, once=True)
        if self.width is not None:
            self.log.emit("width", step=0, **self.width.event_fields(req.train.minutes or 0.0))

    def loop_config(self) -> LoopConfig:
        tc = self.req.train
        return LoopConfig(Budget(tc.steps, tc.minutes, tc.clock), schedule_for(tc, self._peak_chosen),
                          tc.eval_every, tc.checkpoint_every_s)

    def _peak_chosen(self, lr: float, expected_steps: float) -> None:
        self.peak_lr = lr  # the step events show the rate; the model file records this peak

    def on_train_start(self, fresh: bool) -> None:
        self.last_good = (copy.deepcopy(self.model.state_dict()), copy.deepcopy(self.optimizer.state_dict()))
        self.model.train()

    def checkpoint_info(self) -> dict[str, Any]:
        return {"spectrogram": to_dict(self.req.spec), "model": to_dict(self.cfg), "train": to_dict(self.req.train),
                "output": str(self.req.output)}

    def stage_state(self) -> dict[str, Any]:
        return asdict(self.running)

    def best_tensors(self) -> dict[str, torch.Tensor]:
        return self.best_state

    def _empty_usage(self) -> list[torch.Tensor]:
        return [torch.zeros(k, dtype=torch.long) for k in self.cfg.codebook_sizes]  # (codebook_size,) per level

    # ------------------------------------------------------------------ training
    def training_step(self, lr: float) -> bool:
        tc, model, opt, step = self.req.train, self.model, self.optimizer, self.runner.state.step
        try:
            crops = self.sampler.crops(self.batch_size)
            target = crops.db.to(self.device)  # (B, n_bins, crop_frames)
            with torch.autocast(target.device.type, torch.bfloat16, enabled=tc.precision == "bfloat16"):
                out = model(target)
            recon = spectral_loss(out.recon_db.float(), target, crops.inside)
            loss = recon + out.quant.commit_loss
            if self.loss_hook is not None:
                loss = self.loss_hook(step, loss)
            finite = bool(torch.isfinite(loss))
            if finite:
                opt.zero_grad(set_to_none=True)
                loss.backward()
                finite = bool(torch.isfinite(torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)))
                if finite:
                    opt.step()
        except torch.OutOfMemoryError:
            self._halve_batch()
            return False
        if not finite or not _buffers_finite(model):
            self._non_finite()
            return False
        self.bad_streak = 0
        self.last = (loss, recon, out.quant.commit_loss)
        if out.quant.indices is not None:
            idx = out.quant.indices.detach().cpu()  # (B, positions, levels); -1 where a position is padding
            for q, k in enumerate(self.cfg.codebook_sizes):
                col = idx[..., q].reshape(-1)
                self.usage[q] += torch.bincount(col[col >= 0], minlength=k)[:k]
        return True

    def _halve_batch(self) -> None:
        if self.batch_size <= 1:
            raise DistillError("out of device memory even at batch size 1; try --device cpu") from None
        self.batch_size //= 2
        self.optimizer.zero_grad(set_to_none=True)
        if self.device == "cuda":
            torch.cuda.empty_cache()
        self.runner.warn(f"out of device memory: batch size halved to {self.batch_size}", "oom")
        self.runner.show_next_step()  # show the new batch size with the next step

    def _non_finite(self) -> None:
        """Skip the step; five in a row (or poisoned buffers) roll back to the last good state at half the rate."""
        st = self.runner.state
        self.bad_streak += 1
        self.optimizer.zero_grad(set_to_none=True)
        if self.bad_streak < 5 and _buffers_finite(self.model):
            self.log.emit("warning", step=st.step, message="non-finite loss or gradient: step skipped", key="nonfinite-skip")
            return
        st.lr_scale *= 0.5
        self.model.load_state_dict(self.last_good[0])
        self.optimizer.load_state_dict(self.last_good[1])
        self.runner.warn(f"non-finite loss or gradient {self.bad_streak} times: rolled back to the last good state "
                         f"with learning rate x{st.lr_scale:g}", "nonfinite")
        self.bad_streak = 0
        if st.lr_scale < 1e-3:
            raise DistillError("training keeps diverging (non-finite loss) even at a tiny learning rate")

    def step_fields(self) -> dict[str, Any]:
        loss, recon, commit = self.last
        return {"loss": round(float(loss.detach()), 4), "recon_db": round(float(recon.detach()), 4),
                "commit": round(float(commit.detach()), 5), "batch_size": self.batch_size,
                "batch_utilization": [round(float((u > 0).float().mean()), 3) for u in self.usage]}

    def validation(self, progress: float) -> bool:
        st, run, tc, step = self.runner.state, self.running, self.req.train, self.runner.state.step
        val_db, health = self._evaluate(step)
        self.usage = self._empty_usage()
        run.smooth_val_db = val_db if run.smooth_val_db is None else 0.5 * run.smooth_val_db + 0.5 * val_db
        improved = run.smooth_val_db < st.best_or_inf - 1e-4
        if improved:
            st.best, st.evals_since_best = run.smooth_val_db, 0
            self.best_state = copy.deepcopy(self.model.state_dict())
            try:
                save_model_file(self.req.run_dir / "best.distill", self.model_document(health.as_dict()), {"vqvae": self.best_state})
            except OutputError as exc:
                self.log.emit("warning", step=step, message=f"best model not saved: {exc}", key="best")
        else:
            st.evals_since_best += 1
        train_db = health.distance_db[-1]
        if run.best_train_db is None or train_db < run.best_train_db - 1e-3:
            run.best_train_db, run.evals_since_train_best = train_db, 0
        else:
            run.evals_since_train_best += 1
        if run.healthy_at_s is None and self.cfg.quantize and health.healthy(0.9, tc.min_level_gain_db):
            run.healthy_at_s = st.elapsed_s
        self.log.emit("eval", step=step, val_db=round(val_db, 4), smooth_val_db=round(run.smooth_val_db, 4),
                      best_val_db=round(st.best_or_inf, 4), improved=improved, healthy_at_s=run.healthy_at_s,
                      elapsed_s=round(st.elapsed_s, 2))
        self._check_health(self.model, health, step, judge_gains=False)
        if _buffers_finite(self.model):
            self.last_good = (copy.deepcopy(self.model.state_dict()), copy.deepcopy(self.optimizer.state_dict()))
        # Stop early when nothing improves any more: neither held-out sounds nor the training sounds
        # (with a handful of files the held-out ones alone stop improving long before the model has
        # learnt the user's own sounds). At a high learning rate a flat curve says little: second half only.
        stale = min(st.evals_since_best, run.evals_since_train_best)
        if stale >= tc.early_stop_evals and progress >= 0.5:
            self.log.emit("warning", step=step, key="early-stop", message=f"neither validation nor training error has "
                          f"improved for {stale} evaluations: stopping early")
            return True
        return False

    # ------------------------------------------------------------------ the end
    def stopped_result(self) -> TrainResult:
        st = self.runner.state
        return TrainResult("stopped", None, self.req.run_dir, st.step, st.elapsed_s, st.best_or_inf, None, None, self.warnings)

    def finish(self, stopped_by: str) -> FinalModel:
        """Evaluate once more, keep the final (or best) state, re-point unused codes, judge the health.

        Which state to keep: `keep = "final"` (default) keeps the last one, which has seen the learning
        rate decay and fits the user's own sounds best; `"best"` keeps the one that did best on held-out
        sounds. With few files these disagree (measured: 18 training files, held-out error rising from
        12.6 to 14.5 dB while the training error fell), so the choice is said out loud either way.
        """
        st, run, step = self.runner.state, self.running, self.runner.state.step
        val_db, _ = self._evaluate(step)
        run.smooth_val_db = val_db if run.smooth_val_db is None else 0.5 * run.smooth_val_db + 0.5 * val_db
        smooth, best = run.smooth_val_db, st.best_or_inf
        worse = not math.isinf(best) and smooth > best * 1.05
        if self.req.train.keep == "final" or not worse:
            self.best_state, kept = copy.deepcopy(self.model.state_dict()), "final"
            if worse and self.split.holdout != "none":
                self.log.emit("warning", step=step, key="overfit", message=f"held-out sounds decode worse now than earlier "
                              f"({smooth:.2f} vs {best:.2f} dB): the model fits your own sounds best but generalizes "
                              "less; train with more files, or keep the earlier state with keep = \"best\"")
            st.best = min(best, smooth)
        else:
            kept = "best"
            self.log.emit("warning", step=step, key="overfit", message=f"the final model generalizes worse than the best one "
                          f"({smooth:.2f} vs {best:.2f} dB on held-out audio): keeping the best")
        self.model.load_state_dict(self.best_state)
        health_doc = self._final_health(step)
        doc = self.model_document(health_doc, healthy_at_s=run.healthy_at_s, stopped_by=stopped_by, kept=kept,
                                  final_val_db=round(val_db, 4), warnings=self.warnings)
        return FinalModel(doc, {"vqvae": self.best_state})

    def _final_health(self, step: int) -> dict[str, Any] | None:
        """Re-point unused codes, then judge every level (its gain too); the health document, with counts."""
        if not self.cfg.quantize:
            return None
        refilled = self._refill_dead_codes()
        if any(refilled):
            self.best_state = copy.deepcopy(self.model.state_dict())
            self.log.emit("codebook", step=step, refilled=refilled, message="unused codes re-pointed at the "
                          f"positions quantized worst, per level: {', '.join(map(str, refilled))}")
        final = dataset_health(self.model, self.train_items, self.req.spec, self.device)
        self._check_health(self.model, final, step, reinit=False)
        return {**final.as_dict(), "counts": final.counts}

    def model_document(self, health: dict[str, Any] | None, **training: Any) -> dict[str, Any]:
        """The model file's JSON document (`best.distill` and the model written at the end); `training`: extra keys.

        Built as a typed `ModelDocument` (which checks it) and kept as JSON, as the checkpoint stores it.
        """
        st = self.runner.state
        summary = {"steps": st.step, "seconds": round(st.elapsed_s, 2), "device": self.device, "train": to_dict(self.req.train),
                   "best_val_db": None if st.best is None else round(st.best, 4), "peak_lr": self.peak_lr or self.req.train.lr,
                   **training}
        return ModelDocument(
            fingerprint="", spectrogram=self.req.spec, model=self.cfg,
            dataset=DatasetSummary.from_dict(self.dataset_doc, "dataset"),
            training=TrainingSummary.from_dict(summary, "training"),
            health=None if health is None else HealthSummary.from_dict(health, "health"),
            distill_tui_version=__version__,
        ).to_dict()

    def write_model(self, final: FinalModel, again: bool) -> TrainResult:
        req, st = self.req, self.runner.state
        if again and req.output.exists():
            written = read_document(req.output)
            self.log.emit("warning", step=st.step, key="finished",
                          message=f"this run already finished; the model is {req.output} (to train it again: delete {req.run_dir} and add --force)")
            health = None if written.health is None else written.health.to_dict()
            return TrainResult("done", req.output, req.run_dir, st.step, st.elapsed_s, st.best_or_inf, written.fingerprint,
                               health, [])
        document = ModelDocument.from_dict(final.doc, req.run_dir)  # the one reader, as for a model file
        try:
            req.output.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot make the model's folder ({reason_of(exc)})", req.output.parent) from exc
        fp = save_model_file(req.output, document, final.tensors)
        health = None if document.health is None else document.health.to_dict()
        self.log.emit("done", step=st.step, output=str(req.output), fingerprint=fp, best_val_db=round(st.best_or_inf, 4),
                      elapsed_s=round(st.elapsed_s, 2), health=health and {k: v for k, v in health.items() if k != "counts"},
                      stopped_by=document.training.stopped_by, healthy_at_s=document.training.healthy_at_s)
        return TrainResult("done", req.output, req.run_dir, st.step, st.elapsed_s, st.best_or_inf, fp, health,
                           list(document.training.warnings or self.warnings))

    # --------------------------------------------------------------- helpers
    @torch.no_grad()
    def _kmeans_init(self, first: torch.Tensor) -> None:
        """k-means on many more vectors than any codebook, so every code starts where data is; crops `first` (64, F, T) and more."""
        model, tc = self.model, self.req.train
        if not model.cfg.quantize or not model.cfg.kmeans_init:
            return
        need = max(tc.kmeans_init_vectors, 16 * max(model.cfg.codebook_sizes))
        more = math.ceil(math.ceil(need / (tc.crop_frames // model.cfg.stride)) / 64) - 1  # batches of 64 crops after `first`
        batches = [first] + [self.sampler.batch(64, augment=False).to(self.device) for _ in range(more)]
        z = torch.cat([model.encode_latent(b) for b in batches])  # (crops, positions, latent_dim)
        model.quantizer.kmeans_init_(z.reshape(1, -1, z.shape[-1]))

    @torch.no_grad()
    def _refill_dead_codes(self) -> list[int]:
        """Once, at the end: codes no training position uses take the positions quantized worst."""
        model, spec = self.model, self.req.spec
        was_training = model.training
        model.eval()
        try:
            z = [model.sound_latent(sound_db(samples, spec, ref, self.device))[0] for samples, ref in self.train_items]
            return model.quantizer.refill_dead_codes_(torch.cat([*z, model.silence_latent()[None]]))  # (N, D)
        finally:
            model.train(was_training)

    def _evaluate(self, step: int) -> tuple[float, HealthReport]:
        """The validation distance (dB) and the codebook health over the training sounds."""
        model, spec, device = self.model, self.req.spec, self.device
        health = dataset_health(model, self.train_items, spec, device) if model.cfg.quantize else None
        val = health  # holdout "none": validation is the fit on the training sounds
        if self.val_items is not self.train_items and model.cfg.quantize:
            val = dataset_health(model, self.val_items, spec, device)
        val_db = val.distance_db[-1] if val else continuous_distance_db(model, self.val_items, spec, device)
        if health is not None:
            self.log.emit("health", step=step, **health.as_dict())
        return val_db, health or HealthReport([], [val_db], [])

    def _check_health(self, model: VQVAE, health: HealthReport, step: int, reinit: bool = True,
                      judge_gains: bool = True) -> None:
        """Warn about (or re-initialize) unhealthy levels. `judge_gains`: also warn about levels that add
        almost nothing. Only the final model is judged so: during a run the gains are noise (RESULTS.md: a
        level 2 at -0.05 dB at step 200 that ended at +0.17 dB; on the demo, 0.01 dB at a quarter of the run
        and 0.096 dB at the end). The advice promises a smaller grid, not a closer sound: models with one
        level fewer, trained as long, came out no closer (RESULTS.md, two levels against three, three seeds)."""
        tc, warn = self.req.train, self.runner.warn
        gains = health.level_gain_db
        for q, h in enumerate(health.levels):
            size = model.cfg.codebook_sizes[q]
            used = size - h.dead_codes
            if reinit and used <= tc.collapse_codes:
                model.quantizer.reinit_level_(q)
                warn(f"level {q + 1} collapsed to {counted(used, 'code')}: its codebook was re-initialized", f"collapse:{q}",
                     step, level=q + 1)
            elif h.utilization < tc.low_utilization:
                warn(f"level {q + 1} uses only {h.utilization:.0%} of its {size} codes: fewer codes per level (--codebook-"
                     f"size {max(8, 2 ** int(math.log2(max(used, 8))))}) or more sounds would fill it", f"util:{q}", step,
                     once=True, level=q + 1)
            if judge_gains and q < len(gains) and gains[q] < tc.min_level_gain_db:
                warn(f"level {q + 1} changes the sound by only {gains[q]:.2f} dB, so its row holds little to edit: with "
                     f"{counted(max(1, q), 'level')} (--levels {max(1, q)}) the grid is smaller, but trained as long the "
                     "sound comes out no closer", f"gain:{q}", step, once=True, level=q + 1)


def _buffers_finite(model: VQVAE) -> bool:
    return all(torch.isfinite(b).all() for b in model.buffers() if b.is_floating_point())


def train_vqvae(req: TrainRequest, echo: Callable[[dict[str, Any]], None] | None = None,
                loss_hook: LossHook | None = None) -> TrainResult:
    """Run (or resume) a stage-1 training; see `Trainer` and `runner.Runner`."""
    return Trainer(req, EventLog(req.run_dir, echo=echo), loss_hook).run()

