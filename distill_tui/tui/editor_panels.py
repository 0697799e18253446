"""What the editor's title line, status line, sound list and cell inspector say, worked out from its state.

Pure functions of the workspace, the grid widget and the model: the editor screen puts the results on
screen (see `EditorScreen.refresh_panels`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..words import distinct_shortened
from .widgets.code_grid import CodeGridView
from .widgets.inspector import CellInfo
from .widgets.slots import SlotRow
from .workspace import Workspace

TITLE_NAME = 36  # characters of a sound's name in the title line; a longer one is cut in the middle


def title_text(model_path: Path | None, ws: Workspace) -> str:
    """`Distill │ model │ A: name ● │ B: name` (● marks unsaved edits; the mode is on the status line only)."""
    parts = ["Distill", model_path.name if model_path else "no model"]
    short = distinct_shortened([n for n in (ws.a, ws.b) if n], TITLE_NAME)
    for slot, name in (("A", ws.a), ("B", ws.b)):
        if name:
            parts.append(f"{slot}: {short[name]}{' ●' if ws.dirty(name) else ''}")
    return " │ ".join(parts)


def slot_rows(ws: Workspace) -> list[SlotRow]:
    """One row per open sound, in the order they were opened."""
    rows = []
    for name in ws.names():
        slot = "A" if name == ws.a else "B" if name == ws.b else ""
        rows.append(SlotRow(name, ws.dirty(name), slot, ws.grid(name).seconds))
    return rows


def cell_info(ws: Workspace, view: CodeGridView, engine: Any) -> CellInfo | None:
    """The cell under the cursor in A (and what the model knows of its code), or None when there is none."""
    name = ws.a
    if name is None:
        return None
    grid = ws.grid(name)
    q, p = view.level, view.pos
    if not (0 <= q < grid.levels and 0 <= p < grid.positions):
        return None
    code = int(grid.codes[q, p])
    info = CellInfo(level=q, label=view.look.labels[q] if q < len(view.look.labels) else "",
                    position=p, seconds=p * grid.seconds_per_position, code=code, size=grid.codebook_sizes[q])
    if engine is not None:
        lv = engine.perceptual.levels[q]
        info.description = lv.descriptions[code]
        info.rank = int(lv.rank[code])
        info.usage, info.usage_total = int(lv.usage[code]), int(lv.usage.sum())
    if view.has_selection:
        sel = view.selection
        info.selection = f"{sel.shape[0]} × {sel.shape[1]} ({sel.shape[1] * grid.seconds_per_position:.2f} s)"
    return info


def status_text(view: CodeGridView, ws: Workspace, *, playing: bool, follow: bool, decode_ms: float | None,
                message: str) -> str:
    """The mode, a pending count or typed digits, the cursor, playing, the last message, the last decode time (the
    least needed last: at 80 columns the line is cut, and "generated a loop of 2.0 s (seed …)" lost its seed to it)."""
    bits = [f" {view.mode} "]
    if view.count_pending:
        bits.append(f"count {view.count_pending}")
    if view.typed:
        bits.append(f"typing {view.typed}_")
    if ws.a is not None:
        doc = ws.grid(ws.a)
        bits.append(f"L{view.level + 1} pos {view.pos}/{doc.positions} ({view.pos * doc.seconds_per_position:.2f} s)")
    if ws.a is not None and ws.grid(ws.a).loop:
        bits.append("loop playback on")
    if playing:
        bits.append("▶ playing" + (" (follow)" if follow else ""))
    if message:
        bits.append(message)
    if decode_ms is not None:
        bits.append(f"decode {decode_ms:.0f} ms")
    return " · ".join(bits)
