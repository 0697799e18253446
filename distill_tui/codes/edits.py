"""Edits of a `CodeGrid` as objects with `do` / `undo` that keep only the cells they touch.

Modelled on Textual's `document/_edit.py`: an edit is a small dataclass holding its parameters; `do`
computes the new values once (random and model-driven edits are therefore replayed exactly by a
redo), remembers the old values of the touched cells, and writes; `undo` writes the old values back.
Cost is O(selection), except inserting or deleting columns, which rebuilds the (levels, positions)
array. Every edit validates the codes it writes against the grid's codebook sizes, and edits that
read another grid refuse one made by another model unless a mapping through embeddings is given.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

import numpy as np

from ..errors import BadInputError
from .clipboard import Clipboard, EmbeddingMap, require_same_model
from .grid import CodeGrid
from .selection import Selection


@dataclass
class EditResult:
    """What an edit (or its undo) changed in the grid it was applied to."""

    changed: Selection  # clipped cells whose codes may have changed (redraw these, re-decode around them)
    resized: bool = False  # columns were inserted or deleted: everything from `changed.pos_start` on moved
    other: CodeGrid | None = None  # a second grid this edit wrote (a swap), or None
    other_changed: Selection | None = None


class Edit:
    """Base class. Subclasses are dataclasses; `groupable` edits (keystrokes) may share an undo step."""

    groupable: ClassVar[bool] = False

    def do(self, doc: CodeGrid) -> EditResult:
        raise NotImplementedError

    def undo(self, doc: CodeGrid) -> EditResult:
        raise NotImplementedError

    def touched(self, doc: CodeGrid) -> tuple[CodeGrid, ...]:
        """Every grid this edit writes when applied to `doc`."""
        return (doc,)


def check_codes(doc: CodeGrid, sel: Selection, new: np.ndarray, mask: np.ndarray | None = None) -> None:
    """Refuse values outside each level's codebook (only where `mask` is True)."""
    sizes = np.asarray(doc.codebook_sizes, dtype=np.int64)[sel.level_start : sel.level_stop, None]  # (L, 1)
    bad = (new < 0) | (new >= sizes)
    if mask is not None:
        bad &= mask
    if bad.any():
        li, pi = np.argwhere(bad)[0]
        level = sel.level_start + int(li)
        raise BadInputError(
            f"code {int(new[li, pi])} does not exist at level {level + 1} (its codes are 0..{doc.codebook_sizes[level] - 1})"
        )


# --------------------------------------------------------------------------------------------------
# Edits that rewrite a rectangle of cells


@dataclass
class BlockEdit(Edit):
    """Writes a block of new values (where `mask`) into a clipped selection; stores the old block."""

    _sel: Selection | None = field(init=False, default=None, repr=False)
    _new: np.ndarray | None = field(init=False, default=None, repr=False)  # (L, P) computed on the first do
    _mask: np.ndarray | None = field(init=False, default=None, repr=False)  # (L, P) bool, or None = all
    _old: np.ndarray | None = field(init=False, default=None, repr=False)  # (L, P) values before the do

    def target(self, doc: CodeGrid) -> Selection:
        raise NotImplementedError

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, np.ndarray | None]:
        """New values (L, P) for the clipped selection, and an optional write mask."""
        raise NotImplementedError

    def do(self, doc: CodeGrid) -> EditResult:
        if self._new is None:
            sel = self.target(doc).clip(doc.levels, doc.positions)
            if sel.empty:
                new, mask = np.zeros(sel.shape, dtype=np.int64), None
            else:
                new, mask = self.compute(doc, sel)
                new = np.asarray(new, dtype=np.int64)
                if new.shape != sel.shape:
                    raise BadInputError(f"internal: block of shape {new.shape} for a selection of {sel.shape}")
                check_codes(doc, sel, new, mask)
            self._sel, self._new, self._mask = sel, new, mask
        sel = self._sel
        assert sel is not None
        block = doc.codes[sel.slices]  # a view: writing it writes the grid
        self._old = block.copy()
        if self._mask is None:
            block[...] = self._new
        else:
            np.copyto(block, self._new, where=self._mask)
        return EditResult(sel)

    def undo(self, doc: CodeGrid) -> EditResult:
        assert self._sel is not None and self._old is not None, "undo before do"
        doc.codes[self._sel.slices] = self._old
        return EditResult(self._sel)


@dataclass
class SetCell(BlockEdit):
    """Overwrite one cell (a keystroke)."""

    groupable: ClassVar[bool] = True
    level: int = 0
    position: int = 0
    code: int = 0

    def target(self, doc: CodeGrid) -> Selection:
        return Selection.cell(self.level, self.position)

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, None]:
        return np.full(sel.shape, self.code, dtype=np.int64), None


@dataclass
class Fill(BlockEdit):
    """Fill a selection with one code (it must exist in every selected level)."""

    selection: Selection = field(default_factory=Selection)
    code: int = 0

    def target(self, doc: CodeGrid) -> Selection:
        return self.selection

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, None]:
        return np.full(sel.shape, self.code, dtype=np.int64), None


@dataclass
class Nudge(BlockEdit):
    """Move each code `step` places along its level's perceptual order (up = a little brighter/louder).

    `order[q]` lists level q's codes from darkest/softest to brightest/loudest (`PerceptualData.order`).
    """

    groupable: ClassVar[bool] = True
    selection: Selection = field(default_factory=Selection)
    step: int = 1
    order: Sequence[np.ndarray] = ()

    def target(self, doc: CodeGrid) -> Selection:
        return self.selection

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, None]:
        if len(self.order) != doc.levels:
            raise BadInputError(f"a perceptual order for {len(self.order)} levels does not fit a grid of {doc.levels}")
        old = doc.codes[sel.slices]
        new = np.empty_like(old)  # (L, P)
        for i, q in enumerate(range(sel.level_start, sel.level_stop)):  # type: ignore[arg-type]
            order = np.asarray(self.order[q], dtype=np.int64)  # (K,)
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            new[i] = order[np.clip(rank[old[i]] + self.step, 0, len(order) - 1)]
        return new, None


@dataclass
class Reverse(BlockEdit):
    """Reverse a selection in time."""

    selection: Selection = field(default_factory=Selection)

    def target(self, doc: CodeGrid) -> Selection:
        return self.selection

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, None]:
        return doc.codes[sel.slices][:, ::-1].copy(), None


@dataclass
class FillPattern(BlockEdit):
    """Tile a pattern over a selection: `pattern` (rows, n) with -1 for "leave as is".

    One row applies to every selected level; otherwise row i goes to the i-th selected level. The
    pattern repeats along time from the selection's first position (see `patterns.py`).
    """

    selection: Selection = field(default_factory=Selection)
    pattern: np.ndarray = field(default_factory=lambda: np.zeros((1, 1), dtype=np.int64))

    def target(self, doc: CodeGrid) -> Selection:
        return self.selection

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, np.ndarray]:
        pat = np.atleast_2d(np.asarray(self.pattern, dtype=np.int64))  # (rows, n)
        n_levels, n_positions = sel.shape
        if pat.shape[1] == 0:
            raise BadInputError("the pattern is empty")
        if pat.shape[0] == 1:
            pat = np.repeat(pat, n_levels, axis=0)
        elif pat.shape[0] < n_levels:
            raise BadInputError(f"a pattern of {pat.shape[0]} rows does not cover {n_levels} selected levels")
        reps = -(-n_positions // pat.shape[1])
        new = np.tile(pat[:n_levels], (1, reps))[:, :n_positions]  # (L, P)
        return new, new >= 0


@dataclass
class Paste(BlockEdit):
    """Paste a clipboard at `position`, into the levels it was copied from.

    mode "overwrite" writes every clipboard cell; an empty cell (-1) then takes its level's
    `background` code, and without one the paste is refused. mode "mix" writes only the clipboard's
    non-empty cells. A clipboard from another model is refused: map it first (`Clipboard.mapped`).
    """

    clip: Clipboard | None = None
    position: int = 0
    mode: Literal["overwrite", "mix"] = "overwrite"
    background: Sequence[int] | None = None

    def target(self, doc: CodeGrid) -> Selection:
        assert self.clip is not None
        clip = self.clip
        clip.check_target(doc)
        return Selection(clip.level_start, clip.level_start + clip.levels, self.position, self.position + clip.positions)

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, np.ndarray | None]:
        assert self.clip is not None
        off = sel.pos_start - self.position  # > 0 when pasted partly before position 0
        vals = self.clip.values[: sel.shape[0], off : off + sel.shape[1]].copy()  # (L, P)
        holes = vals < 0
        if self.mode == "mix":
            return vals, ~holes
        if self.mode != "overwrite":
            raise BadInputError(f"paste mode {self.mode!r} is not overwrite or mix")
        if holes.any():
            if self.background is None:
                raise BadInputError("the clipboard has empty cells: paste with mode 'mix', or give background codes")
            bg = np.asarray(self.background, dtype=np.int64)[sel.level_start : sel.level_stop, None]  # (L, 1)
            vals = np.where(holes, bg, vals)
        return vals, None


@dataclass
class Randomize(BlockEdit):
    """Replace a selection with random codes.

    mode "uniform": any code of the level; "usage": drawn from the level's usage on the training set
    (`usage[q]`, counts); "nearest": one of the k codes nearest to the current one in embedding space
    (`neighbours[q]` (K, k), from `nearest_codes`), for small variations. `seed` None draws fresh
    entropy; the drawn codes are kept, so a redo replays them.
    """

    selection: Selection = field(default_factory=Selection)
    mode: Literal["uniform", "usage", "nearest"] = "uniform"
    seed: int | None = None
    usage: Sequence[np.ndarray] | None = None
    neighbours: Sequence[np.ndarray] | None = None

    def target(self, doc: CodeGrid) -> Selection:
        return self.selection

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, None]:
        rng = np.random.default_rng(self.seed)
        old = doc.codes[sel.slices]
        new = np.empty_like(old)  # (L, P)
        for i, q in enumerate(range(sel.level_start, sel.level_stop)):  # type: ignore[arg-type]
            k = doc.codebook_sizes[q]
            if self.mode == "uniform":
                new[i] = rng.integers(0, k, size=old.shape[1])
            elif self.mode == "usage":
                if self.usage is None or len(self.usage) != doc.levels:
                    raise BadInputError("randomizing by usage needs the model's usage counts for every level")
                counts = np.asarray(self.usage[q], dtype=np.float64)[:k]
                p = counts / counts.sum() if counts.sum() > 0 else None
                new[i] = rng.choice(k, size=old.shape[1], p=p)
            elif self.mode == "nearest":
                if self.neighbours is None or len(self.neighbours) != doc.levels:
                    raise BadInputError("randomizing to nearest codes needs the model's embeddings for every level")
                nb = np.asarray(self.neighbours[q], dtype=np.int64)  # (K, k)
                new[i] = nb[old[i], rng.integers(0, nb.shape[1], size=old.shape[1])]
            else:
                raise BadInputError(f"randomize mode {self.mode!r} is not uniform, usage or nearest")
        return new, None


def nearest_codes(embeddings: np.ndarray, k: int) -> np.ndarray:
    """embeddings (K, D) -> (K, k): each code's k nearest other codes by Euclidean distance."""
    e = np.asarray(embeddings, dtype=np.float64)
    d = ((e[:, None, :] - e[None, :, :]) ** 2).sum(-1)  # (K, K)
    np.fill_diagonal(d, np.inf)
    k = max(1, min(k, len(e) - 1))
    return np.argsort(d, axis=1, kind="stable")[:, :k]


@dataclass
class TakeLevels(BlockEdit):
    """"DNA mix": replace whole levels with the same levels of `source` (structure from A, texture from B).

    align "stretch" maps source positions onto this grid's length (nearest position); "crop" takes
    source positions one for one, leaving this grid's tail unchanged where the source is shorter.
    A source from another model is refused unless `mapping` (source model -> this model) is given.
    """

    source: CodeGrid | None = None
    levels: Sequence[int] = (0,)
    align: Literal["stretch", "crop"] = "stretch"
    mapping: EmbeddingMap | None = None

    def target(self, doc: CodeGrid) -> Selection:
        if not self.levels:
            raise BadInputError("no levels to take")
        bad = [q + 1 for q in self.levels if not 0 <= q < doc.levels]
        if bad:
            raise BadInputError(f"level(s) {bad} do not exist (this grid has levels 1..{doc.levels})")
        return Selection(min(self.levels), max(self.levels) + 1, 0, None)

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, np.ndarray]:
        assert self.source is not None
        src = self.source.codes  # (Qs, Ps)
        if self.mapping is not None:
            self.mapping.check(self.source, doc)
            src = self.mapping.map_grid(src)  # (Q, Ps) in this model's codes
        else:
            require_same_model(self.source, doc, "take levels")
        n = doc.positions
        ps = src.shape[1]
        if ps == 0:
            raise BadInputError("the source grid has no positions")
        new = doc.codes[sel.slices].copy()  # (L, P)
        mask = np.zeros(new.shape, dtype=bool)
        if self.align == "stretch":
            idx = np.minimum(((np.arange(n) + 0.5) * ps / n).astype(np.int64), ps - 1)  # (P,)
            cols = slice(0, n)
        elif self.align == "crop":
            idx = np.arange(min(n, ps))
            cols = slice(0, len(idx))
        else:
            raise BadInputError(f"alignment {self.align!r} is not stretch or crop")
        for q in self.levels:
            row = q - sel.level_start
            new[row, cols] = src[q, idx]
            mask[row, cols] = True
        return new, mask


@dataclass
class Blend(BlockEdit):
    """Move a selection of this grid toward `other` in latent space by `amount` (0..1), then re-quantize.

    The latent of each selected column is the sum of its levels' embeddings (all levels); the blend
    is re-quantized with the model's residual quantizer and the selected levels are written. Amount
    0 keeps this grid's codes and 1 takes `other`'s; columns past `other`'s end are left alone.
    `quantizer` is the model's `Quantizer` (`codec.model.quantizer`); both grids must be of its model.
    """

    selection: Selection = field(default_factory=Selection)
    other: CodeGrid | None = None
    amount: float = 0.5
    quantizer: Any = None
    other_position: int | None = None  # where in `other` the selection starts (default: same position)

    def target(self, doc: CodeGrid) -> Selection:
        return self.selection

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, np.ndarray]:
        assert self.other is not None and self.quantizer is not None
        require_same_model(self.other, doc, "blend")
        if not 0.0 <= self.amount <= 1.0:
            raise BadInputError(f"blend amount {self.amount} must be between 0 and 1")
        start_b = sel.pos_start if self.other_position is None else max(self.other_position, 0)
        n = max(0, min(sel.shape[1], self.other.positions - start_b))
        new = doc.codes[sel.slices].copy()  # (L, P)
        mask = np.zeros(new.shape, dtype=bool)
        if n == 0:
            return new, mask
        a = doc.codes[:, sel.pos_start : sel.pos_start + n]  # (Q, n)
        b = self.other.codes[:, start_b : start_b + n]  # (Q, n)
        rows = slice(sel.level_start, sel.level_stop)
        if self.amount <= 0.0:
            blended = a
        elif self.amount >= 1.0:
            blended = b
        else:
            blended = requantize_blend(self.quantizer, a, b, self.amount)
        new[:, :n] = blended[rows]
        mask[:, :n] = True
        return new, mask


@contextmanager
def one_thread() -> Iterator[None]:
    """Run small tensor products on one thread: on a busy 2-core box a second thread only adds
    waiting (measured: a blend of 8 x 1000 codes took 200-2000 ms on two threads, 4 ms on one)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def requantize_blend(quantizer: Any, a: np.ndarray, b: np.ndarray, amount: float) -> np.ndarray:
    """codes a, b (Q, n) -> codes (Q, n) of the latent (1 - amount) * z_a + amount * z_b."""
    import torch

    with one_thread():
        z = latent(quantizer, np.stack([a, b]))  # (2, n, D)
        mix = torch.lerp(z[0:1], z[1:2], float(amount))  # (1, n, D)
        return requantize(quantizer, mix)[0]


def _plain(rvq: Any) -> bool:
    """True when the ResidualVQ is a plain sum of Euclidean codebooks (no projections, no cosine similarity)."""
    from torch import nn

    return isinstance(rvq.project_in, nn.Identity) and isinstance(rvq.project_out, nn.Identity) and all(
        isinstance(layer.project_in, nn.Identity) and isinstance(layer.project_out, nn.Identity)
        and not getattr(layer, "use_cosine_sim", False) for layer in rvq.layers
    )


def latent(quantizer: Any, codes: np.ndarray) -> Any:
    """codes (B, Q, n) -> latent (B, n, D): the sum of each level's embedding (the library's
    `get_output_from_indices`, done as one gather when the quantizer is plain: ~30x faster)."""
    import torch

    idx = torch.as_tensor(np.asarray(codes), dtype=torch.long)  # (B, Q, n)
    with torch.no_grad():
        if not _plain(quantizer.rvq):
            return quantizer.decode_indices(idx)
        out = None
        for q in range(idx.shape[1]):
            e = quantizer.embeddings(q)[idx[:, q]]  # (B, n, D)
            out = e if out is None else out + e
        return out


def requantize(quantizer: Any, z: Any) -> np.ndarray:
    """Latent (B, n, D) -> codes (B, Q, n): greedy residual quantization, as the model's ResidualVQ does in eval mode.

    Without projections or cosine codebooks (our configuration) it runs here as a few matrix
    products (the library's forward costs ~10x more on small inputs); otherwise through the library.
    Never updates a codebook.
    """
    import torch

    rvq = quantizer.rvq
    with torch.no_grad():
        if _plain(rvq):
            b, n, d = z.shape
            r = z.reshape(b * n, d).float()  # (B * n, D) residual
            out = []
            for q in range(len(rvq.layers)):
                e = quantizer.embeddings(q).float()  # (K, D)
                dist = (e * e).sum(-1)[None] - 2 * r @ e.T  # (B * n, K); |r|^2 is the same for every code
                idx = dist.argmin(dim=-1)  # (B * n,)
                out.append(idx)
                r = r - e[idx]
            return torch.stack(out, dim=0).reshape(-1, b, n).permute(1, 0, 2).cpu().numpy().astype(np.int64)
        was_training = rvq.training
        rvq.eval()
        try:
            _, indices, _ = rvq(z.float())  # indices (B, n, Q)
        finally:
            rvq.train(was_training)
        return indices.transpose(1, 2).cpu().numpy().astype(np.int64)


class PriorLike(Protocol):
    """What `Regenerate` and `Continue` need from the prior (`inference.generate.Prior`)."""

    def regenerate_region(
        self, codes: np.ndarray, start: int, end: int, settings: Any, *, levels: list[int] | None = None, candidates: int = 4
    ) -> np.ndarray: ...

    def continue_codes(self, codes: np.ndarray, prompt_positions: int, total_positions: int, settings: Any) -> np.ndarray: ...


@dataclass
class Regenerate(BlockEdit):
    """Resample a selection with the prior (temperature, top-k, top-p and seed live in `settings`)."""

    selection: Selection = field(default_factory=Selection)
    prior: PriorLike | None = None
    settings: Any = None
    candidates: int = 4

    def target(self, doc: CodeGrid) -> Selection:
        return self.selection

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, None]:
        assert self.prior is not None
        levels = list(range(sel.level_start, sel.level_stop))  # type: ignore[arg-type]
        out = np.asarray(self.prior.regenerate_region(
            doc.codes.copy(), sel.pos_start, sel.pos_stop, self.settings, levels=levels, candidates=self.candidates,
        ))
        if out.shape == doc.codes.shape:  # the whole grid came back
            return out[sel.slices], None
        if out.shape == (doc.levels, sel.shape[1]):  # every level of the region
            return out[sel.level_start : sel.level_stop], None
        if out.shape == sel.shape:
            return out, None
        raise BadInputError(f"the prior returned codes of shape {out.shape} for a region of {sel.shape}")


# --------------------------------------------------------------------------------------------------
# Edits that touch two grids


@dataclass
class SwapRegion(Edit):
    """Exchange a selection of this grid with the same levels of `other` (A and B side by side).

    `other_position` is where the region starts in `other` (default: the same position); the region
    is cut to what fits both grids. Grids of different models are refused unless both mappings are
    given (`to_other`: this model -> other's, `from_other`: the reverse). Record it in a history
    shared by both grids (`EditSession`), so undo order stays right for both.
    """

    selection: Selection = field(default_factory=Selection)
    other: CodeGrid | None = None
    other_position: int | None = None
    to_other: EmbeddingMap | None = None
    from_other: EmbeddingMap | None = None

    _a: Selection | None = field(init=False, default=None, repr=False)
    _b: Selection | None = field(init=False, default=None, repr=False)
    _new_a: np.ndarray | None = field(init=False, default=None, repr=False)
    _new_b: np.ndarray | None = field(init=False, default=None, repr=False)
    _old_a: np.ndarray | None = field(init=False, default=None, repr=False)
    _old_b: np.ndarray | None = field(init=False, default=None, repr=False)

    def touched(self, doc: CodeGrid) -> tuple[CodeGrid, ...]:
        assert self.other is not None
        return (doc,) if self.other is doc else (doc, self.other)

    def _plan(self, doc: CodeGrid) -> None:
        other = self.other
        assert other is not None
        mapped = self.to_other is not None and self.from_other is not None
        if mapped:
            self.to_other.check(doc, other)  # type: ignore[union-attr]
            self.from_other.check(other, doc)  # type: ignore[union-attr]
        else:
            require_same_model(other, doc, "swap")
        a = self.selection.clip(doc.levels, doc.positions)
        start_b = a.pos_start if self.other_position is None else self.other_position
        b = a.moved_to(a.level_start, start_b).clip(other.levels, other.positions)
        n_levels = min(a.shape[0], b.shape[0])
        n = min(a.shape[1], b.shape[1], max(0, other.positions - max(start_b, 0)))
        a = Selection(a.level_start, a.level_start + n_levels, a.pos_start, a.pos_start + n)
        b = Selection(b.level_start, b.level_start + n_levels, b.pos_start, b.pos_start + n)
        if a.pos_stop is not None and b.pos_stop is not None and other is doc and not (
            a.pos_stop <= b.pos_start or b.pos_stop <= a.pos_start
        ):
            raise BadInputError("cannot swap two overlapping regions of the same grid")
        va, vb = doc.codes[a.slices].copy(), other.codes[b.slices].copy()  # (L, n) each
        if mapped and not a.empty:
            vb, va = _map_rows(self.to_other, va, a.level_start), _map_rows(self.from_other, vb, a.level_start)  # type: ignore[arg-type]
        else:
            va, vb = vb, va
        check_codes(doc, a, va)
        check_codes(other, b, vb)
        self._a, self._b, self._new_a, self._new_b = a, b, va, vb

    def do(self, doc: CodeGrid) -> EditResult:
        if self._new_a is None:
            self._plan(doc)
        assert self.other is not None and self._a is not None and self._b is not None
        self._old_a, self._old_b = doc.codes[self._a.slices].copy(), self.other.codes[self._b.slices].copy()
        doc.codes[self._a.slices] = self._new_a
        self.other.codes[self._b.slices] = self._new_b
        return EditResult(self._a, other=self.other, other_changed=self._b)

    def undo(self, doc: CodeGrid) -> EditResult:
        assert self.other is not None and self._a is not None and self._b is not None
        self.other.codes[self._b.slices] = self._old_b
        doc.codes[self._a.slices] = self._old_a
        return EditResult(self._a, other=self.other, other_changed=self._b)


def _map_rows(mapping: EmbeddingMap, rows: np.ndarray, level_start: int) -> np.ndarray:
    return mapping.map_levels(rows, level_start)


# --------------------------------------------------------------------------------------------------
# Edits that insert or delete columns


@dataclass
class ColumnEdit(Edit):
    """Replace columns [at, at + removed) with `inserted` columns; keeps the removed ones for undo.

    The source's sample count (the decoded length) follows the change in positions.
    """

    _at: int = field(init=False, default=0, repr=False)
    _inserted: np.ndarray | None = field(init=False, default=None, repr=False)  # (Q, n_in)
    _removed: np.ndarray | None = field(init=False, default=None, repr=False)  # (Q, n_out)
    _old_samples: Any = field(init=False, default=None, repr=False)

    def plan(self, doc: CodeGrid) -> tuple[int, int, np.ndarray]:
        """(at, columns removed, inserted (Q, n)) on the first do."""
        raise NotImplementedError

    def do(self, doc: CodeGrid) -> EditResult:
        if self._inserted is None:
            at, n_out, inserted = self.plan(doc)
            inserted = np.asarray(inserted, dtype=np.int64).reshape(doc.levels, -1)
            if n_out >= doc.positions and inserted.shape[1] == 0:
                raise BadInputError("cannot delete every column of a grid")
            check_codes(doc, Selection(0, doc.levels, 0, inserted.shape[1]), inserted)
            self._at, self._inserted = at, inserted
            self._removed = doc.codes[:, at : at + n_out].copy()
        assert self._removed is not None
        at, n_out = self._at, self._removed.shape[1]
        doc.codes = np.concatenate([doc.codes[:, :at], self._inserted, doc.codes[:, at + n_out :]], axis=1)  # (Q, P')
        self._old_samples = doc.source.get("samples")
        self._fix_samples(doc, self._inserted.shape[1] - n_out)
        return EditResult(Selection(0, doc.levels, at, doc.positions), resized=True)

    def undo(self, doc: CodeGrid) -> EditResult:
        assert self._inserted is not None and self._removed is not None
        at, n_in = self._at, self._inserted.shape[1]
        doc.codes = np.concatenate([doc.codes[:, :at], self._removed, doc.codes[:, at + n_in :]], axis=1)  # (Q, P)
        if self._old_samples is None:
            doc.source.pop("samples", None)
        else:
            doc.source["samples"] = self._old_samples
        return EditResult(Selection(0, doc.levels, at, doc.positions), resized=True)

    @staticmethod
    def _fix_samples(doc: CodeGrid, delta_positions: int) -> None:
        samples = doc.source.get("samples")
        if samples is None:
            return
        per_position = doc.stride * doc.hop_length
        longest = max(doc.positions * doc.stride - 1, 0) * doc.hop_length  # what the decoder can produce
        doc.source["samples"] = int(min(max(int(samples) + delta_positions * per_position, 0), longest))


@dataclass
class InsertColumns(ColumnEdit):
    """Insert columns before position `at` (default values: copies of the column before `at`)."""

    at: int = 0
    values: np.ndarray | None = None  # (Q, n)
    count: int = 1

    def plan(self, doc: CodeGrid) -> tuple[int, int, np.ndarray]:
        at = min(max(self.at, 0), doc.positions)
        if self.values is not None:
            return at, 0, np.asarray(self.values)
        src = doc.codes[:, max(at - 1, 0) : max(at - 1, 0) + 1]  # (Q, 1)
        return at, 0, np.repeat(src, max(self.count, 0), axis=1)


@dataclass
class DeleteColumns(ColumnEdit):
    """Delete columns [start, stop) (clipped)."""

    start: int = 0
    stop: int = 1

    def plan(self, doc: CodeGrid) -> tuple[int, int, np.ndarray]:
        sel = Selection.columns(self.start, self.stop).clip(doc.levels, doc.positions)
        return sel.pos_start, sel.shape[1], np.zeros((doc.levels, 0), dtype=np.int64)


@dataclass
class RepeatColumns(ColumnEdit):
    """Play columns [start, stop) `times` times in a row (a loop); `times` 2 duplicates them."""

    start: int = 0
    stop: int = 1
    times: int = 2

    def plan(self, doc: CodeGrid) -> tuple[int, int, np.ndarray]:
        if self.times < 1:
            raise BadInputError(f"repeat count {self.times} must be at least 1")
        sel = Selection.columns(self.start, self.stop).clip(doc.levels, doc.positions)
        block = doc.codes[sel.slices]  # (Q, n)
        return sel.pos_stop or 0, 0, np.tile(block, (1, self.times - 1))


def DuplicateColumns(start: int, stop: int) -> RepeatColumns:  # noqa: N802 - reads as an edit class
    """Insert a copy of columns [start, stop) right after them."""
    return RepeatColumns(start=start, stop=stop, times=2)


@dataclass
class Continue(ColumnEdit):
    """Grow the grid to `total_positions` with the prior, conditioned on its last `prompt_positions`
    columns (default: all of them; the prior slides its own context window)."""

    total_positions: int = 0
    prior: PriorLike | None = None
    settings: Any = None
    prompt_positions: int | None = None

    def plan(self, doc: CodeGrid) -> tuple[int, int, np.ndarray]:
        assert self.prior is not None
        p = doc.positions
        if self.total_positions <= p:
            raise BadInputError(f"the grid already has {p} positions (asked to continue to {self.total_positions})")
        prompt = p if self.prompt_positions is None else min(max(self.prompt_positions, 1), p)
        extra = self.total_positions - p
        context = doc.codes[:, p - prompt :].copy()  # (Q, prompt)
        out = np.asarray(self.prior.continue_codes(context, prompt, prompt + extra, self.settings))  # (Q, prompt + extra)
        if out.shape != (doc.levels, prompt + extra):
            raise BadInputError(f"the prior returned codes of shape {out.shape}; expected {(doc.levels, prompt + extra)}")
        return p, 0, out[:, prompt:]
