"""The one checkpoint format of both stages: `checkpoint.safetensors` in the run folder.

Tensors are named `<group>.<name>`: `model.*` (the network being trained), `best.*` (the best state so
far), `optim.*` (AdamW state as named tensors, see `flatten_optimizer`) and, once the run finished,
`final-<group>.*` (the tensors of the model file to write). The safetensors metadata holds one key,
`META_KEY`: a JSON document with "format", "version", "stage" ("model" or "prior"), "state" (a
`TrainerState`), "info" (the stage's configs) and "optim_groups". No pickle: reading parses JSON and
raw tensors only. Writes go through `fileio.atomic_path`: a failed write leaves the previous one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import BadInputError
from ..fileio import atomic_path, reason_of
from .adamw import AdamW
from .runfolder import CHECKPOINT, OLD_CHECKPOINTS  # named there, where no torch is imported (train/runs.py)
from .state import TrainerState

META_KEY = "distill-checkpoint"
FORMAT = "distill-checkpoint"
VERSION = 1
FINAL_PREFIX = "final-"

Groups = dict[str, dict[str, torch.Tensor]]


@dataclass
class Checkpoint:
    """Everything a run needs to continue (or, once finished, to write its model again)."""

    stage: str  # "model" (stage 1) or "prior"
    state: TrainerState
    info: dict[str, Any] = field(default_factory=dict)  # the stage's configs and its finished model's document
    tensors: Groups = field(default_factory=dict)
    optim_groups: list[dict[str, Any]] = field(default_factory=list)  # AdamW's param_groups, less "params"

    def group(self, name: str) -> dict[str, torch.Tensor]:
        return self.tensors.get(name, {})

    def final_tensors(self) -> Groups:
        """The finished model's tensor groups (empty before the run finished)."""
        n = len(FINAL_PREFIX)
        return {g[n:]: ts for g, ts in self.tensors.items() if g.startswith(FINAL_PREFIX)}


def write_checkpoint(path: Path, ckpt: Checkpoint) -> None:
    """Write atomically; raises `OutputError` (one line) and leaves the previous checkpoint when it cannot."""
    from safetensors.torch import save_file

    flat: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for g, ts in ckpt.tensors.items():
        for k, t in ts.items():
            t = t.detach().cpu().contiguous()
            ptr = t.untyped_storage().data_ptr()
            flat[f"{g}.{k}"] = t.clone() if ptr in seen and t.numel() else t  # safetensors refuses shared memory
            seen.add(ptr)
    meta = {"format": FORMAT, "version": VERSION, "stage": ckpt.stage, "state": ckpt.state.to_dict(),
            "info": ckpt.info, "optim_groups": ckpt.optim_groups}
    text = json.dumps(meta, default=str)
    with atomic_path(path, "checkpoint") as tmp:
        save_file(flat, str(tmp), metadata={META_KEY: text})


def read_checkpoint(path: Path, stage: str) -> Checkpoint:
    """Read a checkpoint of `stage`; a damaged or foreign one is a one-line `BadInputError` saying what to do."""
    from safetensors import safe_open

    aside = "move the run folder aside (or pass --run DIR) to start again"
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = json.loads((fh.metadata() or {})[META_KEY])
            groups: Groups = {}
            for key in fh.keys():
                g, _, name = key.partition(".")
                groups.setdefault(g, {})[name] = fh.get_tensor(key)
        if meta.get("format") != FORMAT:
            raise ValueError("not a Distill checkpoint")
        state = TrainerState.from_dict(meta["state"])
    except Exception as exc:  # noqa: BLE001 - a damaged checkpoint of any kind: say so, do not guess
        raise BadInputError(f"the checkpoint cannot be read ({reason_of(exc)[:100]}); it was probably cut off "
                            f"while written: {aside}", path) from exc
    if int(meta.get("version", 0)) > VERSION:
        raise BadInputError(f"the checkpoint was written by a newer Distill: update Distill, or {aside}", path)
    if meta.get("stage") != stage:
        other = "a prior" if meta.get("stage") == "prior" else "a VQ-VAE"
        raise BadInputError(f"this run folder trains {other}, not this stage: pass --run DIR to use another folder",
                            path.parent)
    return Checkpoint(stage, state, dict(meta.get("info") or {}), groups, list(meta.get("optim_groups") or []))


def refuse_old_run_folder(run_dir: Path) -> None:
    """A run folder an older Distill wrote (its checkpoint format is gone): refuse in one line."""
    old = [n for n in OLD_CHECKPOINTS if (run_dir / n).exists()]
    if old and not (run_dir / CHECKPOINT).exists():
        raise BadInputError(f"this run folder was written by an older Distill ({old[0]}), whose checkpoints this "
                            "version cannot resume: move it aside or pass --run DIR to train in a new one", run_dir)


def flatten_optimizer(opt: AdamW) -> dict[str, torch.Tensor]:
    """AdamW state as named tensors (no pickle): `<param index>.<key>` (e.g. `3.exp_avg`)."""
    flat = {}
    for idx, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            flat[f"{idx}.{key}"] = value if isinstance(value, torch.Tensor) else torch.tensor(value)
    return flat


def optimizer_groups(opt: AdamW) -> list[dict[str, Any]]:
    """The optimizer's param_groups (learning rate, betas, ...) without the parameter indices."""
    return [{k: v for k, v in g.items() if k != "params"} for g in opt.state_dict()["param_groups"]]


def load_optimizer(opt: AdamW, flat: dict[str, torch.Tensor], groups: list[dict[str, Any]] | None) -> None:
    """The inverse of `flatten_optimizer` (plus the saved param_groups, when given)."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in flat.items():
        idx, _, key = name.partition(".")
        state.setdefault(int(idx), {})[key] = tensor
    sd = opt.state_dict()
    for g, saved in zip(sd["param_groups"], groups or [], strict=False):
        g.update({k: (tuple(v) if k == "betas" else v) for k, v in saved.items() if k != "params"})
    sd["state"] = state
    opt.load_state_dict(sd)
