"""Quick A/B of quantizer settings: train each variant for the same wall time, print distance by levels.

python bench/sweep_quantizer.py DATA_DIR SECONDS 'name:key=value,key=value' ...
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from distill_tui.config import TrainConfig
from distill_tui.train.vqvae_loop import TrainRequest, train_vqvae


def parse(v: str):
    try:
        return json.loads(v)
    except ValueError:
        return v


def main() -> None:
    data, seconds = Path(sys.argv[1]), float(sys.argv[2])
    for spec in sys.argv[3:]:
        name, _, kvs = spec.partition(":")
        model_kw, train_kw = {}, {}
        for kv in filter(None, kvs.split(",")):
            k, _, v = kv.partition("=")
            (train_kw if k.startswith("t.") else model_kw)[k.removeprefix("t.")] = parse(v)
        with tempfile.TemporaryDirectory() as tmp:
            tc = TrainConfig(minutes=seconds / 60, steps=10**9, **train_kw)
            res = train_vqvae(TrainRequest(data_dir=data, output=Path(tmp) / "m.distill", run_dir=Path(tmp) / "run",
                                           train=tc, model_overrides=model_kw))
        h = res.health or {}
        print(json.dumps({"variant": name, "steps": res.step, "val_db": round(res.best_val_db, 3),
                          "by_levels": h.get("distance_db_by_levels"), "util": h.get("utilization")}), flush=True)


if __name__ == "__main__":
    main()
