"""Counts are said in words ("1 sound", "3 sounds"), never as "sound(s)", anywhere the program speaks."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from distill_tui.words import counted, numbered

PACKAGE = Path(__file__).resolve().parents[1] / "distill_tui"


def test_words_stands_on_the_standard_library_alone():
    """Every layer may say counts in words (the code document layer too): words.py imports nothing of Distill's."""
    tree = ast.parse((PACKAGE / "words.py").read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {"." * n.level + (n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"__future__", "collections.abc"}, imported


def test_counts_and_numbered_lists_read_as_english():
    assert (counted(1, "sound"), counted(0, "sound"), counted(3, "sound")) == ("1 sound", "0 sounds", "3 sounds")
    assert counted(2, "training run") == "2 training runs" and counted(2, "index", "indices") == "2 indices"
    assert numbered("level", [2]) == "level 2" and numbered("level", [1, 3]) == "levels 1, 3"


def test_no_message_says_s_in_brackets():
    """The TUI's file picker said "2 folder(s), 0 sound file(s) here", the training form "6 sound(s)"; eval,
    train-prior, vary and the editor's messages the same. Every string the program builds is looked at (its
    f-strings' text parts included); argparse help texts and comments may keep the convention."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = {id(k.value) for node in ast.walk(tree) if isinstance(node, ast.Call)
                for k in node.keywords if k.arg in ("help", "description")}
        skip |= {id(node.body[0].value) for node in ast.walk(tree)
                 if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                 and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip \
                    and re.search(r"[a-z]\(s\)", node.value):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value[:60]!r}")
    assert not found, "\n".join(found)


def test_a_long_name_is_cut_in_the_middle_to_fit():
    from distill_tui.words import shortened

    name = "kick_deep_very_long_name_for_a_kick_sample_01.wav"
    assert shortened(name, 200) == name
    for width in (5, 12, 30):
        cut = shortened(name, width)
        assert len(cut) == width and "…" in cut and cut.endswith(name[-(width - 1) // 2:])


def test_names_that_share_a_long_start_keep_what_tells_them_apart():
    from distill_tui.words import distinct_shortened

    names = [f"a_really_long_sample_name_from_some_sample_pack_vol_{i}_processed_with_reverb.wav" for i in (1, 2, 3)]
    names.append("clap01")
    for width in (16, 26, 40):
        fitted = distinct_shortened(names, width)
        assert all(len(v) <= width for v in fitted.values())
        assert len({fitted[n] for n in names[:3]}) == 3, fitted  # still three different names
        assert all(f"vol_{i}" in fitted[names[i - 1]] for i in (1, 2, 3))
        assert fitted["clap01"] == "clap01"
    kit = [f"Vengeance Essential House Vol 2 - Kick {i:03d}.wav" for i in (11, 12)]
    assert distinct_shortened(kit, 20) == {kit[0]: "…ol 2 - Kick 011.wav", kit[1]: "…ol 2 - Kick 012.wav"}


def test_a_length_of_time_reads_in_its_own_unit():
    from distill_tui.words import duration

    assert [duration(s) for s in (3.62, 1.0, 42.4, 59.99, 90.0, 150.0, 12 * 60 + 10, 3599.0, 3600 * 1.25)] == [
        "3.6 seconds", "1 second", "42 seconds", "1 minute", "1.5 minutes", "2.5 minutes", "12 minutes", "1 h 00 min",
        "1 h 15 min"]
