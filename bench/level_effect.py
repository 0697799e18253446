"""How far each level moves real sounds when muted or re-rolled (analysis/level_effect.py), per model.

    python bench/level_effect.py MODEL SOUND [SOUND ...]

Prints one line per sound: per level (muted dB, re-rolled dB, words), and the medians per level.
"""

from __future__ import annotations

import sys

import numpy as np

from distill_tui.analysis.closeness import closeness
from distill_tui.analysis.level_effect import level_effects
from distill_tui.inference.codec import load_codec


def main(model: str, sounds: list[str]) -> None:
    codec = load_codec(model)
    rows = []
    for path in sounds:
        grid = codec.encode_file(path)
        eff = level_effects(codec.decode_db, grid.codes, codec.codebook_sizes)
        rows.append(eff)
        cells = "  ".join(f"L{e.level + 1} {e.muted_db:5.2f}/{e.rerolled_db:5.2f} {closeness(max(e.muted_db, e.rerolled_db)).word}"
                          for e in eff)
        print(f"{path.rsplit('/', 1)[-1]:<28} {cells}")
    for q in range(len(rows[0])):
        m = np.median([r[q].muted_db for r in rows])
        r_ = np.median([r[q].rerolled_db for r in rows])
        print(f"level {q + 1}: median muted {m:.2f} dB, re-rolled {r_:.2f} dB over {len(rows)} sounds")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
