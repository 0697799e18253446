"""Stage 1: train the RVQ-VAE on a folder of sounds, in a run folder that survives interruption.

The loop: AdamW with warm-up and cosine decay, gradient clipping, k-means init from one large
batch, dead-code replacement (in the quantizer), optional quantizer dropout, validation every N steps with
best-model keeping and early stopping. Non-finite losses or gradients skip the step; a streak of
them rolls back to the last good state at half the learning rate. A collapsed level is
re-initialized. SIGINT/SIGTERM save a checkpoint and stop; running again resumes.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..analysis.codebook import HealthReport, dataset_health
from ..audio.spectrogram import sound_db
from ..config import ModelConfig, SpectrogramConfig, TrainConfig, adaptive_model_config, from_dict, to_dict
from ..data.dataset import CropSampler, ScanResult, scan, split, validation_items
from ..errors import BadInputError, DistillError, OutputError
from ..model.vqvae import VQVAE, spectral_loss
from ..persistence.model_file import load_model_file, save_model_file
from .events import EventLog, errors_logged, write_json_atomic
from .signals import stop_on_signals

LossHook = Callable[[int, torch.Tensor], torch.Tensor]


def pick_device(name: str) -> str:
    """`auto` picks CUDA, then MPS, then CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise BadInputError("--device cuda asked for, but no CUDA device is available")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise BadInputError("--device mps asked for, but MPS is not available")
    if name not in {"cpu", "cuda", "mps"}:
        raise BadInputError(f"unknown device {name!r} (auto, cpu, cuda, mps)")
    return name


@dataclass
class TrainRequest:
    data_dir: Path
    output: Path
    run_dir: Path
    spec: SpectrogramConfig = field(default_factory=SpectrogramConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    model_overrides: dict[str, Any] = field(default_factory=dict)  # levels, codebook_size, stride, ...


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


class _Stop(Exception):
    pass


class Trainer:
    def __init__(self, req: TrainRequest, log: EventLog, loss_hook: LossHook | None = None) -> None:
        self.req = req
        self.log = log
        self.loss_hook = loss_hook  # tests use it to inject non-finite losses
        self.stop_signal: str | None = None
        self.warnings: list[str] = []
        self._active_warnings: set[str] = set()

    # ----------------------------------------------------------------- setup
    def _warn(self, key: str, message: str, step: int, **extra: Any) -> None:
        if key in self._active_warnings:
            return
        self._active_warnings.add(key)
        self.warnings.append(message)
        self.log.emit("warning", step=step, message=message, key=key, **extra)

    def _request_stop(self, name: str) -> None:
        self.stop_signal = name

    def _scan(self) -> ScanResult:
        tc = self.req.train
        return scan(self.req.data_dir, self.req.spec, max_file_seconds=tc.max_file_seconds, trim_silence=tc.trim_silence)

    # ------------------------------------------------------------------ main
    def run(self) -> TrainResult:
        try:
            with stop_on_signals(self._request_stop):
                return self._run()
        finally:
            self.log.close()

    def _run(self) -> TrainResult:
        req, tc = self.req, self.req.train
        run_dir = req.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        ckpt_path = run_dir / "checkpoint.distill"
        run_json = run_dir / "run.json"
        t_setup = time.time()

        resume = ckpt_path.exists()
        state_doc: dict[str, Any] = {}
        if resume:
            mf = load_model_file(ckpt_path)
            state_doc = mf.doc.get("trainer", {})
            if state_doc.get("data_dir") and Path(state_doc["data_dir"]).resolve() != req.data_dir.resolve():
                raise BadInputError(f"this run folder trains on {state_doc['data_dir']}, not {req.data_dir}", run_dir)
            if state_doc.get("finished"):
                return self._already_done(state_doc)
            spec = from_dict(SpectrogramConfig, mf.doc["spectrogram"])
            tc = from_dict(TrainConfig, {**to_dict(tc), **{k: v for k, v in state_doc.get("train", {}).items() if k in {"batch_size", "crop_frames", "seed", "warmup_steps"}}})
            req.spec, req.train = spec, tc
        scanned = self._scan()
        spec = req.spec
        summary = scanned.summary(req.data_dir, spec.sample_rate)
        refs = sorted(f.ref_db for f in scanned.files)
        dataset_doc = {**asdict(summary), "median_ref_db": refs[len(refs) // 2], "notes": scanned.notes}

        device = pick_device(tc.device)
        torch.manual_seed(tc.seed)
        if resume:
            cfg = from_dict(ModelConfig, mf.doc["model"])
        else:
            overrides = {k: v for k, v in req.model_overrides.items() if k != "n_bins"}  # n_bins follows the spectrogram
            cfg = adaptive_model_config(summary.files, summary.minutes, spec.n_bins, **overrides)
        if tc.crop_frames % cfg.stride:
            raise BadInputError(f"crop of {tc.crop_frames} frames is not a multiple of the stride {cfg.stride}")
        model = VQVAE(cfg, floor_db=spec.floor_db).to(device)
        # fused: one kernel for every parameter; on 2 CPU cores 2.6 ms a step instead of 6.0 ms
        opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, betas=(0.9, 0.99),
                                fused=device in ("cpu", "cuda"))

        sp = split(scanned.files, (tc.crop_frames - 1) * spec.hop_length, seed=tc.seed, holdout=tc.holdout)
        sampler = CropSampler(sp, spec, tc.crop_frames, seed=tc.seed + int(state_doc.get("step", 0)))
        train_items = [(f.samples, f.ref_db) for f in sp.train]
        val_items = train_items if sp.holdout == "none" else validation_items(sp)

        step = 0
        elapsed = 0.0
        best_val = math.inf
        lr_scale = 1.0
        evals_since_best = 0
        smooth_val: float | None = None  # validation on a few held-out sounds is noisy: compare a running average
        best_train = math.inf  # the decode error on the training sounds themselves (the sounds the user edits)
        evals_since_train_best = 0
        healthy_at: float | None = None
        if resume:
            model.load_state_dict(mf.group("vqvae"))
            _load_optimizer(opt, mf.group("optim"), state_doc.get("optim_groups"))
            step = int(state_doc.get("step", 0))
            elapsed = float(state_doc.get("elapsed_s", 0.0))
            saved_best = state_doc.get("best_val_db")
            best_val = math.inf if saved_best is None else float(saved_best)
            lr_scale = float(state_doc.get("lr_scale", 1.0))
            evals_since_best = int(state_doc.get("evals_since_best", 0))
            smooth_val = state_doc.get("smooth_val_db")
            best_train = float(state_doc.get("best_train_db") or math.inf)
            evals_since_train_best = int(state_doc.get("evals_since_train_best", 0))
            healthy_at = state_doc.get("healthy_at_s")
            best_path = run_dir / "best.distill"
            best_state = load_model_file(best_path).group("vqvae") if best_path.exists() else copy.deepcopy(model.state_dict())
            self.log.emit("resume", step=step, elapsed_s=elapsed, files=summary.files, cached=scanned.cached, device=device)
        else:
            write_json_atomic(run_json, {"data_dir": str(req.data_dir.resolve()), "output": str(req.output), "version": __version__})
            self.log.emit(
                "start", step=0, files=summary.files, minutes=summary.minutes, skipped=summary.skipped,
                notes=scanned.notes, cached=scanned.cached, device=device, model=to_dict(cfg), train=to_dict(tc),
                spectrogram=to_dict(spec), split={"files": "by file", "crops": "held-out crops"}.get(sp.holdout, "none held out"),
                train_files=len(sp.train), val_files=len(sp.val) if sp.by_file else 0,
            )
            for s in summary.skipped:
                self._warn(f"skip:{s['path']}", f"skipped {s['path']}: {s['reason']}", 0)
            self._kmeans_init(model, sampler, tc, device)
            best_state = copy.deepcopy(model.state_dict())

        def make_doc(extra_trainer: dict[str, Any] | None = None, health: dict | None = None) -> dict[str, Any]:
            doc = {
                "spectrogram": to_dict(spec), "model": to_dict(cfg), "dataset": dataset_doc,
                "training": {"steps": step, "seconds": round(elapsed, 2), "device": device, "train": to_dict(tc),
                             "best_val_db": None if math.isinf(best_val) else round(best_val, 4)},
                "health": health, "prior": None, "distill_tui_version": __version__,
            }
            if extra_trainer is not None:
                doc["trainer"] = extra_trainer
            return doc

        def trainer_state(finished: bool = False) -> dict[str, Any]:
            return {
                "data_dir": str(req.data_dir.resolve()), "output": str(req.output), "step": step, "elapsed_s": elapsed,
                "best_val_db": None if math.isinf(best_val) else best_val, "lr_scale": lr_scale,
                "evals_since_best": evals_since_best, "smooth_val_db": smooth_val,
                "best_train_db": None if math.isinf(best_train) else best_train, "evals_since_train_best": evals_since_train_best,
                "healthy_at_s": healthy_at, "finished": finished,
                "train": to_dict(tc), "optim_groups": [{k: v for k, v in g.items() if k != "params"} for g in opt.state_dict()["param_groups"]],
            }

        def checkpoint(reason: str) -> bool:
            try:
                save_model_file(ckpt_path, make_doc(trainer_state()), {"vqvae": model.state_dict(), "optim": _flatten_optimizer(opt)})
            except OutputError as exc:
                self.log.emit("warning", step=step, message=f"checkpoint not saved: {exc}; the previous checkpoint is kept", key="checkpoint")
                return False
            self.log.emit("checkpoint", step=step, path=str(ckpt_path), reason=reason)
            return True

        if not resume:
            checkpoint("initial")
        last_good = (copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()))
        print_setup = round(time.time() - t_setup, 3)
        self.log.emit("ready", step=step, setup_s=print_setup)

        max_steps = tc.steps
        budget_s = tc.minutes * 60 if tc.minutes else None
        bad_streak = 0
        last_ckpt_time = time.time()
        last_step_event = 0.0
        usage_window = [torch.zeros(k, dtype=torch.long) for k in cfg.codebook_sizes]
        batch_size = tc.batch_size
        t_last = time.time()
        steps_since = 0
        stopped_by = None
        model.train()

        clock = _clock(tc.clock)
        t_prev = clock()
        while True:
            now = clock()
            elapsed += now - t_prev  # time of the whole loop: steps, evaluations and checkpoints
            t_prev = now
            progress = step / max_steps
            if budget_s:
                progress = max(progress, elapsed / budget_s)
            if progress >= 1.0:
                stopped_by = "budget"
                break
            if self.stop_signal:
                stopped_by = "signal"
                break
            lr = tc.lr * lr_scale * _lr_factor(step, progress, tc)
            for g in opt.param_groups:
                g["lr"] = lr
            try:
                crops = sampler.crops(batch_size)
                target = crops.db.to(device)
                out = model(target)
                recon = spectral_loss(out.recon_db, target, crops.inside)
                loss = recon + out.quant.commit_loss
                if self.loss_hook is not None:
                    loss = self.loss_hook(step, loss)
                finite = bool(torch.isfinite(loss))
                if finite:
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
                    finite = bool(torch.isfinite(gnorm))
                    if finite:
                        opt.step()
            except torch.OutOfMemoryError:
                if batch_size <= 1:
                    raise DistillError("out of device memory even at batch size 1; try --device cpu") from None
                batch_size //= 2
                opt.zero_grad(set_to_none=True)
                if device == "cuda":
                    torch.cuda.empty_cache()
                self.log.emit("warning", step=step, message=f"out of device memory: batch size halved to {batch_size}", key="oom")
                self.warnings.append(f"out of device memory: batch size halved to {batch_size}")
                last_step_event = 0.0  # show the new batch size with the next step
                continue
            if not finite or not _buffers_finite(model):
                bad_streak += 1
                opt.zero_grad(set_to_none=True)
                if bad_streak >= 5 or not _buffers_finite(model):
                    lr_scale *= 0.5
                    model.load_state_dict(last_good[0])
                    opt.load_state_dict(last_good[1])
                    msg = f"non-finite loss or gradient {bad_streak} times: rolled back to the last good state with learning rate x{lr_scale:g}"
                    self.warnings.append(msg)
                    self.log.emit("warning", step=step, message=msg, key="nonfinite")
                    bad_streak = 0
                    if lr_scale < 1e-3:
                        raise DistillError("training keeps diverging (non-finite loss) even at a tiny learning rate")
                else:
                    self.log.emit("warning", step=step, message="non-finite loss or gradient: step skipped", key="nonfinite-skip")
                continue
            bad_streak = 0
            step += 1
            steps_since += 1
            if out.quant.indices is not None:
                idx = out.quant.indices.detach().cpu()
                for q, k in enumerate(cfg.codebook_sizes):
                    col = idx[..., q].reshape(-1)
                    col = col[col >= 0]
                    usage_window[q] += torch.bincount(col, minlength=k)[:k]
            now = time.time()
            if now - last_step_event >= 1.0 or step == 1:
                sps = steps_since / max(now - t_last, 1e-6)
                self.log.emit(
                    "step", step=step, loss=round(float(loss.detach()), 4), recon_db=round(float(recon.detach()), 4),
                    commit=round(float(out.quant.commit_loss.detach()), 5), lr=lr, steps_per_s=round(sps, 2),
                    elapsed_s=round(elapsed, 2), progress=round(min(progress, 1.0), 4), batch_size=batch_size,
                    batch_utilization=[round(float((u > 0).float().mean()), 3) for u in usage_window],
                )
                last_step_event, t_last, steps_since = now, now, 0
            if step % tc.eval_every == 0:
                val_db, health = self._evaluate(model, train_items, val_items, spec, device, step)
                usage_window = [torch.zeros(k, dtype=torch.long) for k in cfg.codebook_sizes]
                smooth_val = val_db if smooth_val is None else 0.5 * smooth_val + 0.5 * val_db
                improved = smooth_val < best_val - 1e-4
                if improved:
                    best_val, evals_since_best = smooth_val, 0
                    best_state = copy.deepcopy(model.state_dict())
                    try:
                        save_model_file(run_dir / "best.distill", make_doc(health=health.as_dict()), {"vqvae": best_state})
                    except OutputError as exc:
                        self.log.emit("warning", step=step, message=f"best model not saved: {exc}", key="best")
                else:
                    evals_since_best += 1
                train_db = health.distance_db[-1]
                if train_db < best_train - 1e-3:
                    best_train, evals_since_train_best = train_db, 0
                else:
                    evals_since_train_best += 1
                if healthy_at is None and cfg.quantize and health.healthy(0.9, tc.min_level_gain_db):
                    healthy_at = elapsed
                self.log.emit("eval", step=step, val_db=round(val_db, 4), smooth_val_db=round(smooth_val, 4), best_val_db=round(best_val, 4),
                              improved=improved, healthy_at_s=healthy_at, elapsed_s=round(elapsed, 2))
                self._check_health(model, health, step, judge_gains=False)
                if _buffers_finite(model):
                    last_good = (copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()))
                # Stop early when nothing improves any more: neither held-out sounds nor the training sounds
                # (with a handful of files the held-out ones alone stop improving long before the model has
                # learnt the user's own sounds). At a high learning rate a flat curve says little: second half only.
                stale = min(evals_since_best, evals_since_train_best)
                if stale >= tc.early_stop_evals and progress >= 0.5:
                    self.log.emit("warning", step=step, message=f"neither validation nor training error has improved for {stale} evaluations: stopping early", key="early-stop")
                    stopped_by = "early-stop"
                    break
            if time.time() - last_ckpt_time >= tc.checkpoint_every_s:
                checkpoint("periodic")
                last_ckpt_time = time.time()

        if stopped_by == "signal":
            checkpoint(f"stopped by {self.stop_signal}")
            self.log.emit("stopped", step=step, signal=self.stop_signal, elapsed_s=round(elapsed, 2),
                          message="checkpoint saved; run the same command again to resume")
            return TrainResult("stopped", None, run_dir, step, elapsed, best_val, None, None, self.warnings)

        # finish: evaluate once more, keep the best, write the model file
        # Which state to keep: `keep = "final"` (default) keeps the last one, which has seen the learning
        # rate decay and fits the user's own sounds best; `"best"` keeps the one that did best on held-out
        # sounds. With few files these disagree (measured: 18 training files, held-out error rising from
        # 12.6 to 14.5 dB while the training error fell), so the choice is said out loud either way.
        val_db, health = self._evaluate(model, train_items, val_items, spec, device, step)
        smooth_val = val_db if smooth_val is None else 0.5 * smooth_val + 0.5 * val_db
        worse = not math.isinf(best_val) and smooth_val > best_val * 1.05
        if tc.keep == "final" or not worse:
            best_state = copy.deepcopy(model.state_dict())
            kept = "final"
            if worse and sp.holdout != "none":
                self.log.emit("warning", step=step, key="overfit", message=f"held-out sounds decode worse now than earlier "
                              f"({smooth_val:.2f} vs {best_val:.2f} dB): the model fits your own sounds best but generalizes "
                              "less; train with more files, or keep the earlier state with keep = \"best\"")
            best_val = min(best_val, smooth_val)
        else:
            kept = "best"
            self.log.emit("warning", step=step, key="overfit", message=f"the final model generalizes worse than the best one "
                          f"({smooth_val:.2f} vs {best_val:.2f} dB on held-out audio): keeping the best")
        model.load_state_dict(best_state)
        if cfg.quantize:
            refilled = self._refill_dead_codes(model, train_items, spec, device)
            if any(refilled):
                best_state = copy.deepcopy(model.state_dict())
                self.log.emit("codebook", step=step, refilled=refilled, message="unused codes re-pointed at the "
                              f"positions quantized worst, per level: {', '.join(map(str, refilled))}")
        final = dataset_health(model, train_items, spec, device) if cfg.quantize else None
        if final is not None:
            self._check_health(model, final, step, reinit=False)
        health_doc = final.as_dict() if final else None
        if health_doc is not None:
            health_doc["counts"] = final.counts
        doc = make_doc(health=health_doc)
        doc["training"]["healthy_at_s"] = healthy_at
        doc["training"]["stopped_by"] = stopped_by
        doc["training"]["kept"] = kept
        doc["training"]["final_val_db"] = round(val_db, 4)
        doc["training"]["warnings"] = self.warnings
        req.output.parent.mkdir(parents=True, exist_ok=True) if req.output.parent != Path("") else None
        fp = save_model_file(req.output, doc, {"vqvae": best_state})
        try:
            save_model_file(ckpt_path, make_doc(trainer_state(finished=True)), {"vqvae": model.state_dict(), "optim": _flatten_optimizer(opt)})
        except OutputError:
            pass
        result = TrainResult("done", req.output, run_dir, step, elapsed, best_val, fp, health_doc, self.warnings)
        self.log.emit("done", step=step, output=str(req.output), fingerprint=fp, best_val_db=round(best_val, 4),
                      elapsed_s=round(elapsed, 2), health=health_doc and {k: v for k, v in health_doc.items() if k != "counts"},
                      stopped_by=stopped_by, healthy_at_s=healthy_at)
        return result

    def _already_done(self, state_doc: dict[str, Any]) -> TrainResult:
        out = Path(state_doc.get("output", self.req.output))
        if not out.exists():
            raise BadInputError(f"this run already finished but its model {out} is gone; delete the run folder to train again", self.req.run_dir)
        doc = load_model_file(out).doc
        self.log.emit("warning", step=state_doc.get("step"), message=f"this run already finished; the model is {out} (delete {self.req.run_dir} to train again)", key="finished")
        return TrainResult("done", out, self.req.run_dir, int(state_doc.get("step", 0)), float(state_doc.get("elapsed_s", 0)),
                           float(state_doc.get("best_val_db") or math.inf), doc["fingerprint"], doc.get("health"), [])

    # --------------------------------------------------------------- helpers
    def _kmeans_init(self, model: VQVAE, sampler: CropSampler, tc: TrainConfig, device: str) -> None:
        """k-means on one batch with many more vectors than any codebook (design.md §4)."""
        if not model.cfg.quantize or not model.cfg.kmeans_init:
            return
        per_crop = tc.crop_frames // model.cfg.stride
        need = max(tc.kmeans_init_vectors, 16 * max(model.cfg.codebook_sizes))
        n_crops = math.ceil(need / per_crop)
        with torch.no_grad():
            z = torch.cat([model.encode_latent(sampler.batch(64).to(device)) for _ in range(math.ceil(n_crops / 64))])
        model.quantizer.kmeans_init_(z.reshape(1, -1, z.shape[-1]))

    @torch.no_grad()
    def _refill_dead_codes(self, model: VQVAE, items, spec, device) -> list[int]:
        """Once, at the end: codes no training position uses take the positions quantized worst."""
        was_training = model.training
        model.eval()
        try:
            z = [model.sound_latent(sound_db(samples, spec, ref, device))[0] for samples, ref in items]
            return model.quantizer.refill_dead_codes_(torch.cat([*z, model.silence_latent()[None]]))  # (N, D)
        finally:
            model.train(was_training)

    def _evaluate(self, model: VQVAE, train_items, val_items, spec, device, step) -> tuple[float, HealthReport]:
        """The validation distance (dB) and the codebook health over the training sounds."""
        health = dataset_health(model, train_items, spec, device) if model.cfg.quantize else None
        val = health  # holdout "none": validation is the fit on the training sounds
        if val_items is not train_items and model.cfg.quantize:
            val = dataset_health(model, val_items, spec, device)
        val_db = val.distance_db[-1] if val else _continuous_val(model, val_items, spec, device)
        if health is not None:
            self.log.emit("health", step=step, **health.as_dict())
        return val_db, health or HealthReport([], [val_db], [])

    def _check_health(self, model: VQVAE, health: HealthReport, step: int, reinit: bool = True,
                      judge_gains: bool = True) -> None:
        """Warn about (or re-initialize) unhealthy levels. `judge_gains`: also warn about levels that add
        almost nothing. Only the final model is judged so: during a run the gains are noise (RESULTS.md: a
        level 2 at -0.05 dB at step 200 that ended at +0.17 dB; on the demo, 0.01 dB at a quarter of the run
        and 0.096 dB at the end)."""
        tc = self.req.train
        gains = health.level_gain_db
        for q, h in enumerate(health.levels):
            size = model.cfg.codebook_sizes[q]
            used = size - h.dead_codes
            if reinit and used <= tc.collapse_codes:
                model.quantizer.reinit_level_(q)
                msg = f"level {q + 1} collapsed to {used} code(s): its codebook was re-initialized"
                self.warnings.append(msg)
                self.log.emit("warning", step=step, message=msg, key=f"collapse:{q}", level=q + 1)
            elif h.utilization < tc.low_utilization:
                self._warn(f"util:{q}", f"level {q + 1} uses only {h.utilization:.0%} of its {size} codes: "
                           f"try --codebook-size {max(8, 2 ** int(math.log2(max(used, 8))))} or more audio", step, level=q + 1)
            if judge_gains and q < len(gains) and gains[q] < tc.min_level_gain_db:
                self._warn(f"gain:{q}", f"level {q + 1} adds only {gains[q]:.2f} dB to the reconstruction: "
                           f"try --levels {max(1, q)}", step, level=q + 1)


@torch.no_grad()
def _continuous_val(model: VQVAE, items, spec, device) -> float:
    from ..model.vqvae import frame_distance_db

    model.eval()
    total, frames = 0.0, 0
    for samples, ref in items:
        db = model.pad_frames(sound_db(samples, spec, ref, device))
        pred = model.reconstruct_continuous(db)
        total += float(frame_distance_db(pred, db)[0]) * db.shape[-1]
        frames += db.shape[-1]
    model.train()
    return total / max(frames, 1)


def _clock(kind: str) -> Callable[[], float]:
    """"wall": seconds on the wall clock. "cpu": this process's CPU seconds divided by torch's thread
    count, i.e. wall time on an otherwise idle machine; it makes budgets comparable on a shared one."""
    if kind == "wall":
        return time.time
    if kind == "cpu":
        threads = max(torch.get_num_threads(), 1)
        return lambda: time.process_time() / threads
    raise BadInputError(f"unknown clock {kind!r} (wall or cpu)")


def _lr_factor(step: int, progress: float, tc: TrainConfig) -> float:
    if step < tc.warmup_steps:
        return (step + 1) / tc.warmup_steps
    return tc.min_lr_ratio + (1 - tc.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _buffers_finite(model: VQVAE) -> bool:
    return all(torch.isfinite(b).all() for b in model.buffers() if b.is_floating_point())


def _flatten_optimizer(opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """AdamW state as named tensors (no pickle): optim.<param index>.<key>."""
    flat = {}
    for idx, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            flat[f"{idx}.{key}"] = value if isinstance(value, torch.Tensor) else torch.tensor(value)
    return flat


def _load_optimizer(opt: torch.optim.Optimizer, flat: dict[str, torch.Tensor], groups: list[dict] | None) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in flat.items():
        idx, _, key = name.partition(".")
        state.setdefault(int(idx), {})[key] = tensor
    sd = opt.state_dict()
    if groups:
        for g, saved in zip(sd["param_groups"], groups, strict=False):
            g.update({k: v for k, v in saved.items() if k != "params"})
    sd["state"] = state
    opt.load_state_dict(sd)


def train_vqvae(req: TrainRequest, echo=None, loss_hook: LossHook | None = None) -> TrainResult:
    """Run (or resume) a stage-1 training; see `Trainer`."""
    log = EventLog(req.run_dir, echo=echo)
    with errors_logged(req.run_dir):
        return Trainer(req, log, loss_hook).run()

