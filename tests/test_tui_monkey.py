"""Random keys at the editor (every key family, resizes between them): it never crashes and every code stays valid."""

from __future__ import annotations

import random

import pytest

from .test_tui_app import app_factory, demo, loaded_engine, ready  # noqa: F401 - fixtures
from .test_tui_support import DEMO_MODEL, aio

pytestmark = pytest.mark.skipif(not DEMO_MODEL.exists(), reason="the bundled demo model samples/demo.distill is missing")

# the editor's keys (tui/keymap.py) less ctrl+q and help, plus what dialogs and the hex entry read
KEYS = ("h j k l left right up down w b 0 home end dollar_sign g G i enter escape v V space f L a plus minus y p P d "
        "delete u ctrl+r r R x o right_square_bracket left_square_bracket m M ctrl+g t e tab shift+tab "
        "1 2 3 4 5 6 7 8 9 c").split()


@aio
async def test_random_keys_never_crash_the_editor(app_factory):  # noqa: F811
    seed = 1
    rng = random.Random(seed)
    app, _ = app_factory()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot, app)
        ed = app.editor
        for step in range(250):
            await pilot.press(rng.choice(KEYS))
            if rng.random() < 0.1:
                await pilot.pause(0.05)  # let workers (decodes, the prior) finish now and then
            if rng.random() < 0.02:
                await pilot.resize_terminal(rng.choice([60, 80, 120]), rng.choice([18, 24, 40]))
            for name in ed.ws.sounds:
                g = ed.ws.grid(name)
                for q, k in enumerate(g.codebook_sizes):
                    row = g.codes[q]
                    assert row.size == 0 or (0 <= row.min() and row.max() < k), (seed, step, name, q)
        await pilot.pause(0.5)
        assert app.is_running
