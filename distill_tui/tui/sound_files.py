"""`SoundFiles`: the editor's saving (codes files) and exporting (audio, codes beside it).

Saving never silently overwrites a codes file another program changed since the editor read or wrote
it: the workspace remembers each file's (mtime_ns, size), and on a mismatch the editor asks first. Nor does
anything replace another file without asking: Export offers a name that replaces nothing, and an answer (or a
save-as) that would replace a file is confirmed first.
Exporting writes the sound's current state, so it waits for a decode of that state when there is none; a loop
is written as one cycle decoded as a loop (`InferenceSession.decode_loop`), so it loops in a DAW without a click.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from textual.message import Message

from ..audio.export import codes_path_for
from ..audio.io import is_audio_file
from ..codes.grid import CodeGrid
from ..errors import DistillError
from ..persistence.model_of_codes import note_model
from .workers import report_failures

if TYPE_CHECKING:
    from .screens.editor import EditorScreen



def answer_path(text: str, file_name: str, suffix: str = "") -> Path | None:
    """Where a typed answer asks to write: `~` expanded, a folder gets `file_name` inside it, a name without an
    extension gets `suffix` ("kick" -> kick.wav); None for no answer."""
    text = text.strip()
    if not text:
        return None
    path = Path(text).expanduser()
    if path.is_dir():
        return path / file_name
    return path.with_name(path.name + suffix) if suffix and not path.suffix else path


def codes_answer_path(text: str, file_name: str) -> Path | None:
    """Where a typed answer asks to save codes, always a `.codes.json` the Open dialog takes back: "kick" and
    "kick.json" -> kick.codes.json. Raises ValueError for an audio file's name (Export writes audio)."""
    path = answer_path(text, file_name)
    if path is None or path.name.lower().endswith(".codes.json"):
        return path
    if is_audio_file(path):
        raise ValueError(f"{path.name} is an audio file's name: codes are saved as NAME.codes.json "
                         "(Export WAV… writes the audio)")
    stem = path.name[: -len(".json")] if path.name.lower().endswith(".json") else path.name
    return path.with_name(f"{stem}.codes.json")


def free_export_path(folder: Path, name: str, own: Path | None) -> Path:
    """`folder/NAME.wav`, or the first of `NAME-2.wav`, `NAME-3.wav`, … that would replace nothing: neither the
    audio nor the codes beside it are there, unless those codes are the sound's own file (`own`)."""
    n = 1
    while True:
        path = folder / (f"{name}.wav" if n == 1 else f"{name}-{n}.wav")
        if not replaced_by_export(path, own):
            return path
        n += 1


def replaced_by_export(path: Path, own: Path | None) -> list[Path]:
    """The files an export to `path` would write over: the audio, and the codes beside it unless they are the
    sound's own codes file (`own`: writing the sound's codes there is what saving does)."""
    codes = codes_path_for(path)
    mine = own is not None and codes.resolve() == own.resolve()
    return [p for p in (path, codes) if p.exists() and not (p is codes and mine)]


class SoundFiles:
    """Save and export the editor's sounds; `host` asks the questions, runs the export worker, and reports."""

    def __init__(self, host: EditorScreen) -> None:
        self.host = host
        self._export_when_ready: tuple[str, Path] | None = None

    def post_message(self, message: Message) -> bool:
        """Failures of the export worker go to the host (see `report_failures`)."""
        return self.host.post_message(message)

    # ---- saving
    def save(self, name: str | None) -> None:
        """Save to the sound's own codes file, or ask where (default `./NAME.codes.json`) when it has none."""
        host = self.host
        if name is None:
            host.notify("nothing to save", severity="warning")
            return
        path = host.ws.codes_path(name)
        if path is not None:
            self.save_to(name, path)
        else:
            host.ask(f"Save the codes of {name} to", str(host.ws.default_codes_path(name)),
                     lambda text: self.save_to(name, Path(text)) if text else None)

    def save_to(self, name: str, path: Path) -> None:
        """Save a sound's codes to `path`; ask first if another program changed that file since it was read, or
        if `path` is another file that is already there (a save-as onto another sound's codes)."""
        ws = self.host.ws
        own = ws.codes_path(name)
        if ws.changed_on_disk(name, path):
            self.host.confirm(f"{path.name} changed on disk since you opened it: overwrite?",
                              lambda: self._write(name, path))
        elif path.exists() and (own is None or path.resolve() != own.resolve()):
            self.host.confirm(f"{path.name} is already there: replace it with the codes of {name}?",
                              lambda: self._write(name, path))
        else:
            self._write(name, path)

    def _write(self, name: str, path: Path) -> None:
        host = self.host
        try:
            saved = host.ws.save(name, path)
        except DistillError as exc:
            host.notify(str(exc), title="Not saved", severity="error", timeout=8)
            return
        host.refresh_panels()
        host.set_message(f"saved {saved.name}")
        host.notify(f"saved {saved}", timeout=4)

    # ---- exporting
    def export(self, name: str | None) -> None:
        """Ask where to export the sound (default `./NAME.wav`, numbered when that would replace a file), then
        export it; an answer that would replace a file is confirmed first."""
        if name is None:
            self.host.notify("nothing to export", severity="warning")
            return
        own = self.host.ws.codes_path(name)

        def answered(text: str) -> None:
            path = answer_path(text, f"{name}.wav", ".wav")
            if path is None:
                self.host.notify("give a file name (or a folder) to export to", severity="error")
                return
            present = replaced_by_export(path, own)
            if present:  # the default replaces nothing; this may be the recording the sound came from
                names = " and ".join(p.name for p in present)
                self.host.confirm(f"{names} {'is' if len(present) == 1 else 'are'} already there: replace?",
                                  lambda: self.export_to(name, path))
            else:
                self.export_to(name, path)

        default = free_export_path(Path.cwd(), name, own)
        self.host.ask(f"Export {name} as WAV (FLAC by extension) to", str(default), answered,
                      help="The codes are saved beside it as NAME.codes.json. Esc: cancel")

    def export_to(self, name: str, path: Path) -> None:
        """Write the sound's current state as audio (decoding it first if needed), its codes beside it.

        Audio built from partial re-decodes is decoded afresh first: it chains Griffin-Lim phases, and an
        export is the sound as a full decode gives it (what `distill-tui decode` writes)."""
        host = self.host
        if not host.decoder.is_full(name):
            self._export_when_ready = (name, path)  # exported as soon as the current state is decoded in full
            host.set_message("decoding, then exporting…")
            host.decoder.request(name, fresh=True)
            return
        grid, sound = host.ws.grid(name), host.ws.sound(name)
        note_model(grid.source, host.ws.model_file)
        job = functools.partial(self._export, name, path, sound.audition.audio, grid.sample_rate, grid.copy(),
                                set(sound.muted), host.ws.edit_state(name))
        host.run_worker(job, thread=True, group="export", description=f"export {path.name}")

    def decoded(self, name: str) -> None:
        """A decode of `name` is stored: run the export that waited for it, if it is of the current state."""
        pending = self._export_when_ready
        if pending is None or pending[0] != name:
            return
        if self.host.decoder.is_full(name):
            self._export_when_ready = None
            self.export_to(*pending)
        elif self.host.decoder.is_current(name):  # an edit came between: its partial re-decode, then the full one
            self.host.decoder.request(name, fresh=True)

    def _wrote_codes(self, name: str, path: Path, state: int) -> None:
        """An export wrote the codes of `name` (as at `state`) to `path`: see `Workspace.note_written`."""
        self.host.ws.note_written(name, path, state)
        self.host.refresh_panels()

    @report_failures("export", unexpected="{path}: {kind}: {exc}")
    def _export(self, name: str, path: Path, audio: np.ndarray, sample_rate: int, codes: CodeGrid,
                muted: set[int], state: int) -> None:
        from ..audio.export import ExportOptions, export_audio

        if codes.loop:  # one cycle decoded as a loop: it loops in a DAW without a click (tui/loop_play.py)
            audio = self.host.engine.decode_loop(codes, muted)

        # the level you heard: an export normalized to -1 dBFS played about 1 dB (or, for a quiet sound, far) apart
        result = export_audio(path, audio, sample_rate, ExportOptions(), codes=codes)
        app = self.host.app
        if result.codes_path is not None:  # the sound's own codes file, written here: not "changed on disk"
            app.call_from_thread(self._wrote_codes, name, result.codes_path, state)
        app.call_from_thread(self.host.notify, f"exported {result.path} ({result.seconds:.2f} s)", timeout=6)
        app.call_from_thread(self.host.set_message, f"exported {result.path.name}")
