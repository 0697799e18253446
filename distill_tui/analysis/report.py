"""A model report for sharing: Markdown from `info --json` plus a PNG usage heatmap (matplotlib, the `report` extra)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..fileio import atomic_path, atomic_write_text
from .health import LevelVerdict
from .health import level_verdicts as health_verdicts
from .model_info import closest_words, grid_words

PNG_NEEDS = "the PNG heatmap needs matplotlib: pip install 'distill-tui[report]'"


@dataclass
class ReportFiles:
    """What `write_report` wrote; `note` says why there is no PNG, when there is none."""

    markdown: Path
    png: Path | None
    note: str = ""


def _pct(v: Any) -> str:
    return f"{100 * v:.0f} %" if isinstance(v, int | float) else "?"


def _num(v: Any, fmt: str = ".2f") -> str:
    return format(v, fmt) if isinstance(v, int | float) else "?"


def level_verdicts(info: dict[str, Any]) -> list[str]:
    """The verdict word per level (analysis/health.py, shared with the side panel, `info` and `eval`)."""
    return [v.word for v in health_verdicts(info.get("health"), info.get("codebook_sizes") or None)]


def markdown_report(info: dict[str, Any], name: str, png_name: str | None = None) -> str:
    """The report as Markdown: the grid, the dataset, training, per-level health, the prior and its verdict, and the
    configuration (JSON, to train the same model again)."""
    ds, tr, h = info.get("dataset") or {}, info.get("training") or {}, info.get("health") or {}
    model, spec = info.get("model") or {}, info.get("spectrogram") or {}
    lines = [f"# Model report: {name}", "",
             f"- fingerprint `{info.get('fingerprint')}`, format {info.get('format')} v{info.get('version')}",
             f"- {grid_words(info)}", ""]
    lines += ["## Dataset", "",
              f"{ds.get('files', '?')} files, {_duration(ds.get('minutes'))}, from `{ds.get('root', '?')}`"]
    skipped = ds.get("skipped") or []
    if skipped:
        lines.append(f"; {len(skipped)} skipped:")
        lines += [f"- `{Path(s.get('path', '?')).name}`: {s.get('reason', '?')}" for s in skipped[:20]]
    lines += ["", "## Training", "",
              f"{tr.get('steps', '?')} steps in {_num((tr.get('seconds') or 0) / 60, '.1f')} minutes on "
              f"{tr.get('device', '?')}; {closest_words(tr.get('best_val_db'))} (lower is closer)"
              + (f"; healthy after {_num(tr.get('healthy_at_s'), '.0f')} s" if tr.get("healthy_at_s") else ""), ""]
    for w in tr.get("warnings") or []:
        lines.append(f"- warning: {w}")
    lines += ["", "## Codebook health", ""]
    util = h.get("utilization") or []
    if util:
        verdicts = health_verdicts(h, info.get("codebook_sizes") or None)
        lines += ["| level | codes | used | ~common (perplexity) | idle codes | adds dB | verdict |",
                  "|---:|---:|---:|---:|---:|---:|---|"]
        sizes = info.get("codebook_sizes") or []
        for q in range(len(util)):
            def at(key: str, q: int = q) -> Any:
                v = h.get(key) or []
                return v[q] if q < len(v) else None
            lines.append(f"| {q + 1} | {sizes[q] if q < len(sizes) else '?'} | {_pct(at('utilization'))} | "
                         f"{_num(at('perplexity'), '.1f')} | {at('dead_codes') if at('dead_codes') is not None else '?'} | "
                         f"{_num(at('level_gain_db'))} | {_verdict_cell(verdicts, q)} |")
    else:
        lines.append("No health measurement in this model file.")
    if png_name:
        lines += ["", f"![codebook usage, levels × codes]({png_name})"]
    lines += ["", "## Prior", ""]
    p = info.get("prior")
    if p is None:
        lines.append("No prior yet: the model encodes and decodes but cannot generate. Train one in the editor "
                     "(`:` → *Train the prior…*) or with `distill-tui train-prior MODEL`.")
    else:
        lines += [f"**{p.get('verdict')}**", "",  # the plain reading first, as `info` gives it
                  f"- architecture: {p.get('architecture')}",
                  f"- validation perplexity {_num(p.get('val_perplexity'))} (same-level bigram baseline "
                  f"{_num(p.get('bigram_val_perplexity'))}; lower is better)",
                  f"- generated 8-grams copied from training: {_pct(p.get('copy_rate_8gram'))}"]
    lines += ["", "## Configuration", "", "```json"]
    import json

    lines += [json.dumps({"model": model, "spectrogram": spec}, indent=1), "```", ""]
    return "\n".join(lines)


def _duration(minutes: Any) -> str:
    """"16 seconds", "3 minutes": an amount of audio as a person says it ("0.27 minutes" was the figure)."""
    from ..words import duration

    return "? minutes" if minutes is None else duration(60 * float(minutes))


def _verdict_cell(verdicts: list[LevelVerdict], q: int) -> str:
    if q >= len(verdicts):
        return ""
    v = verdicts[q]
    return f"{'**' + v.word + '**' if v.severity == 'warn' else v.word}: {v.explanation}"


def heatmap_png(counts: list[list[int]], path: Path) -> None:
    """Levels × codes, log usage; raises ImportError without matplotlib."""
    import matplotlib  # noqa: PLC0415 - optional extra

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    k = max(len(c) for c in counts)
    grid = np.full((len(counts), k), np.nan)
    for q, c in enumerate(counts):
        grid[q, : len(c)] = np.log10(np.asarray(c, dtype=np.float64) + 1)
    fig, ax = plt.subplots(figsize=(max(6, k / 16), 0.6 * len(counts) + 1.2), dpi=120)
    im = ax.imshow(grid, aspect="auto", cmap="magma", interpolation="nearest")
    ax.set_yticks(range(len(counts)), [f"level {q + 1}" for q in range(len(counts))])
    ax.set_xlabel("code")
    ax.set_title("codebook usage (log10 count + 1); black = never used")
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    try:
        with atomic_path(path, "heatmap", suffix=".png") as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)


def write_report(model_path: str | Path, folder: str | Path | None = None) -> ReportFiles:
    """Write MODEL.report.md (and MODEL.usage.png when matplotlib is installed) into `folder` (default: beside the
    model). A report already there is kept: the new one is MODEL-2.report.md (then -3, …), its heatmap beside it."""
    from ..persistence.model_file import load_model_file  # noqa: PLC0415
    from .model_info import info_dict  # noqa: PLC0415

    model_path = Path(model_path)
    doc = load_model_file(model_path).document
    info = info_dict(doc)
    where = Path(folder) if folder is not None else model_path.parent
    n = 1
    while True:
        tag = model_path.stem if n == 1 else f"{model_path.stem}-{n}"
        md_path, png_path = where / f"{tag}.report.md", where / f"{tag}.usage.png"
        if not (md_path.exists() or png_path.exists()):
            break
        n += 1
    note = ""
    if not doc.counts:
        png_path, note = None, "no usage counts in this model file: no heatmap"
    else:
        try:
            heatmap_png(doc.counts, png_path)
        except ImportError:
            png_path, note = None, PNG_NEEDS
    text = markdown_report(info, model_path.name, png_path.name if png_path else None)
    if note:
        text += f"\n_{note}_\n"
    atomic_write_text(md_path, text, "report")
    return ReportFiles(md_path, png_path, note)
