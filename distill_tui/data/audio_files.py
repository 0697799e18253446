"""Finding the audio files under a folder, as training and the editor's `open FOLDER` read one (no torch here)."""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

from ..audio.io import is_audio_file
from ..errors import BadInputError, printable


def find_audio(root: Path, skipped: list[dict[str, str]] | None = None) -> list[Path]:
    """Every audio file under `root` (or `root` itself), sorted; the `.distill-cache` folder is left out.

    Folder links are followed once each; what cannot be listed or followed (an unreadable folder, a
    link loop, a link to nothing) is appended to `skipped` as {"path", "reason"} instead of vanishing.
    """
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise BadInputError("no such folder", root)
    found: list[Path] = []
    _walk(root, found, [] if skipped is None else skipped)
    return sorted(found)


def skip_file(skipped: list[dict[str, str]], path: Path, reason: str) -> None:
    """Note that `path` was left out, and why (the names are made printable)."""
    skipped.append({"path": printable(path), "reason": reason})


def count_audio(root: Path, most: int = 1000, seconds: float = 0.05,
                clock: Callable[[], float] = time.monotonic) -> tuple[int, bool]:
    """How many audio files `find_audio(root)` would find, looking for no longer than `seconds` of `clock` and
    counting no further than `most`: (count, whether that is all of them). For a picker: `time.thread_time` counts
    only the time the count itself ran, so a busy machine slows it down instead of cutting it short."""
    found: list[Path] = []
    try:
        done = _walk(root, found, [], most=most, deadline=clock() + seconds, clock=clock)
    except OSError:
        return 0, True
    return len(found), done


def _walk(root: Path, found: list[Path], skipped: list[dict[str, str]], most: int | None = None,
          deadline: float | None = None, clock: Callable[[], float] = time.monotonic) -> bool:
    """List `root` depth-first without recursion (any depth). Each folder is read once, however many links
    lead to it; a link back to a folder above it is a loop, a link to a folder read already a duplicate.
    With `most` or `deadline` (on `clock`), stop once that many files are found or at that time;
    False if it stopped before the end."""
    st = os.stat(root)
    seen = {(st.st_dev, st.st_ino)}
    stack: list[tuple[Path, frozenset[tuple[int, int]]]] = [(root, frozenset(seen))]
    while stack:
        if (most is not None and len(found) >= most) or (deadline is not None and clock() > deadline):
            return False
        folder, above = stack.pop()
        try:
            with os.scandir(folder) as it:
                listing = sorted(it, key=lambda e: (e.is_symlink(), e.name))  # real folders before links to them
        except OSError as exc:
            skip_file(skipped, folder, f"cannot read the folder ({exc.strerror or exc})")
            continue
        for entry in listing:
            if entry.name == ".distill-cache":
                continue
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()  # follows links
                if not is_dir and not entry.is_symlink() and not is_audio_file(path):
                    continue  # a plain file that is not a sound: no stat (a tree of 20,000 took a second)
                st = entry.stat()  # follows links too
            except OSError as exc:  # a link loop or a link to nothing: worth a word if it looks like a sound
                if is_audio_file(path) or exc.errno == errno.ELOOP:
                    why = "a symlink loop" if exc.errno == errno.ELOOP else "a link to something missing"
                    skip_file(skipped, path, f"{why} ({exc.strerror or exc})")
                continue
            ident = (st.st_dev, st.st_ino)
            if is_dir:
                if ident in above:
                    skip_file(skipped, path, "a symlink loop (links back to a folder above it)")
                elif ident in seen:
                    skip_file(skipped, path, "links to a folder already scanned")
                else:
                    seen.add(ident)
                    stack.append((path, above | {ident}))
            elif is_audio_file(path) and stat.S_ISREG(st.st_mode):
                found.append(path)
    return True


def expand_folders(paths: list[Path], missing_ok: bool = False) -> list[Path]:
    """Each folder among `paths` replaced by the audio files in it and below it (sorted, as training reads a
    folder); files are kept as given. A folder without one is a `BadInputError` naming it, or adds nothing
    with `missing_ok`."""
    out: list[Path] = []
    for path in paths:
        if not path.is_dir():
            out.append(path)
            continue
        found = find_audio(path)
        if not found and not missing_ok:
            raise BadInputError("no audio files in this folder or below it", path)
        out += found
    return out
