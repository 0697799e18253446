"""Stage 2: freeze the VQ-VAE, encode the sounds (cached, augmented), train the prior, store it in the model file.

Validation is on whole held-out sounds (split by file), with early stopping on validation
perplexity and the best state kept. The run folder holds `events.jsonl` and an atomic checkpoint
(safetensors + JSON, no pickle); SIGINT/SIGTERM save and stop, running again resumes. At the end
the memorization guard (bigram baseline, copy rate, nearest grid) is computed and stored with the prior.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soxr
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .. import __version__
from ..analysis.memorization import (
    MemorizationReport,
    bigram_baseline,
    bigram_log_tables,
    memorization_report,
)
from ..config import from_dict, to_dict
from ..data.cache import cache_root
from ..data.dataset import SoundFile, scan
from ..errors import BadInputError, OutputError
from ..inference.codec import Codec, build_vqvae
from ..inference.generate import Prior, SamplingSettings
from ..model.prior import (
    PriorConfig,
    PriorModel,
    SlotInputs,
    adaptive_prior_config,
    corrupt_inputs,
    count_parameters,
    flatten_codes,
    sequences_nll,
    slot_inputs,
    token_nll,
)
from ..persistence.model_file import load_model_file, save_model_file
from .events import EventLog, errors_logged, write_json_atomic
from .signals import stop_on_signals
from .vqvae_loop import _flatten_optimizer, _load_optimizer, pick_device

CHECKPOINT = "prior-checkpoint.safetensors"
META_KEY = "distill-prior-run"


@dataclass
class PriorTrainConfig:
    """Stage-2 training. `steps` or `minutes` bounds the run; early stopping usually ends it first."""

    steps: int = 3000
    minutes: float | None = None
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 0.1  # heavy: 5 to 500 sounds
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 50
    patience: int = 8  # evaluations without a better validation perplexity before stopping
    start_share: float = 0.3  # share of training windows that begin where their sound begins
    augment: bool = True  # pitch-shifted copies and mixtures of the training sounds, encoded like the originals
    pitch_semitones: list[float] = field(default_factory=lambda: [-2.0, -1.0, 1.0, 2.0])
    mixes_per_file: float = 1.0
    val_share: float = 0.1  # whole held-out sounds, at least one
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
    val_files: int = 0


@dataclass
class EncodedSet:
    """Code grids (levels, positions) of the split: originals and, for training, augmented copies."""

    train: list[np.ndarray]  # the training sounds as they are
    val: list[np.ndarray]  # whole held-out sounds
    augmented: list[np.ndarray]  # extra training grids
    split: str  # "by file" or "held-out tail"
    cached: int = 0


@dataclass
class FileSplit:
    train: list[SoundFile]
    val: list[SoundFile]
    by_file: bool  # False: a single sound, validated on its own tail


def split_files(files: list[SoundFile], share: float, seed: int) -> FileSplit:
    """Whole sounds held out, chosen as stage 1 chooses them (same order, same seed -> same files)."""
    if len(files) < 2:
        return FileSplit(list(files), list(files), by_file=False)
    order = sorted(files, key=lambda f: f.digest)
    random.Random(seed).shuffle(order)
    n_val = min(len(files) - 1, max(1, round(share * len(files))))
    return FileSplit(order[n_val:], order[:n_val], by_file=True)


# ------------------------------------------------------------------ encoding (cached)
class GridEncoder:
    """Encodes audio with the frozen VQ-VAE in eval mode; grids cached by fingerprint + file digest + augmentation."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self.root = cache_root() / "prior-codes" / codec.fingerprint
        self.hits = 0

    def encode(self, samples: np.ndarray, key: str) -> np.ndarray | None:
        path = self.root / f"{key}.npy"
        try:
            grid = np.load(path, allow_pickle=False)
            if grid.ndim == 2 and grid.shape[0] == self.codec.cfg.levels:
                self.hits += 1
                return grid
        except (OSError, ValueError):
            pass
        if len(samples) == 0 or float(np.abs(samples).max()) <= 1e-5:
            return None
        grid = self.codec.encode_samples(samples.astype(np.float32)).codes
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=self.root)
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, grid, allow_pickle=False)
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs time
        return grid


def pitch_shift(samples: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    """Resampling shift: up in pitch is also shorter in time (like a sampler's repitch)."""
    ratio = 2 ** (semitones / 12)
    return soxr.resample(samples, sample_rate, sample_rate / ratio).astype(np.float32)


def encode_dataset(codec: Codec, sp: FileSplit, tc: PriorTrainConfig) -> EncodedSet:
    enc = GridEncoder(codec)
    sr = codec.spec.sample_rate
    train = [g for f in sp.train if (g := enc.encode(f.samples, f"{f.digest}-orig")) is not None]
    val = [g for f in sp.val if (g := enc.encode(f.samples, f"{f.digest}-orig")) is not None]
    split = "by file"
    if not sp.by_file and train:  # one sound: its last fifth is the validation
        g = train[0]
        cut = max(1, int(g.shape[1] * 0.8))
        train, split = [g[:, :cut]], "held-out tail"
        val = [g[:, cut:]] if cut < g.shape[1] else [g]
    augmented: list[np.ndarray] = []
    if tc.augment and sp.by_file:
        rng = random.Random(tc.seed)
        for f in sp.train:
            for st in tc.pitch_semitones:
                g = enc.encode(pitch_shift(f.samples, sr, st), f"{f.digest}-pitch{st:+g}")
                if g is not None:
                    augmented.append(g)
        n_mix = round(tc.mixes_per_file * len(sp.train)) if len(sp.train) > 1 else 0
        for _ in range(n_mix):
            a, b = rng.sample(sp.train, 2)
            gain = round(rng.uniform(0.4, 1.0), 2)
            n = max(len(a.samples), len(b.samples))
            mix = np.zeros(n, dtype=np.float32)
            mix[: len(a.samples)] += a.samples
            mix[: len(b.samples)] += gain * b.samples
            g = enc.encode(mix, f"{a.digest}-mix-{b.digest[:12]}-{gain:.2f}")
            if g is not None:
                augmented.append(g)
    return EncodedSet(train=train, val=val, augmented=augmented, split=split, cached=enc.hits)


# ------------------------------------------------------------------ batches
class WindowSampler:
    """Random training windows of `context` positions; some start where their sound starts."""

    def __init__(self, cfg: PriorConfig, grids: list[np.ndarray], start_share: float, seed: int) -> None:
        self.cfg = cfg
        self.seqs = [torch.from_numpy(flatten_codes(g, cfg)) for g in grids if g.shape[1] > 0]
        lengths = np.array([len(s) // cfg.levels for s in self.seqs], dtype=np.float64)
        self.weights = np.sqrt(lengths) / np.sqrt(lengths).sum()  # long sounds a bit more often
        self.start_share = start_share
        self.rng = np.random.default_rng(seed)
        self.gen = torch.Generator().manual_seed(seed)

    def batch(self, batch_size: int, corrupt: float) -> tuple[SlotInputs, torch.Tensor]:
        cfg, q, width = self.cfg, self.cfg.levels, self.cfg.context * self.cfg.levels
        parts, targets = [], []
        for i in self.rng.choice(len(self.seqs), size=batch_size, p=self.weights):
            s = self.seqs[i]
            positions = len(s) // q
            if positions < 2 or self.rng.random() < self.start_share:
                w0 = 0
            else:
                w0 = int(self.rng.integers(1, max(2, positions - cfg.context // 2 + 1)))
            i1 = min(len(s), (w0 + cfg.context) * q)
            x = slot_inputs(cfg, s[None], w0, w0 * q, i1)
            pad = width - (i1 - w0 * q)
            parts.append([torch.nn.functional.pad(t, (0, pad)) for t in (x.tok, x.same, x.level, x.time)])
            targets.append(torch.nn.functional.pad(s[None, w0 * q : i1], (0, pad), value=-1))
        x = SlotInputs(*(torch.cat([p[j] for p in parts]) for j in range(4)))  # each (B, T)
        return corrupt_inputs(cfg, x, corrupt, self.gen), torch.cat(targets)  # (B, T)


def perplexity(model: PriorModel, grids: list[np.ndarray]) -> float:
    was = model.training
    model.eval()
    total, n = sequences_nll(model, [torch.from_numpy(flatten_codes(g, model.cfg)) for g in grids])
    model.train(was)
    return math.exp(total / max(n, 1))


# ------------------------------------------------------------------ checkpoint (safetensors + JSON)
def _save_checkpoint(path: Path, state: dict[str, Any], groups: dict[str, dict[str, torch.Tensor]]) -> None:
    flat = {f"{g}.{k}": t.detach().cpu().contiguous() for g, ts in groups.items() for k, t in ts.items()}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        save_file(flat, tmp, metadata={META_KEY: json.dumps(state, default=str)})
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"could not save the checkpoint ({exc})", path) from exc


def _load_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
    try:
        with safe_open(str(path), framework="pt") as fh:
            state = json.loads((fh.metadata() or {})[META_KEY])
            groups: dict[str, dict[str, torch.Tensor]] = {}
            for key in fh.keys():
                g, _, name = key.partition(".")
                groups.setdefault(g, {})[name] = fh.get_tensor(key)
    except Exception as exc:  # a damaged checkpoint: say so, do not guess
        raise BadInputError(f"the prior checkpoint cannot be read ({str(exc).splitlines()[0][:100]}); delete the run folder to start again", path) from exc
    return state, groups


class PriorTrainer:
    def __init__(self, req: PriorRequest, log: EventLog) -> None:
        self.req = req
        self.log = log
        self.stop_signal: str | None = None
        self.warnings: list[str] = []

    def _request_stop(self, name: str) -> None:
        self.stop_signal = name

    def run(self) -> PriorResult:
        threads = torch.get_num_threads()
        if self.req.train.threads > 0:
            torch.set_num_threads(self.req.train.threads)
        try:
            with stop_on_signals(self._request_stop):
                return self._run()
        finally:
            torch.set_num_threads(threads)
            self.log.close()

    def _warn(self, message: str, step: int, key: str) -> None:
        self.warnings.append(message)
        self.log.emit("warning", step=step, message=message, key=key)

    def _run(self) -> PriorResult:
        req, tc = self.req, self.req.train
        t_setup = time.time()
        mf = load_model_file(req.model_path)
        if not mf.doc["model"].get("quantize", True):
            raise BadInputError("this is a continuous-baseline model: it has no codes to train a prior on", req.model_path)
        vq, spec = build_vqvae(mf, req.model_path)
        codec = Codec(vq, spec, mf.fingerprint, mf.doc)
        run_dir = req.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        ckpt_path = run_dir / CHECKPOINT

        state: dict[str, Any] = {}
        groups: dict[str, dict[str, torch.Tensor]] = {}
        resume = ckpt_path.exists()
        if resume:
            state, groups = _load_checkpoint(ckpt_path)
            if state.get("vqvae_fingerprint") != mf.fingerprint:
                raise BadInputError(
                    f"this run folder trained a prior for another VQ-VAE (fingerprint {state.get('vqvae_fingerprint')}, "
                    f"the model is {mf.fingerprint}); delete it or pass --run", run_dir)
            tc = from_dict(PriorTrainConfig, {**to_dict(tc), **{k: v for k, v in state["train"].items() if k not in {"steps", "minutes", "device"}}})
            req.train = tc
            differ = {k: (state["config"].get(k), v) for k, v in req.prior_overrides.items() if state["config"].get(k) != v}
            if differ:
                what = ", ".join(f"{k} {old} (asked {new})" for k, (old, new) in differ.items())
                raise BadInputError(f"this run folder trains a prior with {what}; delete it or pass --run DIR to train another", run_dir)

        data_dir = req.data_dir or (Path(state["data_dir"]) if state.get("data_dir") else None)
        if data_dir is None:
            root = (mf.doc.get("dataset") or {}).get("root")
            if not root:
                raise BadInputError("give DATA_DIR: the model does not say which folder it was trained on", req.model_path)
            data_dir = Path(root)
            if not data_dir.exists():
                raise BadInputError(f"the folder the model was trained on ({root}) is gone: give DATA_DIR", req.model_path)
        max_s = float(((mf.doc.get("training") or {}).get("train") or {}).get("max_file_seconds", 600.0))
        scanned = scan(data_dir, spec, max_file_seconds=max_s)
        sp = split_files(scanned.files, tc.val_share, tc.seed)
        data = encode_dataset(codec, sp, tc)
        if not data.train or not data.val:
            raise BadInputError("no sound could be encoded (all silent?)", data_dir)
        q, sizes = codec.cfg.levels, codec.codebook_sizes

        if resume:
            cfg = from_dict(PriorConfig, state["config"])
        else:
            cfg = adaptive_prior_config(len(scanned.files), q, sizes, **req.prior_overrides)
        device = pick_device(tc.device)
        torch.manual_seed(tc.seed)
        model = PriorModel(cfg).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, betas=(0.9, 0.98))
        bigram = bigram_baseline(data.train + data.augmented, data.val, sizes)
        bigram.augmented = True
        bigram_orig = bigram_baseline(data.train, data.val, sizes)
        if bigram_orig.val_perplexity < bigram.val_perplexity:
            bigram = bigram_orig  # the stronger baseline, whichever training codes it used
        step, elapsed, best_val, evals_since_best = 0, 0.0, math.inf, 0
        history: list[dict[str, float]] = []
        best_state = copy.deepcopy(model.state_dict())
        train_tokens = sum(g.size for g in data.train + data.augmented)
        if resume:
            model.load_state_dict(groups["prior"])
            best_state = {k: v.to(device) for k, v in groups["best"].items()}
            _load_optimizer(opt, groups.get("optim", {}), state.get("optim_groups"))
            step, elapsed = int(state["step"]), float(state["elapsed_s"])
            best_val = float(state["best_val"]) if state.get("best_val") is not None else math.inf
            evals_since_best = int(state.get("evals_since_best", 0))
            history = list(state.get("history", []))
            self.log.emit("resume", step=step, elapsed_s=elapsed, files=len(scanned.files), cached=data.cached, device=device)
            if state.get("finished"):
                self.log.emit("warning", step=step, message="this run had finished; writing its prior again", key="finished")
        else:
            write_json_atomic(run_dir / "run.json", {"model": str(req.model_path), "data_dir": str(data_dir.resolve()),
                                                     "version": __version__, "stage": "prior"})
            self.log.emit(
                "start", step=0, files=len(scanned.files), train_files=len(data.train), val_files=len(data.val),
                split=data.split, augmented_grids=len(data.augmented), train_tokens=int(train_tokens),
                cached=data.cached, device=device, prior=to_dict(cfg), train=to_dict(tc),
                parameters=count_parameters(model), vqvae_fingerprint=mf.fingerprint,
            )
            for s in scanned.skipped:
                self._warn(f"skipped {s['path']}: {s['reason']}", 0, f"skip:{s['path']}")
        if data.split != "by file":
            self._warn("only one sound: validation is its last fifth, not a held-out sound", step, "split")

        def trainer_state(finished: bool = False) -> dict[str, Any]:
            return {"vqvae_fingerprint": mf.fingerprint, "data_dir": str(data_dir.resolve()), "step": step,
                    "elapsed_s": elapsed, "best_val": None if math.isinf(best_val) else best_val,
                    "evals_since_best": evals_since_best, "finished": finished, "config": to_dict(cfg),
                    "train": to_dict(tc), "history": history,
                    "optim_groups": [{k: v for k, v in g.items() if k != "params"} for g in opt.state_dict()["param_groups"]]}

        def checkpoint(reason: str, finished: bool = False) -> None:
            try:
                _save_checkpoint(ckpt_path, trainer_state(finished), {
                    "prior": model.state_dict(), "best": best_state, "optim": _flatten_optimizer(opt)})
            except OutputError as exc:
                self.log.emit("warning", step=step, message=f"checkpoint not saved: {exc}", key="checkpoint")
                return
            self.log.emit("checkpoint", step=step, path=str(ckpt_path), reason=reason)

        def evaluate() -> None:
            nonlocal best_val, best_state, evals_since_best
            val_ppl = perplexity(model, data.val)
            train_ppl = perplexity(model, data.train[:64])
            if val_ppl < best_val - 1e-6:
                best_val, best_state, evals_since_best = val_ppl, copy.deepcopy(model.state_dict()), 0
            else:
                evals_since_best += 1
            history.append({"step": step, "train_ppl": round(train_ppl, 4), "val_ppl": round(val_ppl, 4)})
            self.log.emit("eval", step=step, train_ppl=round(train_ppl, 4), val_ppl=round(val_ppl, 4),
                          best_val_ppl=round(best_val, 4), bigram_val_ppl=round(bigram.val_perplexity, 4))

        tables = bigram_log_tables(data.train + data.augmented if bigram.augmented else data.train, sizes, bigram.alpha)
        if not resume:
            model.set_bigram(*tables)  # with cfg.bigram_base the prior starts as the baseline
            best_state = copy.deepcopy(model.state_dict())
            checkpoint("initial")
            evaluate()
        self.log.emit("ready", step=step, setup_s=round(time.time() - t_setup, 3))

        sampler = WindowSampler(cfg, data.train + data.augmented, tc.start_share, tc.seed + step)
        budget_s = tc.minutes * 60 if tc.minutes else None
        stopped_by = None
        last_ckpt = last_event = time.time()
        steps_since, t_rate = 0, time.time()
        model.train()
        t_prev = time.time()
        while True:
            now = time.time()
            elapsed += now - t_prev
            t_prev = now
            progress = step / max(tc.steps, 1)
            if budget_s:
                progress = max(progress, elapsed / budget_s)
            if progress >= 1.0:
                stopped_by = "budget"
                break
            if evals_since_best >= tc.patience:
                stopped_by = "early stopping"
                break
            if self.stop_signal:
                stopped_by = "signal"
                break
            lr = tc.lr * _lr_factor(step, progress, tc)
            for g in opt.param_groups:
                g["lr"] = lr
            x, target = sampler.batch(tc.batch_size, cfg.corrupt)
            x = SlotInputs(*(t.to(device) for t in (x.tok, x.same, x.level, x.time)))
            nll = token_nll(model, x, target.to(device))  # (B, T)
            loss = nll.sum() / (target >= 0).sum().clamp(min=1)
            if not torch.isfinite(loss):
                self._warn("non-finite loss: step skipped", step, "nonfinite")
                opt.zero_grad(set_to_none=True)
                continue
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            opt.step()
            step += 1
            steps_since += 1
            now = time.time()
            if now - last_event >= 1.0 or step == 1:
                self.log.emit("step", step=step, loss=round(float(loss.detach()), 4), lr=lr,
                              steps_per_s=round(steps_since / max(now - t_rate, 1e-6), 2), elapsed_s=round(elapsed, 2),
                              progress=round(min(progress, 1.0), 4))
                last_event, steps_since, t_rate = now, 0, now
            if step % tc.eval_every == 0:
                evaluate()
            if now - last_ckpt >= tc.checkpoint_every_s:
                checkpoint("periodic")
                last_ckpt = time.time()

        if stopped_by == "signal":
            checkpoint("signal")
            self.log.emit("stopped", step=step, signal=self.stop_signal, elapsed_s=round(elapsed, 2),
                          message="checkpoint saved; run the same command again to resume")
            return PriorResult("stopped", req.model_path, run_dir, step, elapsed, cfg.architecture, None, self.warnings,
                               len(data.train), len(data.val))
        if not history or history[-1]["step"] != step:
            evaluate()

        # finish: the best state (or the bigram, if the network never beat it), the memorization guard, the model file
        model.load_state_dict(best_state)
        checkpoint("finished", finished=True)
        fallback = None
        if best_val >= bigram.val_perplexity and not cfg.bigram_base:
            base_cfg = from_dict(PriorConfig, {**to_dict(cfg), "bigram_base": True})
            base_model = PriorModel(base_cfg)
            if base_model.use_base:  # a vocabulary too large for the table keeps the network, with the warning below
                fallback, cfg, model = "bigram", base_cfg, base_model
                model.set_bigram(*tables)  # the head starts at zero: this prior is exactly the bigram
            self._warn(f"the network never beat the bigram on held-out sounds (best {best_val:.2f} against "
                       f"{bigram.val_perplexity:.2f})" + (": the prior falls back to the bigram" if fallback else
                       "; the vocabulary is too large to store the bigram instead"), step, "fallback")
        model.eval().cpu()
        val_ppl = perplexity(model, data.val)
        train_ppl = perplexity(model, data.train)
        prior = Prior(model, mf.fingerprint)
        lengths = sorted(g.shape[1] for g in data.train)
        gen_positions = int(min(max(lengths[len(lengths) // 2], 16), 2 * cfg.context))
        generated = list(prior.generate_batch(tc.generated_grids, gen_positions, SamplingSettings(temperature=1.0, seed=tc.seed)))
        report = memorization_report(val_ppl, train_ppl, bigram, generated, data.train, sizes)
        if fallback:
            report.verdict += "; the prior samples like the bigram"

        prior_doc = {
            "architecture": "bigram" if fallback else cfg.architecture,  # a fallback prior is the bigram itself
            "val_perplexity": round(report.val_perplexity, 4),
            "bigram_val_perplexity": round(report.bigram_val_perplexity, 4),
            "copy_rate_8gram": round(report.copy_rate_8gram, 4),
            "verdict": report.verdict,
            "train_perplexity": round(report.train_perplexity, 4),
            "nearest_hamming": round(report.nearest_hamming, 4),
            "copy_rate_8gram_by_level": [round(c, 4) for c in report.copy_rate_8gram_by_level],
            "bigram_alpha": report.bigram_alpha,
            "bigram_augmented": bigram.augmented,
            "fallback": fallback,
            "vqvae_fingerprint": mf.fingerprint,
            "config": to_dict(cfg),
            "train": to_dict(tc),
            "parameters": count_parameters(model),
            "data": {"root": str(data_dir), "files": len(scanned.files), "train_files": len(data.train),
                     "val_files": len(data.val), "split": data.split, "augmented_grids": len(data.augmented),
                     "train_tokens": int(train_tokens), "val_tokens": int(sum(g.size for g in data.val))},
            "training": {"steps": step, "seconds": round(elapsed, 2), "stopped_by": stopped_by,
                         "best_step": min(history, key=lambda h: h["val_ppl"])["step"] if history else 0,
                         "history": history, "warnings": self.warnings},
            "generated_positions": gen_positions,
            "distill_tui_version": __version__,
        }
        self._write_model(prior_doc, {k: v.detach().cpu() for k, v in model.state_dict().items()})
        self.log.emit("done", step=step, model=str(req.model_path), elapsed_s=round(elapsed, 2), stopped_by=stopped_by,
                      report=report.as_dict(), architecture=prior_doc["architecture"])
        return PriorResult("done", req.model_path, run_dir, step, elapsed, prior_doc["architecture"], report, self.warnings,
                           len(data.train), len(data.val))

    def _write_model(self, prior_doc: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        """Add the prior to the model file atomically; the VQ-VAE tensors and doc keys stay as they were."""
        path = self.req.model_path
        mf = load_model_file(path)  # again: the file must still hold the VQ-VAE the prior was trained on
        if mf.fingerprint != prior_doc["vqvae_fingerprint"]:
            raise BadInputError("the model's VQ-VAE changed while the prior trained; train the prior again", path)
        doc = dict(mf.doc)
        doc["prior"] = prior_doc
        groups = {name: group for name, group in mf.tensors.items() if name != "prior"}
        groups["prior"] = tensors
        save_model_file(path, doc, groups)


def _lr_factor(step: int, progress: float, tc: PriorTrainConfig) -> float:
    if step < tc.warmup_steps:
        return (step + 1) / tc.warmup_steps
    return tc.min_lr_ratio + (1 - tc.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def train_prior(req: PriorRequest, echo=None) -> PriorResult:
    """Run (or resume) a stage-2 training; see `PriorTrainer`."""
    log = EventLog(req.run_dir, echo=echo)
    with errors_logged(req.run_dir):
        return PriorTrainer(req, log).run()


def result_json(res: PriorResult) -> dict[str, Any]:
    return {"status": res.status, "model": str(res.model_path), "run_dir": str(res.run_dir), "step": res.step,
            "seconds": round(res.seconds, 2), "architecture": res.architecture, "train_files": res.train_files,
            "val_files": res.val_files, "warnings": res.warnings,
            "prior": None if res.report is None else asdict(res.report)}
