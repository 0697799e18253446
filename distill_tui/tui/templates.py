"""The palette's template entries: keep the selection under a name for any sound of this model, and mix-paste one
at the cursor (`codes/patterns.TemplateStore`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..codes import edits as E
from ..codes import patterns
from ..codes.clipboard import Clipboard
from ..errors import DistillError

if TYPE_CHECKING:
    from .screens.editor import EditorScreen


def save_template(s: EditorScreen, text: str) -> None:
    """Keep the selection as template `text`; a template of that name already saved is replaced only on "yes"."""
    if not s.require("sound"):
        return
    store = patterns.TemplateStore()
    try:
        clip = Clipboard.copy_from(s.ws.grid(s.ws.a), s.grid.selection, name=text)
        there = store.has(clip.model_fingerprint, text)
    except DistillError as exc:
        s.bad(exc)  # type: ignore[arg-type]
        return

    def write() -> None:
        try:
            path = store.save(text, clip)
        except DistillError as exc:
            s.bad(exc)  # type: ignore[arg-type]
            return
        s.set_message(f"template {text!r} saved ({path})")

    if there:  # it replaced the earlier one without a word
        s.confirm(f"a template {text!r} is already saved: replace it?", write)
    else:
        write()


def paste_template(s: EditorScreen, text: str) -> None:
    if not s.require("sound"):
        return
    try:
        clip = patterns.TemplateStore().load(text, s.ws.grid(s.ws.a))
    except DistillError as exc:
        s.bad(exc)  # type: ignore[arg-type]
        return
    s.edit_selection(lambda sel: E.Paste(clip=clip, position=s.grid.pos, mode="mix"), f"template {text!r}")


def _template_names(s: EditorScreen) -> list[str]:
    return patterns.TemplateStore().names(s.ws.grid(s.ws.a).model_fingerprint) if s.ws.a else []


def paste_template_help(s: EditorScreen) -> str:
    names = _template_names(s)
    return "mix-paste a saved template at the cursor" + (f" ({', '.join(names[:5])})" if names else "")


def first_template(s: EditorScreen) -> str:
    names = _template_names(s)
    return names[0] if names else ""
