"""The editor's "Generate in the style of…": a new sound that takes after the sound in A and any open sounds named.

The length, the loop and one-shot toggles and the sampling settings are the generate panel's, as for Generate;
the new sound is prompted with a stretch of a chosen sound (a one-shot is not: it starts from silence) and leans
toward their habits (`inference/style.py`).
It is drawn in a thread worker (the "generate" group, so a newer Generate replaces it) and opened in A,
unsaved, as Generate's sounds are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import BadInputError, DistillError
from .messages import SoundLoaded
from .widgets.generate_panel import GeneratePanel
from .workers import report_failures

if TYPE_CHECKING:
    from .messages import GenerateRequested
    from .screens.editor import EditorScreen


def chosen_names(editor: EditorScreen, text: str) -> list[str]:
    """The open sounds named in `text` (separated by commas; empty: the sound in A), each once, in order.

    A name may be typed in part ("break" for break01; `Workspace.named`). Raises `BadInputError` naming a sound
    that is not open, or a part more than one has.
    """
    names = [n.strip() for n in text.split(",") if n.strip()] or ([editor.ws.a] if editor.ws.a else [])
    if not names:
        raise BadInputError("no sound to take after: open one, or name an open sound")
    return list(dict.fromkeys(editor.ws.named(n) for n in names))


def generate_in_style(editor: EditorScreen, text: str) -> None:
    """The palette's answer: check the names and the prior, then draw the new sound in a worker."""
    if not editor.require("model"):
        return
    try:
        names = chosen_names(editor, text)
        editor.engine.require_prior()
        request = editor.query_one(GeneratePanel).request()
        request.settings.validate()
    except DistillError as exc:
        editor.bad(exc)  # type: ignore[arg-type]
        return
    grids = [editor.ws.grid(n).copy() for n in names]
    editor.set_message(f"generating {request.shape}{request.seconds:.1f} s in the style of {', '.join(names)}…")
    editor.run_worker(lambda: _draw(editor, names, grids, request), thread=True, exclusive=True, group="generate")


@report_failures("generating in a style", known="{reason}")
def _draw(self: EditorScreen, names: list[str], grids: list, request: GenerateRequested) -> None:
    """In a worker: one new grid in the style of `grids`, opened in A (unsaved)."""
    from ..codes.grid import CodeGrid
    from ..inference.generate import positions_for_seconds, silence_column
    from ..inference.style import DEFAULT_STRENGTH, generate_like

    engine = self.engine
    codec = engine.codec
    spec, cfg = codec.spec, codec.cfg
    settings, loop, one_shot = request.settings, request.loop, request.one_shot
    positions = max(4 if one_shot else 2, positions_for_seconds(request.seconds, spec.sample_rate, spec.hop_length,
                                                                  cfg.stride))
    made = generate_like(engine.require_prior(), [g.codes for g in grids], 1, positions, settings,
                         strength=DEFAULT_STRENGTH, mode="loop" if loop else "one-shot" if one_shot else "generate",
                         codec=codec, silence=silence_column(codec) if one_shot else None, names=names)
    sound = made.sounds[0]
    grid = CodeGrid(codes=sound.codes, model_fingerprint=engine.fingerprint, codebook_sizes=codec.codebook_sizes,
                    sample_rate=spec.sample_rate, hop_length=spec.hop_length, stride=cfg.stride,
                    name=f"like-{names[sound.like]}",
                    source={"generated": True, "seed": sound.seed, "loop": loop, "one_shot": one_shot,
                            "temperature": settings.temperature,
                            "top_k": settings.top_k, "top_p": settings.top_p, "like": names,
                            "like_positions": list(sound.prompt), "strength": made.strength})
    self.post_message(SoundLoaded(grid, slot="A", unsaved=True,
                                  note=f"generated {request.shape}{grid.seconds:.1f} s in the style of {', '.join(names)} "
                                       f"(seed {sound.seed})"))
