"""How long torch's import (or the whole model load) keeps other threads of the process waiting.

    python bench/import_stall.py torch      # `import torch` in the main thread
    python bench/import_stall.py load       # InferenceSession.load of the bundled demo (torch's import included)

A second thread sleeps 2 ms in a loop and records the gaps between its wake-ups; a gap of 500 ms means no other
Python thread ran for half a second: the UI thread reading a key, a worker handing a sound to the router, or
sounddevice's callback filling the next block (bench/RESULTS.md, sixth session).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(what: str) -> None:
    gaps: list[tuple[float, float]] = []
    stop = threading.Event()

    def tick() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(0.002)
            now = time.perf_counter()
            gaps.append((now - last, now))
            last = now

    thread = threading.Thread(target=tick)
    thread.start()
    time.sleep(0.1)
    t0 = time.perf_counter()
    if what == "torch":
        import torch  # noqa: F401
    else:
        sys.path.insert(0, str(ROOT))
        from distill_tui.inference.session import DEMO_MODEL, InferenceSession

        InferenceSession.load(DEMO_MODEL)
    t1 = time.perf_counter()
    stop.set()
    thread.join()
    big = sorted(((g, at - t0) for g, at in gaps if at > t0), reverse=True)[:6]
    print(f"{what}: {t1 - t0:.2f} s; largest gaps (ms, at s): {[(round(g * 1000), round(at, 2)) for g, at in big]}; "
          f"gaps over 20 ms: {sum(1 for g, at in gaps if g > 0.02 and at > t0)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "torch")
