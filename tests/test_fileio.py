"""The one atomic writer: modes under the umask, old files kept on any failure, no temp files left."""

from __future__ import annotations

import os
import stat

import pytest

from distill_tui.errors import OutputError
from distill_tui.fileio import atomic_path, atomic_write_bytes, atomic_write_json


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
