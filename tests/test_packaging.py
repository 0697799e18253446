"""A wheel carries what `distill-tui` needs outside the Python files: the demo model and its sounds, the
themes and the stylesheet (`pip install .` once lost them: they sat outside the package)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
import tomllib
import zipfile
from fnmatch import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "distill_tui"


def _build_wheel(tmp_path: Path) -> Path:
    """Build a wheel from a copy of the tree (the repository gets no build/ or egg-info), offline."""
    if importlib.util.find_spec("setuptools") is None or importlib.util.find_spec("pip") is None:
        pytest.skip("building a wheel needs pip and setuptools (test_package_data_names_every_bundled_file still runs)")
    setuptools_major = int(importlib.metadata.version("setuptools").split(".")[0])  # importing it here upsets distutils
    if setuptools_major < 70 and importlib.util.find_spec("wheel") is None:
        pytest.skip("this setuptools needs the wheel package to build a wheel")
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", src)
    shutil.copy2(ROOT / "README.md", src)
    shutil.copytree(PACKAGE, src / "distill_tui", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path / "wheel"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                           "--no-index", "-q", "-w", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    wheels = list(out.glob("distill_tui-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def bundled_files() -> list[str]:
    """What must travel with the code, relative to the package folder."""
    names = ["samples/demo.distill", "tui/distill.tcss"]
    names += [f"samples/sounds/{p.name}" for p in sorted((PACKAGE / "samples" / "sounds").glob("*.wav"))]
    names += [f"themes/{p.name}" for p in sorted((PACKAGE / "themes").glob("*.toml"))]
    return names


def test_package_data_names_every_bundled_file():
    """Without building: pyproject's package-data patterns cover each file (a wheel build is checked below)."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["distill_tui"]
    files = bundled_files()
    assert len(files) >= 2 + 13 + 3
    missed = [f for f in files if not any(fnmatch(f, pat) and f.count("/") == pat.count("/") for pat in patterns)]
    assert not missed, f"not in [tool.setuptools.package-data]: {missed}"


def test_the_wheel_carries_the_demo_themes_and_stylesheet(tmp_path):
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    needed = {f"distill_tui/{name}" for name in bundled_files()}
    assert len(needed) >= 2 + 13 + 3
    assert needed <= names, f"missing from the wheel: {sorted(needed - names)}"
    # the demo, its sounds and the code; nothing else big (the wheel was 5.9 MB, the demo model 5.5 MB of it)
    assert wheel.stat().st_size < 8_000_000


def test_the_code_finds_the_demo_and_themes_inside_the_package():
    from distill_tui.inference.session import demo_paths
    from distill_tui.tui.app import DistillApp
    from distill_tui.tui.themes import REPO_THEMES, load_themes

    model, sounds = demo_paths()
    assert model.is_file() and PACKAGE in model.parents
    assert len(sounds) == 13 and all(PACKAGE in s.parents for s in sounds)
    assert PACKAGE in REPO_THEMES.parents
    loaded = load_themes([REPO_THEMES])
    assert {"distill-dark", "distill-light", "distill-high-contrast"} <= {t.name for t in loaded.themes}
    assert not loaded.problems
    assert Path(DistillApp.CSS_PATH).is_file()


def test_the_repository_paths_still_lead_to_the_demo():
    """README, bench and tests name samples/…; it stays a way to the packaged demo."""
    assert (ROOT / "samples" / "demo.distill").is_file()
    assert (ROOT / "samples" / "sounds" / "bell_c5.wav").is_file()
