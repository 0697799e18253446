"""The one atomic writer: modes under the umask, old files kept on any failure, no temp files left."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from distill_tui.errors import OutputError
from distill_tui.fileio import atomic_path, atomic_write_bytes, atomic_write_json, atomic_write_text


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_file_gets_0644_under_umask_022(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.bin") == 0o644


def test_overwrite_keeps_the_old_files_mode(tmp_path):
    path = tmp_path / "a.json"
    path.write_text("{}")
    os.chmod(path, 0o640)
    atomic_write_json(path, {"a": 1})
    assert _mode(path) == 0o640
    assert path.read_text() == '{"a": 1}'


class LibraryError(Exception):
    """Like safetensors' SafetensorError: derives from Exception only, not OSError."""


def test_a_library_error_mid_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "m.distill"
    path.write_bytes(b"old")
    with pytest.raises(OutputError, match="No space left on device.*previous file is unchanged"):
        with atomic_path(path, "model file") as tmp:
            tmp.write_bytes(b"half")
            raise LibraryError("Error while serializing: I/O error: No space left on device (os error 28)")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.distill"]


def test_nan_is_refused_not_written(tmp_path):
    with pytest.raises(OutputError, match="a.json"):
        atomic_write_json(tmp_path / "a.json", {"gain_db": float("nan")})
    assert not (tmp_path / "a.json").exists()


def test_unwritable_folder_is_one_line_naming_the_file(tmp_path):
    with pytest.raises(OutputError) as info:
        atomic_write_bytes(tmp_path / "nosuch" / "a.bin", b"x")
    assert "nosuch/a.bin" in str(info.value) and "\n" not in str(info.value)


def test_a_missing_or_wrong_folder_is_named(tmp_path):
    """`decode ... -o mixes/x.wav` with no folder "mixes" said "No such file or directory": which one?"""
    with pytest.raises(OutputError, match=f"{tmp_path / 'mixes'} does not exist"):
        atomic_write_bytes(tmp_path / "mixes" / "x.wav", b"x")
    (tmp_path / "notes").write_text("a file")
    with pytest.raises(OutputError, match=f"{tmp_path / 'notes'} is not a folder"):
        atomic_write_bytes(tmp_path / "notes" / "x.wav", b"x")
    assert sorted(os.listdir(tmp_path)) == ["notes"]


def test_a_device_or_pipe_is_never_replaced_by_a_file(tmp_path, capsys):
    """`encode ... -o /dev/null --force` (as root) would have put a regular file where /dev/null was: the atomic
    write renames its temporary file over whatever the path names. A pipe stands in for the device here."""
    import os
    import stat

    from distill_tui.cli import main

    pipe = tmp_path / "pipe.codes.json"
    os.mkfifo(pipe)
    with pytest.raises(OutputError, match="not a regular file"):
        atomic_write_text(pipe, "x")
    assert stat.S_ISFIFO(os.stat(pipe).st_mode) and os.listdir(tmp_path) == ["pipe.codes.json"]
    demo = Path(__file__).parents[1] / "distill_tui" / "samples"
    code = main(["encode", str(demo / "demo.distill"), str(demo / "sounds" / "snare.wav"), "-o", str(pipe), "--force"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: {pipe}: is not a regular file") and err.count("\n") == 1
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)
