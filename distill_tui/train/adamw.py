"""AdamW with decoupled weight decay: torch's update, bit for bit, without `torch.optim`.

Why not `torch.optim.AdamW`: every torch optimizer imports `torch._dynamo` the first time a parameter group is
added or a step is taken (its methods are wrapped to stay out of `torch.compile`'s graphs). That import took
1.3-1.5 s of each `train` start on the 2-core test machine (2.2 s in a process that had not built a model yet;
bench/RESULTS.md, "Sixteenth session"). Nothing in Distill compiles an optimizer, so this class does the same
arithmetic without that import:

- `fused=True` calls the same fused kernel torch uses (`torch._fused_adamw_`, CPU and CUDA, one call for every
  parameter);
- otherwise each parameter is updated as torch's single-tensor AdamW does it (its default on CPU).

`state_dict()` and `load_state_dict()` use torch's layout (`state[index] = {"step", "exp_avg", "exp_avg_sq"}`,
`param_groups` with parameter indices), so training checkpoints written with `torch.optim.AdamW` resume here
and the other way round. Tests check the parameters and states against torch's after many steps, exactly.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch

_STATE_KEYS = ("step", "exp_avg", "exp_avg_sq")


class AdamW:
    """Adam with decoupled weight decay over one group of parameters (`param_groups[0]`, whose "lr" a schedule sets)."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, fused: bool = False) -> None:
        params = list(params)
        if not params:
            raise ValueError("AdamW got an empty parameter list")
        if fused and any(not p.is_floating_point() or p.device.type not in ("cpu", "cuda") for p in params):
            raise ValueError("fused AdamW needs floating-point parameters on the CPU or a CUDA device")
        self.param_groups: list[dict[str, Any]] = [{
            "params": params, "lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
            "amsgrad": False, "maximize": False, "foreach": None, "capturable": False, "differentiable": False,
            "fused": bool(fused), "decoupled_weight_decay": True}]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_().zero_()

    def _state(self, p: torch.Tensor, fused: bool) -> dict[str, torch.Tensor]:
        state = self.state.get(p)
        if state is None:
            # torch's placement: a fused step counter lives with the parameter, otherwise on the CPU
            step = torch.zeros((), dtype=torch.float32, device=p.device) if fused else torch.tensor(0.0)
            state = self.state[p] = {"step": step, "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                                     "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
        return state

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            lr, (beta1, beta2), eps, wd = float(group["lr"]), group["betas"], group["eps"], group["weight_decay"]
            states = [self._state(p, group["fused"]) for p in params]
            if group["fused"]:
                steps = [s["step"] for s in states]
                torch._foreach_add_(steps, 1)
                torch._fused_adamw_(params, [p.grad for p in params], [s["exp_avg"] for s in states],
                                    [s["exp_avg_sq"] for s in states], [], steps, lr=lr, beta1=beta1, beta2=beta2,
                                    weight_decay=wd, eps=eps, amsgrad=False, maximize=False)
                continue
            for p, s in zip(params, states, strict=True):
                grad, exp_avg, exp_avg_sq = p.grad, s["exp_avg"], s["exp_avg_sq"]
                s["step"] += 1
                if wd != 0:
                    p.mul_(1 - lr * wd)
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                step = s["step"].item()
                bias_correction1 = 1 - beta1**step
                bias_correction2_sqrt = (1 - beta2**step) ** 0.5
                denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
                p.addcdiv_(exp_avg, denom, value=-(lr / bias_correction1))

    def state_dict(self) -> dict[str, Any]:
        """torch's layout: parameters by index, `state` holding this optimizer's own tensors (not copies)."""
        index: dict[torch.Tensor, int] = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                ids.append(index.setdefault(p, len(index)))
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {index[p]: dict(s) for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take a `state_dict()` (this class's or `torch.optim.AdamW`'s): tensors are copied, not shared."""
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups) or any(
                len(s["params"]) != len(g["params"]) for s, g in zip(saved, self.param_groups, strict=True)):
            raise ValueError("optimizer state is for a different set of parameters")
        by_index = {}
        for s, g in zip(saved, self.param_groups, strict=True):
            by_index.update(zip(s["params"], g["params"], strict=True))
            g.update({k: (tuple(v) if k == "betas" else copy.deepcopy(v)) for k, v in s.items() if k != "params"})
        self.state = {}
        for idx, values in state_dict["state"].items():
            p = by_index[int(idx)]
            fused = next(g["fused"] for g in self.param_groups if any(q is p for q in g["params"]))
            missing = [k for k in _STATE_KEYS if k not in values]
            if missing:
                raise ValueError(f"optimizer state for parameter {idx} lacks {', '.join(missing)}")
            step = torch.as_tensor(values["step"]).detach().clone()
            self.state[p] = {
                "step": step.to(dtype=torch.float32, device=p.device) if fused else step.to("cpu"),
                "exp_avg": values["exp_avg"].detach().to(dtype=p.dtype, device=p.device, copy=True),
                "exp_avg_sq": values["exp_avg_sq"].detach().to(dtype=p.dtype, device=p.device, copy=True)}
