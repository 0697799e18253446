"""Fixed benchmark corpora from Debian's lmms-common package (real, freely licensed recordings; docs/architecture.md, "Metrics").

`python bench/corpus.py NAME DIR` links the files of corpus NAME into DIR. Lists are fixed so that
figures from two runs compare. Missing package -> exit 2 with the package to install.
"""

from __future__ import annotations

import sys
from pathlib import Path

LMMS = Path("/usr/share/lmms/samples")

PADS = [f"stringsnpads/{n}.ogg" for n in (
    "bell_choir01", "chorus01", "heaven_strings01", "juno_pad01", "korg_poly6_drone01", "nord_ambient01",
    "orion_string01", "rave_choir01", "space_strings01", "strings01", "bell_choir02", "chorus02",
    "space_strings02", "space_strings03")]
DRUMS = [f"drums/{n}.ogg" for n in (
    "bassdrum01", "bassdrum_acoustic01", "clap01", "crash01", "hihat_closed01", "hihat_opened01", "kick01",
    "kick_hard01", "snare01", "tom01", "clap02", "hihat_closed02", "kick02", "snare02", "kick_long01")]
LOOPS = [f"beats/{n}.ogg" for n in ("909beat01", "break01", "electro_beat01", "house_loop01", "jungle01", "break02")]

CORPORA = {
    # 20 files: pads/textures and drums (one-shots and loops), the benchmark corpus
    "pads-drums-20": PADS[:10] + DRUMS[:6] + LOOPS[:4],
    "pads-drums-5": PADS[:2] + DRUMS[:2] + LOOPS[:1],
    "pads-drums-50": PADS + DRUMS + LOOPS + [f"basses/{n}.ogg" for n in (
        "bass01", "bass_acid01", "bass_hard01", "bass_punch01", "rave_bass01", "synth_acid01", "techno_synth01",
        "horror_bass01", "matrix1000_pluck01", "rave_bass02", "bass_acid02", "bass_hard02", "rave_bass03",
        "synth_acid02", "rave_bass04")],
}


def _all_lmms() -> list[str]:
    if not LMMS.is_dir():
        return []
    return sorted(str(p.relative_to(LMMS)) for p in LMMS.rglob("*") if p.suffix in {".ogg", ".wav", ".flac"})


# 200 files: every lmms-common sample in path order, first 200 (one-shots, loops, pads, effects)
CORPORA["mixed-200"] = _all_lmms()[:200]


def available() -> bool:
    return LMMS.is_dir()


def files(name: str) -> list[Path]:
    out = [LMMS / rel for rel in CORPORA[name]]
    return [p for p in out if p.exists()]


def link(name: str, target: Path) -> Path:
    if not available():
        raise SystemExit("error: the lmms-common package is not installed (apt-get install -y lmms-common)")
    target.mkdir(parents=True, exist_ok=True)
    for src in files(name):
        dst = target / src.parent.name / src.name
        dst.parent.mkdir(exist_ok=True)
        if not dst.exists():
            dst.symlink_to(src)
    return target


if __name__ == "__main__":
    link(sys.argv[1], Path(sys.argv[2]))
    print(len(files(sys.argv[1])), "files")
