"""The Transformer prior's one-slot step in numpy: what sampling calls once per code.

`PriorModel.forward` with a key/value cache and one new slot computes on vectors of 64 numbers (the default
d_model) through over a hundred torch operations and module calls; at that size their fixed cost is most of the
time (0.96 ms a slot against 0.38 ms for this step, a 2-core Zen 3, bench/RESULTS.md "Fourteenth session";
sampling at batch 1 runs about twice as fast with it). `SlotStep` does the same arithmetic
with numpy on the same weights (some folded together) and on views of the same cache, in float32, so its logits
match `forward`'s to float rounding (tests/test_prior_step.py). `prefill` refills the cache for many slots at
once, as sampling does each time its window slides (0.53 ms for 24 slots against the torch forward's 2.2 ms;
"Fifteenth session"). Only the Transformer has it; an LSTM prior samples through `forward`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .prior import KVCache, PriorModel


def _normalized(x: np.ndarray, eps: float, average: np.ndarray) -> np.ndarray:
    """Layer norm without its scale and shift (folded into the next product, `_folded`), over the last axis (C);
    `average` (C, 1) is 1 / C in every row (a product is cheaper than numpy's mean at this size)."""
    centred = x - x @ average
    return centred / np.sqrt((centred * centred) @ average + eps)


def _folded(norm_weight: np.ndarray, norm_bias: np.ndarray, weight_t: np.ndarray, bias: np.ndarray | None
            ) -> tuple[np.ndarray, np.ndarray]:
    """(x_hat * w + b) @ W + c as x_hat @ W' + c': the layer norm's scale and shift folded into the product that
    follows it. weight_t (C, out) -> (W' (C, out), c' (out,)), contiguous."""
    shifted = norm_bias @ weight_t + (0.0 if bias is None else bias)
    return np.ascontiguousarray(norm_weight[:, None] * weight_t), np.ascontiguousarray(shifted, dtype=np.float32)


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Over the last axis; entries at -inf stay -inf (a level's mask)."""
    top = x.max(axis=-1, keepdims=True)
    shifted = x - top
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _gelu_scaled(x: np.ndarray) -> np.ndarray:
    """sqrt(2) * GELU(sqrt(2) * x) = x * (1 + erf(x)): exact GELU, as torch's default, with its two factors of
    1 / sqrt(2) folded into the products around it (`_block`). numpy has no erf: torch's, on the same memory."""
    return x * (1.0 + torch.special.erf(torch.from_numpy(x)).numpy())


class SlotStep:
    """`model`'s logits for one new slot per row, given its cache: `step(tok, same, level, time, same2, cache)`
    with each input an int array (B,) as `SlotInputs` holds them, -> log-probabilities or logits (B, V), as
    `PriorModel.forward(...)[:, 0]` gives them. Built from the model's parameters, some folded together (each
    layer norm's scale and shift into the product after it, attention's scale into the queries): build it again
    after the weights change (sampling builds one per call)."""

    def __init__(self, model: PriorModel) -> None:
        if model.cfg.architecture != "transformer":
            raise ValueError("SlotStep is the Transformer's step; an LSTM prior samples through forward")
        self.model, self.cfg = model, model.cfg
        p = {name: t.detach().numpy() for name, t in model.named_parameters()}
        p.update({name: t.detach().numpy() for name, t in model.named_buffers()})
        self.p = p
        self.eps = model.ln_f.eps
        c, v = self.cfg.d_model, self.cfg.vocab
        self.average = np.full((c, 1), 1 / c, dtype=np.float32)  # (C, 1)
        self.heads = self.cfg.heads
        self.scale = 1 / math.sqrt(c // self.heads)  # attention's, folded into the queries' weights
        self.blocks = [self._block(i) for i in range(len(model.blocks))]
        self.cache: KVCache | None = None
        self.kv: list[tuple[np.ndarray, np.ndarray]] = []
        out_t = (p["head.weight"] if model.use_base else p["embed.tok.weight"][:v]).T  # (C, V)
        self.out = _folded(p["ln_f.weight"], p["ln_f.bias"], out_t, None)
        self.level_time = np.ascontiguousarray(p["embed.level.weight"][:, None] + p["embed.time.weight"][None])  # (Q, ctx, C)

    def _block(self, i: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        p, pre = self.p, f"blocks.{i}."
        qkv_w, qkv_b = _folded(p[pre + "ln1.weight"], p[pre + "ln1.bias"], p[pre + "attn.qkv.weight"].T,
                               p[pre + "attn.qkv.bias"])
        c = qkv_w.shape[0]
        half = np.float32(1 / math.sqrt(2))  # `_gelu_scaled`'s factors
        qkv_w[:, :c] *= self.scale
        qkv_b[:c] *= self.scale
        return {"qkv": (qkv_w, qkv_b), "proj": (np.ascontiguousarray(p[pre + "attn.proj.weight"].T), p[pre + "attn.proj.bias"]),
                "fc1": tuple(a * half for a in _folded(p[pre + "ln2.weight"], p[pre + "ln2.bias"], p[pre + "fc1.weight"].T,
                                                       p[pre + "fc1.bias"])),  # GELU's input over sqrt(2)
                "fc2": (np.ascontiguousarray(p[pre + "fc2.weight"].T * half), p[pre + "fc2.bias"])}

    def prefill(self, tok: np.ndarray, same: np.ndarray, level: np.ndarray, time: np.ndarray, cache: KVCache) -> None:
        """Extend `cache` by S slots per row (each input (B, S)), as `PriorModel.forward(inputs, cache)` does, without
        the logits: what sampling does each time its window slides."""
        h = self.p["embed.tok.weight"][tok] + self.p["embed.same.weight"][same] + self.level_time[level, time]  # (B, S, C)
        self._layers(h, cache, last_output=False)

    def step(self, tok: np.ndarray, same: np.ndarray, level: np.ndarray, time: np.ndarray, same2: np.ndarray | None,
             cache: KVCache) -> np.ndarray:
        """One slot per row (each input (B,)) -> (B, V) float32; or S consecutive slots per row (each input
        (B, S)) -> (B, S, V), as one forward over them. Extends `cache`."""
        p, model, cfg = self.p, self.model, self.cfg
        h = p["embed.tok.weight"][tok] + p["embed.same.weight"][same] + self.level_time[level, time]  # (B, [S,] C)
        h = self._layers(h[:, None], cache)[:, 0] if h.ndim == 2 else self._layers(h, cache)  # (B, [S,] C)
        logits = _normalized(h, self.eps, self.average) @ self.out[0] + self.out[1]  # (B, V)
        mask = p["level_mask"][level]  # (B, [S,] V)
        row = np.where(same == cfg.vocab, cfg.vocab + level, same)  # the bigram's row (`bigram_row`)
        if model.use_base:
            logits = logits + p["bigram"][row]
        logits = logits + mask
        if model.use_blend:
            big = p["bigram"][row] + mask  # (B, V)
            if model.use_cross or model.use_ngram:
                lw = p["blend_log_shares"][level]  # (B, [S,] 4): network, bigram, cross-level, n-gram
                logits = np.logaddexp(log_softmax(logits) + lw[..., 0:1], big + lw[..., 1:2])
                if model.use_cross:
                    logits = np.logaddexp(logits, p["cross"][tok] + mask + lw[..., 2:3])
                if model.use_ngram:
                    logits = np.logaddexp(logits, self._ngram(same, same2, level) + lw[..., 3:4])
            else:
                logits = self._two_part(log_softmax(logits), big, p["blend_weight"][level])
        return np.ascontiguousarray(logits, dtype=np.float32)

    def _layers(self, h: np.ndarray, cache: KVCache, last_output: bool = True) -> np.ndarray:
        """h (B, S, C): S new slots per row -> the last block's output (B, S, C), their keys and values written into
        `cache` (each slot attends to the cache and to the new slots up to itself). With `last_output` False the
        last block stops once its keys and values are stored (a prefill reads nothing else) and h is returned as
        that block received it."""
        b, s, c = h.shape
        nh, hs = self.heads, c // self.heads
        n = cache.length
        if self.cache is not cache:  # numpy views of the cache's tensors, taken once per cache
            self.cache, self.kv = cache, [(k.numpy(), v.numpy()) for k, v in zip(cache.k, cache.v, strict=True)]
        for i, ((keys, values), blk) in enumerate(zip(self.kv, self.blocks, strict=True)):  # (B, nh, N, hs) each
            qkv = _normalized(h, self.eps, self.average) @ blk["qkv"][0] + blk["qkv"][1]  # (B, S, 3C), queries scaled
            keys[:, :, n : n + s] = qkv[..., c : 2 * c].reshape(b, s, nh, hs).swapaxes(1, 2)
            values[:, :, n : n + s] = qkv[..., 2 * c :].reshape(b, s, nh, hs).swapaxes(1, 2)
            if not last_output and i == len(self.blocks) - 1:
                break
            att = qkv[..., :c].reshape(b, s, nh, hs).swapaxes(1, 2) @ keys[:, :, : n + s].swapaxes(2, 3)  # (B, nh, S, n + S)
            if s > 1:  # slot j of the new ones sees the cache and new slots 0..j
                att = att + np.triu(np.full((s, n + s), -np.inf, dtype=np.float32), k=n + 1)
            att = np.exp(att - att.max(axis=-1, keepdims=True))
            y = (att @ values[:, :, : n + s] / att.sum(axis=-1, keepdims=True)).swapaxes(1, 2).reshape(b, s, c)
            h = h + (y @ blk["proj"][0] + blk["proj"][1])
            u = _gelu_scaled(_normalized(h, self.eps, self.average) @ blk["fc1"][0] + blk["fc1"][1])  # (B, S, 4C)
            h = h + (u @ blk["fc2"][0] + blk["fc2"][1])
        cache.length += s
        return h

    def _two_part(self, net: np.ndarray, big: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """`prior.blend_logp` for one slot: weight (B, 1)."""
        kind = self.cfg.blend
        if kind == "linear":
            with np.errstate(divide="ignore"):  # log 0 = -inf, as torch gives it
                return np.logaddexp(net + np.log(weight), big + np.log1p(-weight))
        if kind == "product":
            return log_softmax(net + weight * np.where(np.isfinite(big), big, 0.0))
        return net

    def _ngram(self, same: np.ndarray, same2: np.ndarray | None, level: np.ndarray) -> np.ndarray:
        """`NgramPart.forward` for one slot: log-probabilities (B, V)."""
        if same2 is None:
            raise ValueError("the n-gram part reads the previous two same-level codes: same2 is missing")
        p = self.p
        local, width = p["ngram.local"], p["ngram.width"]
        rows = p["ngram.base"][level] + local[level, same2] * width[level] + local[level, same]  # (B,)
        return p["ngram.full"][rows]
