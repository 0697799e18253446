"""Sample from the prior: generate, continue a grid, regenerate a region; temperature / top-k / top-p."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch

from ..config import from_dict
from ..errors import BadInputError, ModelFileError, NoPriorError
from ..model.memory import SoundMemory
from ..model.prior import (
    KVCache,
    PriorConfig,
    PriorModel,
    flatten_codes,
    scoring_windows,
    slot_inputs,
    unflatten_tokens,
    window_for_time,
    windows_nll,
)
from ..model.prior_step import SlotStep, log_softmax
from ..persistence.document import PriorSummary
from ..persistence.model_file import ModelFile, load_model_file
from ..threads import torch_threads
from .masked_sampling import MaskedSampler
from .sampling import SamplingSettings, check_candidates, draw_seed

if TYPE_CHECKING:
    from .codec import Codec


def filter_logits(logits: torch.Tensor, settings: SamplingSettings) -> torch.Tensor:
    """logits (B, K) -> tempered logits with every code the filters drop set to -inf."""
    logits = logits.float() / settings.temperature  # (B, K)
    k = logits.shape[-1]
    if settings.top_k is not None and settings.top_k < k:
        keep = torch.topk(logits, settings.top_k, dim=-1).indices  # (B, k): exactly k, even with ties
        logits = torch.full_like(logits, -torch.inf).scatter(-1, keep, logits.gather(-1, keep))
    if settings.top_p is not None and settings.top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (B, K)
        probs = sorted_logits.softmax(dim=-1)
        before = probs.cumsum(dim=-1) - probs  # probability of the likelier codes
        drop = before >= settings.top_p  # the first code that reaches p stays; the rest go
        drop[..., 0] = False
        sorted_logits = sorted_logits.masked_fill(drop, -torch.inf)
        logits = torch.empty_like(logits).scatter(-1, order, sorted_logits)
    return logits


def exponential_noise(n: int, generator: torch.Generator | None = None) -> np.ndarray:
    """n Exp(1) numbers (n,) float32 from `generator`: what `draw_index` divides by. Drawn in one call they are the
    numbers the same calls one row at a time would draw, in order (torch's CPU generator fills them in sequence), so
    a sampling loop draws all its noise up front, at one call's fixed cost."""
    return torch.empty(n, dtype=torch.float32).exponential_(1, generator=generator).numpy()


def draw_index(weights: np.ndarray, generator: torch.Generator | None = None, noise: np.ndarray | None = None
               ) -> np.ndarray:
    """weights (B, K), each >= 0 and not all 0, in float32 -> one index per row (B,) in proportion to them.

    The same draw as `torch.multinomial(weights, 1, generator=generator)`, bit for bit and from the same random
    stream: torch draws one Exp(1) number q per code and takes the argmax of weights / q (the Gumbel-max trick).
    This does that without multinomial's input checks, which cost 34 us a call on a 2-core Zen 3 against 5 us for
    the draw (bench/RESULTS.md, "Fifteenth session"). `noise` (B, K), drawn before by `exponential_noise`, stands
    in for the generator's next B * K numbers.
    """
    q = exponential_noise(weights.size, generator).reshape(weights.shape) if noise is None else noise  # (B, K)
    return (weights / q).argmax(axis=-1)


def sample_codes(logits: np.ndarray, settings: SamplingSettings, generator: torch.Generator | None = None,
                 noise: np.ndarray | None = None) -> np.ndarray:
    """logits (B, K) -> sampled indices (B,) after temperature, top-k and top-p: what sampling calls per code
    (`noise`: as `draw_index` reads it)."""
    if settings.top_k is not None or settings.top_p is not None:
        x = filter_logits(torch.from_numpy(np.asarray(logits)), settings).numpy()
    else:
        x = np.asarray(logits, dtype=np.float32) / np.float32(settings.temperature)  # (B, K)
    top = x.max(axis=-1, keepdims=True)
    if not np.isfinite(top).all():
        raise ValueError("a row of scores has no finite entry: there is no code to draw")
    return draw_index(np.exp(x - top), generator, noise)  # softmax's scale does not change the draw


def sample_logits(logits: torch.Tensor, settings: SamplingSettings, generator: torch.Generator | None = None) -> torch.Tensor:
    """logits (B, K) -> sampled indices (B,) after temperature, top-k and top-p."""
    return torch.from_numpy(sample_codes(logits.detach().float().numpy(), settings, generator))


class LevelBias(Protocol):
    """Added to a level's scores before sampling (`inference/style.py`): a lean toward chosen sounds' habits."""

    def __call__(self, level: int, previous: torch.Tensor | None) -> torch.Tensor:
        """(B, K) or (1, K) to add for `level`, given the same level's previous local codes (B,) (None: none yet)."""
        ...


@dataclass
class RegionCandidate:
    codes: np.ndarray  # (levels, positions): the whole grid with this candidate in the region
    join_nll: float  # NLL of the kept codes (in the region's other levels and just after it): lower joins better


class Prior:
    """A loaded prior bound to its VQ-VAE (by fingerprint). Every array is (levels, positions) of local codes."""

    def __init__(self, model: PriorModel, fingerprint: str, doc: PriorSummary | None = None) -> None:
        self.model = model.eval()
        self.cfg = model.cfg
        self.fingerprint = fingerprint
        self.codebook_sizes = list(self.cfg.codebook_sizes)
        self.levels = self.cfg.levels
        self.doc = doc  # the prior's report in the model file (None for a prior built in memory)
        self.last_seed: int | None = None  # the seed the last call used (drawn when settings.seed is None)
        self.masked: MaskedSampler | None = None  # when set, masks and regions are filled by it (`mask_candidates`)

    # ------------------------------------------------------------ loading
    @classmethod
    def from_model_file(cls, path: str | Path) -> Prior:
        return cls.from_loaded(load_model_file(path), path)

    @classmethod
    def from_loaded(cls, mf: ModelFile, path: str | Path | None = None) -> Prior:
        doc = mf.document.prior
        if doc is None or "prior" not in mf.tensors:
            raise NoPriorError("this model has no prior: run `distill-tui train-prior MODEL`", path)
        if doc.vqvae_fingerprint != mf.fingerprint:
            raise ModelFileError(
                f"its prior was trained on another VQ-VAE (fingerprint {doc.vqvae_fingerprint}, this model is "
                f"{mf.fingerprint}): run `distill-tui train-prior MODEL` again", path)
        try:
            cfg = from_dict(PriorConfig, doc.config)
            if list(cfg.codebook_sizes) != mf.document.codebook_sizes:
                raise ValueError(f"codebook sizes {cfg.codebook_sizes} differ from the VQ-VAE's")
            model = PriorModel(cfg)
            model.load_state_dict(mf.group("prior"), strict=True)
        except (KeyError, TypeError, ValueError, RuntimeError, BadInputError) as exc:
            raise ModelFileError(f"the prior does not fit its stored config ({str(exc).splitlines()[0][:120]})", path) from exc
        prior = cls(model, mf.fingerprint, doc)
        prior.masked = MaskedSampler.from_loaded(mf, path)  # None unless `train-prior --shape masked` stored one
        return prior

    # ------------------------------------------------------------ checks
    def _generator(self, settings: SamplingSettings) -> torch.Generator:
        settings.validate()
        self.last_seed = settings.seed if settings.seed is not None else draw_seed()
        return torch.Generator().manual_seed(int(self.last_seed))

    def check_codes(self, codes: np.ndarray, what: str = "codes") -> np.ndarray:
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[0] != self.levels:
            raise BadInputError(f"{what} must be a grid of {self.levels} levels x positions, got shape {codes.shape}")
        if not np.issubdtype(codes.dtype, np.integer):
            raise BadInputError(f"{what} must be integers")
        for q, k in enumerate(self.codebook_sizes):
            row = codes[q]
            if row.size and (row.min() < 0 or row.max() >= k):
                raise BadInputError(f"{what}: a code at level {q + 1} is outside its codebook (0..{k - 1})")
        return codes.astype(np.int64)

    # ------------------------------------------------------------ the sampling loop
    @torch.inference_mode()
    def _run(self, seq: torch.Tensor, free: torch.Tensor, start: int, end: int, settings: SamplingSettings,
             gen: torch.Generator, bias: LevelBias | None = None) -> torch.Tensor:
        """Fill the free slots of `seq` (B, N) in [start, end), left to right; the others are read as given.

        Returns the summed log-probability (B,) of the fixed slots in [start, end) under the samples before them.
        The window slides by half a context when it is full, and the past it keeps is read again, so
        generation never stops at the window's end and the carried context has no seam.
        `bias` (if any) is added to the scores of the free slots only; the fixed slots are scored as the prior reads them.
        """
        # tiny per-token products: a second thread only adds waiting (20 ms a token on a busy 2-core box)
        with torch_threads(1 if seq.shape[0] <= 4 else None):
            return self._fill(seq, free.tolist(), start, end, settings, gen, bias)

    def _prefill(self, seq: torch.Tensor, w0: int, upto: int, step: SlotStep | None = None) -> KVCache | list:
        """A fresh cache for the window starting at time w0, holding slots [w0 * levels, upto) (through `step`'s
        numpy forward when given, else the model's)."""
        cache = self.model.new_cache(seq.shape[0])
        if upto > w0 * self.levels:
            x = slot_inputs(self.cfg, seq, w0, w0 * self.levels, upto)
            if step is not None:
                step.prefill(x.tok.numpy(), x.same.numpy(), x.level.numpy(), x.time.numpy(), cache)
            else:
                self.model(x, cache)
        return cache

    def _fill(self, seq: torch.Tensor, free: list[bool], start: int, end: int, settings: SamplingSettings,
              gen: torch.Generator, bias: LevelBias | None = None) -> torch.Tensor:
        cfg, model = self.cfg, self.model
        q, ctx, hop, vocab = cfg.levels, cfg.context, cfg.hop, cfg.vocab
        b = seq.shape[0]
        offsets, sizes = cfg.offsets, cfg.codebook_sizes
        fixed_logp = np.zeros(b)  # (B,) float64
        rows = np.arange(b)
        # The Transformer's step in numpy (model/prior_step.py); it, the memory and the draws read and write the codes
        # through a view: per code, torch's fixed cost per operation would be most of the time
        step = SlotStep(model) if cfg.architecture == "transformer" else None
        codes = seq.numpy()  # (B, slots): the same memory as seq
        level_n, time_n = [np.full(b, lv) for lv in range(q)], [np.full(b, t) for t in range(ctx)]
        bos_n, none_n = [np.full(b, vocab + k) for k in (0, 1)], np.full(b, vocab)
        w0 = window_for_time(cfg, start // q)
        cache = self._prefill(seq, w0, start, step)
        memory = SoundMemory(cfg, b)  # the sound's own codes so far (model/memory.py); inactive in most priors
        noise = exponential_noise(b * sum(sizes[i % q] for i in range(start, end) if free[i]), gen)  # every draw's, in order
        taken = 0

        def context(i: int) -> tuple[np.ndarray | None, np.ndarray | None]:
            """What the memory matches slot i on, local codes (B,) each: the column's code one level up ("cross")
            and the level's previous code ("bi"; None at the sound's start)."""
            lv = i % q
            return codes[:, i - 1] - offsets[lv - 1] if lv else None, codes[:, i - q] - offsets[lv] if i >= q else None

        def remember(i: int, seen: tuple[np.ndarray | None, np.ndarray | None]) -> None:
            """Slot i's code, once fixed, into the memory (with the column's level-1 code: silent columns are not
            remembered; at level 1 that is the code just fixed)."""
            memory.add(i % q, codes[:, i] - offsets[i % q], *seen, codes[:, i - i % q] - offsets[0])

        def settle(i: int, scores: np.ndarray) -> None:
            """Slot i's level scores (B, K) given: lean them on the memory, draw slot i if it is free, else add its
            kept code's log-probability; then remember the code."""
            nonlocal fixed_logp, taken
            lv, lo = i % q, offsets[i % q]
            seen = context(i) if memory.active else None
            if seen is not None:
                scores = memory.lean(lv, log_softmax(scores), seen[0], seen[1])
            if free[i]:
                if bias is not None:
                    previous_codes = None if i < q else torch.from_numpy(codes[:, i - q] - lo)
                    scores = scores + bias(lv, previous_codes).numpy()  # (B, K)
                need = b * sizes[lv]
                codes[:, i] = sample_codes(scores, settings, gen, noise[taken : taken + need].reshape(b, -1)) + lo
                taken += need
            else:
                fixed_logp += log_softmax(scores.astype(np.float64))[rows, codes[:, i] - lo]
            if seen is not None:
                remember(i, seen)

        if memory.active:
            for i in range(start):
                remember(i, context(i))
        i = start
        while i < end:
            if i >= (w0 + ctx) * q:
                w0 += hop
                cache = self._prefill(seq, w0, i, step)
            lv = i % q
            run = i + 1  # the kept slots from i on, within the window: scored in one forward when there are several
            while step is not None and not free[i] and run < min(end, (w0 + ctx) * q) and not free[run]:
                run += 1
            if run - i > 1:
                x = slot_inputs(cfg, seq, w0, i, run)  # (B, S) each
                logits = step.step(*(t.numpy() for t in (x.tok, x.same, x.level, x.time, x.same2)), cache)  # (B, S, V)
                for k in range(i, run):
                    settle(k, logits[:, k - i, offsets[k % q] : offsets[k % q] + sizes[k % q]])
                i = run
                continue
            if step is not None:  # the same logits as the model's forward, without torch's cost per operation
                logits = step.step(bos_n[min(w0, 1)] if i == w0 * q else codes[:, i - 1], none_n if i < q else codes[:, i - q],
                                   level_n[lv], time_n[i // q - w0], none_n if i < 2 * q else codes[:, i - 2 * q], cache)
            else:  # an LSTM: its forward, one slot
                logits = model(slot_inputs(cfg, seq, w0, i, i + 1), cache)[:, 0].numpy()  # (B, V)
            settle(i, logits[:, offsets[lv] : offsets[lv] + sizes[lv]])  # (B, K)
            i += 1
        return torch.from_numpy(fixed_logp)

    # ------------------------------------------------------------ the API the editor calls
    def generate_batch(self, n: int, positions: int, settings: SamplingSettings, *,
                       bias: LevelBias | None = None) -> np.ndarray:
        """n new grids (n, levels, positions) (`bias` leans each draw)."""
        return self._generate(n, positions, settings, self._generator(settings), bias)

    def _generate(self, n: int, positions: int, settings: SamplingSettings, gen: torch.Generator,
                  bias: LevelBias | None = None) -> np.ndarray:
        if positions < 1:
            raise BadInputError("the length to generate must be at least one position")
        slots = positions * self.levels
        seq = torch.zeros(n, slots, dtype=torch.long)  # (B, N)
        self._run(seq, torch.ones(slots, dtype=torch.bool), 0, slots, settings, gen, bias)
        return np.stack([unflatten_tokens(s, self.cfg) for s in seq.numpy()])  # (n, levels, positions)

    def generate(self, positions: int, settings: SamplingSettings) -> np.ndarray:
        """A new grid (levels, positions)."""
        return self.generate_batch(1, positions, settings)[0]

    def loop(self, positions: int, settings: SamplingSettings, *, seam_positions: int | None = None,
             candidates: int = 8) -> np.ndarray:
        """A new grid (levels, positions) whose end flows into its start, for playing round and round."""
        return self.loop_candidates(positions, settings, seam_positions=seam_positions, candidates=candidates)[0].codes

    def loop_candidates(self, positions: int, settings: SamplingSettings, *, seam_positions: int | None = None,
                        candidates: int = 8, lead: np.ndarray | None = None,
                        bias: LevelBias | None = None) -> list[RegionCandidate]:
        """Loops (levels, positions), the one whose wrap the prior finds likeliest first.

        A grid is sampled after a lead-in (left out, so the loop does not begin as a sound begins), then
        its last `seam_positions` (default a quarter, at most half a context) are sampled again
        `candidates` times with its first positions laid after them; each candidate's join is how
        likely the prior finds those first positions after it: the wrap is scored as any join is.
        `lead` (levels, L), if given, is the lead-in instead of sampled codes (a prompt); `bias` leans every draw.
        """
        if positions < 2:
            raise BadInputError("a loop needs at least two positions")
        k = seam_positions if seam_positions is not None else min(max(positions // 4, 1), max(self.cfg.context // 2, 1))
        if not 1 <= k < positions:
            raise BadInputError(f"the seam must be 1 to {positions - 1} positions, got {k}")
        gen = self._generator(settings)
        if lead is None:
            n_lead = min(self.cfg.hop, positions)
            grid = self._generate(1, n_lead + positions, settings, gen, bias)[0][:, n_lead:]  # (Q, P)
        else:
            lead = self.check_codes(lead, "lead-in")
            grid = self._continue(lead, lead.shape[1] + positions, settings, gen, bias)[:, lead.shape[1]:]  # (Q, P)
        wrap = min(self.cfg.hop, positions - k)  # the grid's first positions, read again after the seam
        ext = np.concatenate([grid, grid[:, :wrap]], axis=1)  # (Q, P + wrap)
        free = np.zeros(ext.shape, dtype=bool)
        free[:, positions - k : positions] = True
        return [RegionCandidate(c.codes[:, :positions], c.join_nll)
                for c in self._masked(ext, free, settings, candidates, gen, bias)]

    def one_shot(self, silence: np.ndarray, positions: int, settings: SamplingSettings, *, tail: int = 2,
                 candidates: int = 8, bias: LevelBias | None = None) -> np.ndarray:
        """A new grid (levels, positions) that starts from silence and ends in it.

        `silence` (levels,) is the column the VQ-VAE gives a silent frame. The prior is prompted with
        one silent column (left out of the result); the last `tail` positions are silence, and of
        `candidates` sampled bodies the one after which the prior finds that silence likeliest wins.
        `bias` leans every draw.
        """
        silence = self.check_codes(np.asarray(silence).reshape(-1, 1), "silence column")[:, 0]
        if positions < tail + 1:
            raise BadInputError(f"a one-shot needs more than {tail} positions, got {positions}")
        grid = np.repeat(silence[:, None], positions + 1, axis=1)  # (Q, 1 + P): the prompt, then the sound
        free = np.zeros(grid.shape, dtype=bool)
        free[:, 1 : positions + 1 - tail] = True
        best = self._masked(grid, free, settings, candidates, self._generator(settings), bias)[0].codes
        return best[:, 1:]

    def continue_codes(self, codes: np.ndarray, prompt_positions: int, total_positions: int,
                       settings: SamplingSettings, *, bias: LevelBias | None = None) -> np.ndarray:
        """Keep the first `prompt_positions` of `codes` and generate up to `total_positions` (`bias` leans each draw)."""
        codes = self.check_codes(codes, "prompt")
        if not 0 <= prompt_positions <= codes.shape[1]:
            raise BadInputError(f"prompt positions {prompt_positions} must be between 0 and the prompt's length {codes.shape[1]}")
        if prompt_positions > total_positions:
            raise BadInputError(f"the prompt ({prompt_positions} positions) is longer than the requested length ({total_positions})")
        if total_positions < 1:
            raise BadInputError("the length to generate must be at least one position")
        return self._continue(codes[:, :prompt_positions], total_positions, settings, self._generator(settings), bias)

    def _continue(self, prompt: np.ndarray, total_positions: int, settings: SamplingSettings, gen: torch.Generator,
                  bias: LevelBias | None = None) -> np.ndarray:
        """`prompt` (levels, L) followed by new codes: a grid (levels, total_positions)."""
        grid = np.zeros((self.levels, total_positions), dtype=np.int64)
        grid[:, : prompt.shape[1]] = prompt
        seq = torch.from_numpy(flatten_codes(grid, self.cfg))[None].clone()  # (1, N)
        start = prompt.shape[1] * self.levels
        free = torch.arange(seq.shape[1]) >= start
        self._run(seq, free, start, seq.shape[1], settings, gen, bias)
        return unflatten_tokens(seq[0].numpy(), self.cfg)

    def regenerate_region(self, codes: np.ndarray, start: int, end: int, settings: SamplingSettings, *,
                          levels: list[int] | None = None, candidates: int = 4) -> np.ndarray:
        """New codes for positions [start, end) (and only `levels`, 0-based), given what precedes them.

        What follows the region is kept; of `candidates` samples the one after which the prior finds
        the kept codes likeliest (the fixed levels inside the region, then up to half a window after it)
        wins, so the join is smooth. Outside the region and outside `levels` the result equals `codes`.
        """
        return self.region_candidates(codes, start, end, settings, levels=levels, candidates=candidates)[0].codes

    def region_candidates(self, codes: np.ndarray, start: int, end: int, settings: SamplingSettings, *,
                          levels: list[int] | None = None, candidates: int = 4) -> list[RegionCandidate]:
        """All sampled candidates for a region, best join first (see `regenerate_region`)."""
        codes = self.check_codes(codes)
        positions = codes.shape[1]
        if not 0 <= start < end <= positions:
            raise BadInputError(f"region [{start}, {end}) must lie inside the grid's {positions} positions and not be empty")
        chosen = list(range(self.levels)) if levels is None else sorted(set(levels))
        if not chosen or any(not 0 <= lv < self.levels for lv in chosen):
            raise BadInputError(f"levels to regenerate must be between 0 and {self.levels - 1}, got {levels}")
        free = np.zeros(codes.shape, dtype=bool)
        free[np.ix_(chosen, np.arange(start, end))] = True
        return self.mask_candidates(codes, free, settings, candidates=candidates)

    def regenerate_masked(self, codes: np.ndarray, free: np.ndarray, settings: SamplingSettings, *,
                          candidates: int = 4) -> np.ndarray:
        """New codes in the cells where `free` (levels, positions) is True, the others kept (see `mask_candidates`)."""
        return self.mask_candidates(codes, free, settings, candidates=candidates)[0].codes

    def mask_candidates(self, codes: np.ndarray, free: np.ndarray, settings: SamplingSettings, *,
                        candidates: int = 4) -> list[RegionCandidate]:
        """Candidates for the free cells (levels, positions bool), best join first.

        The free cells are sampled left to right given everything before them; the kept cells from
        the first free position on (those between free ones, then up to half a window after the last)
        are scored, and the candidate that makes them likeliest comes first. When the model file holds a
        masked prior (`self.masked`, `train-prior --shape masked`) it fills them instead, from both sides
        (inference/masked_sampling.py); set `masked` to None to use the causal prior.
        """
        codes = self.check_codes(codes)
        free = np.asarray(free, dtype=bool)
        if free.shape != codes.shape:
            raise BadInputError(f"the mask's shape {free.shape} differs from the grid's {codes.shape}")
        if not free.any():
            raise BadInputError("nothing to regenerate: the mask is empty")
        if self.masked is not None:  # the masked prior reads the kept cells on both sides (inference/masked_sampling.py)
            found = self.masked.candidates(codes, free, settings, candidates, self._generator(settings))
            return [RegionCandidate(c.codes, c.join_nll) for c in found]
        return self._masked(codes, free, settings, candidates, self._generator(settings))

    def candidates_from(self, starts: np.ndarray, free: np.ndarray, settings: SamplingSettings) -> list[RegionCandidate]:
        """One candidate per grid of `starts` (C, levels, positions), its free cells (levels, positions bool, the same
        for all) sampled given that grid's own kept cells, in one batch; in the order of `starts`."""
        grids = [self.check_codes(g) for g in starts]
        free = np.asarray(free, dtype=bool)
        if not grids or free.shape != grids[0].shape or not free.any():
            raise BadInputError("candidates need grids of one shape and a mask that frees some of their cells")
        if self.masked is not None:  # the masked prior fills one grid at a time
            gen = self._generator(settings)
            return [RegionCandidate(c.codes, c.join_nll) for g in grids
                    for c in self.masked.candidates(g, free, settings, 1, gen)]
        found = self._masked(np.stack(grids), free, settings, len(grids), self._generator(settings), ranked=False)
        return found

    def _masked(self, codes: np.ndarray, free: np.ndarray, settings: SamplingSettings, candidates: int,
                gen: torch.Generator, bias: LevelBias | None = None, ranked: bool = True) -> list[RegionCandidate]:
        """codes (levels, positions), or (candidates, levels, positions): each candidate's own kept cells."""
        check_candidates(candidates)
        q, positions = self.levels, codes.shape[-1]
        cols = np.flatnonzero(free.any(axis=0))
        start, end = int(cols[0]), int(cols[-1]) + 1
        grids = codes if codes.ndim == 3 else np.broadcast_to(codes, (candidates, *codes.shape))  # (C, levels, positions)
        seq = torch.from_numpy(np.stack([flatten_codes(g, self.cfg) for g in grids]))  # (C, N)
        free_slots = torch.from_numpy(np.ascontiguousarray(free.T).reshape(-1))  # (N,): time-major like the tokens
        inside = self._run(seq, free_slots, start * q, end * q, settings, gen, bias)  # log p of the kept codes in the span
        horizon = min(self.cfg.hop, positions - end)
        after = torch.zeros(candidates, dtype=torch.float64)
        if horizon > 0:
            windows = [w for c in range(candidates) for w in scoring_windows(self.cfg, seq.shape[1], c, end * q, (end + horizon) * q)]
            after = windows_nll(self.model, list(seq), windows)
        join = (after - inside).tolist()
        out = []
        for c in sorted(range(candidates), key=lambda c: join[c]) if ranked else range(candidates):
            grid = unflatten_tokens(seq[c].numpy(), self.cfg)
            assert np.array_equal(grid[~free], grids[c][~free]), "regeneration touched codes outside its mask"
            out.append(RegionCandidate(grid, join[c]))
        return out

    @torch.inference_mode()
    def score(self, codes: np.ndarray) -> float:
        """Mean negative log-likelihood per token (nats), read as generation reads it."""
        codes = self.check_codes(codes)
        seq = torch.from_numpy(flatten_codes(codes, self.cfg))
        windows = scoring_windows(self.cfg, len(seq))
        return float(windows_nll(self.model, [seq], windows).sum()) / max(len(seq), 1)


def positions_for_seconds(seconds: float, sample_rate: int, hop_length: int, stride: int) -> int:
    return max(1, int(np.ceil(seconds * sample_rate / (hop_length * stride))))


def bigram_generate(log_starts: list[np.ndarray], log_trans: list[np.ndarray], n: int, positions: int,
                    rng: np.random.Generator, temperature: float = 1.0) -> np.ndarray:
    """n grids (n, levels, positions) from a same-level bigram: each level a Markov chain of its own codes.

    `log_starts[q]` (K,) and `log_trans[q]` (K, K) previous -> next are log-probabilities
    (`analysis.memorization.bigram_log_tables`); the baseline the network is measured against.
    """
    out = np.zeros((n, len(log_starts), positions), dtype=np.int64)  # (n, Q, P)

    def draw(logp: np.ndarray) -> np.ndarray:
        """logp (n, K) -> one index per row."""
        z = logp / temperature
        p = np.exp(z - z.max(axis=1, keepdims=True))
        cum = np.cumsum(p, axis=1)
        u = rng.random((len(p), 1)) * cum[:, -1:]
        return np.minimum((cum < u).sum(axis=1), p.shape[1] - 1)

    for q, (start, trans) in enumerate(zip(log_starts, log_trans, strict=True)):
        out[:, q, 0] = draw(np.repeat(start[None], n, axis=0))
        for t in range(1, positions):
            out[:, q, t] = draw(trans[out[:, q, t - 1]])
    return out


@torch.no_grad()
def silence_column(codec: Codec) -> np.ndarray:
    """The codes (levels,) the VQ-VAE gives silence: a stretch of floor-level spectrum, encoded, its middle column."""
    frames = codec.cfg.stride * 8
    db = torch.full((1, codec.spec.n_bins, frames), float(codec.spec.floor_db), device=codec.device)  # (1, F, T)
    codes = codec.model.encode(db)[0].cpu().numpy()  # (Q, 8)
    return codes[:, codes.shape[1] // 2].astype(np.int64)
