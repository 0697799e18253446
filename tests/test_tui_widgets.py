"""The editor's parts without a model: the code grid widget (keys, modes, counts, painting), themes, keymap, panels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from distill_tui.codes.grid import CodeGrid
from distill_tui.tui.app import DistillApp
from distill_tui.tui.keymap import all_bindings, load_user_keymap
from distill_tui.tui.messages import SoundLoaded
from distill_tui.tui.palette import MAPS, ramp, text_on
from distill_tui.tui.themes import REPO_THEMES, load_themes
from distill_tui.tui.widgets.code_grid import CodeGridView
from distill_tui.tui.widgets.health_bars import level_health
from distill_tui.tui.widgets.slider import Slider

from .test_tui_support import aio, until


def grid_doc(levels: int = 8, positions: int = 1000, k: int = 64, seed: int = 0) -> CodeGrid:
    rng = np.random.default_rng(seed)
    return CodeGrid(codes=rng.integers(0, k, (levels, positions)), model_fingerprint="ab12", codebook_sizes=[k] * levels,
                    sample_rate=22050, hop_length=256, stride=4, name="big")


async def _open(pilot, app: DistillApp, doc: CodeGrid) -> CodeGridView:
    app.editor.post_message(SoundLoaded(doc))
    await pilot.pause()
    return app.editor.grid


@aio
async def test_navigation_counts_and_jumps():
    app = DistillApp(None, [], theme_dirs=[REPO_THEMES])
    async with app.run_test(size=(100, 30)) as pilot:
        g = await _open(pilot, app, grid_doc())
        assert (g.level, g.pos) == (0, 0)
        await pilot.press("l", "l", "4", "l", "j", "down")
        assert (g.level, g.pos) == (2, 6)
        await pilot.press("1", "2", "right", "h", "k")
        assert (g.level, g.pos) == (1, 17)
        await pilot.press("dollar_sign")
        assert g.pos == 999 and g.scroll_offset.x > 0  # scrolled to keep the cursor visible
        await pilot.press("0", "G")
        assert (g.level, g.pos) == (7, 0)
        await pilot.press("g", "g")
        assert g.level == 0
        g.beat = 4
        await pilot.press("w", "w", "l", "b")
        assert g.pos == 8
        await pilot.press("2", "b")
        assert g.pos == 0


@aio
async def test_edit_mode_types_hex_and_undo_takes_back_one_code():
    app = DistillApp(None, [], theme_dirs=[REPO_THEMES])
    async with app.run_test(size=(100, 30)) as pilot:
        doc = grid_doc()
        before = doc.codes.copy()
        g = await _open(pilot, app, doc)
        await pilot.press("i")
        assert g.mode == "EDIT" and "EDIT" in str(app.editor.query_one("#status").render())  # the status line shows the mode
        await pilot.press("3", "f", "0", "a", "b")  # two codes written; a third half-typed
        assert doc.codes[0, 0] == 0x3F and doc.codes[0, 1] == 0x0A and g.pos == 2 and g.typed == "b"
        await pilot.press("escape")
        assert g.mode == "NORMAL" and doc.codes[0, 2] == before[0, 2]
        assert app.editor.ws.dirty("big")
        await pilot.press("u", "u")  # one undo step per code written
        assert (doc.codes == before).all()
        await pilot.press("ctrl+r", "ctrl+r")
        assert doc.codes[0, 0] == 0x3F and doc.codes[0, 1] == 0x0A
        await pilot.press("i", "7", "f")  # 0x7f does not exist in a 64-code level: refused, nothing changes
        assert doc.codes[0, 2] == before[0, 2]
        await pilot.press("escape")


@aio
async def test_visual_selection_yank_paste_and_clear():
    app = DistillApp(None, [], theme_dirs=[REPO_THEMES])
    async with app.run_test(size=(100, 30)) as pilot:
        doc = grid_doc()
        g = await _open(pilot, app, doc)
        await pilot.press("v", "l", "l", "j")
        sel = g.selection
        assert (sel.level_start, sel.level_stop, sel.pos_start, sel.pos_stop) == (0, 2, 0, 3)
        block = doc.codes[0:2, 0:3].copy()
        await pilot.press("y")
        assert g.mode == "NORMAL" and app.editor.ws.clipboard.values.shape == (2, 3)
        assert (g.level, g.pos) == (0, 0)
        orig = doc.codes.copy()
        await pilot.press("1", "0", "l", "p")
        assert (doc.codes[0:2, 10:13] == block).all()
        await pilot.press("V", "y")
        assert app.editor.ws.clipboard.values.shape == (1, 1000)
        assert g.pos == 0
        common = np.bincount(doc.codes[0]).argmax()
        await pilot.press("v", "4", "l", "d")
        assert (doc.codes[0, 0:5] == common).all()
        await pilot.press("u", "u")
        assert (doc.codes == orig).all()


@aio
async def test_nudge_mute_solo_and_too_small():
    app = DistillApp(None, [], theme_dirs=[REPO_THEMES])
    async with app.run_test(size=(100, 30)) as pilot:
        doc = grid_doc()
        g = await _open(pilot, app, doc)
        code = int(doc.codes[0, 0])
        await pilot.press("plus")
        assert doc.codes[0, 0] == min(code + 1, 63)  # no model: the order is the code order
        await pilot.press("minus", "minus")
        assert doc.codes[0, 0] == max(min(code + 1, 63) - 2, 0)
        await pilot.press("j", "m")
        assert app.editor.ws.sounds["big"].muted == {1} and g.muted == {1}
        await pilot.press("M")
        assert app.editor.ws.sounds["big"].muted == set(range(8)) - {1}
        await pilot.press("M")
        assert app.editor.ws.sounds["big"].muted == set()
        await pilot.resize_terminal(40, 10)
        await pilot.pause()
        assert app.editor.has_class("-too-small")
        assert app.editor.query_one("#too-small").display
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not app.editor.has_class("-too-small")


@aio
async def test_too_small_is_not_hidden_under_a_notice():
    """At 50 x 14 the start-up notice about sound (12 s) lay over "Terminal too small: …", cut in half."""
    app = DistillApp(None, [], theme_dirs=[REPO_THEMES])
    async with app.run_test(size=(50, 14), notifications=True) as pilot:
        await pilot.pause(0.2)
        app.notify("the PortAudio library is missing: install it (sudo apt install libportaudio2); until then "
                   "each sound is written to a file, its path shown", title="Listening", timeout=30)
        await pilot.pause(0.3)

        def text() -> str:
            return "\n".join(s.text for s in app.screen._compositor.render_strips())  # noqa: SLF001

        assert "Terminal too small: Distill needs at least" in text() and "PortAudio" not in text(), text()
        await pilot.resize_terminal(100, 30)
        await until(pilot, lambda: "PortAudio" in text(), timeout=10, what="the notice, once there is room")


@aio
async def test_grid_paints_cells_cursor_and_playhead():
    app = DistillApp(None, [], theme_dirs=[REPO_THEMES])
    async with app.run_test(size=(100, 30)) as pilot:
        doc = grid_doc(levels=4, positions=200)
        g = await _open(pilot, app, doc)
        line = g.render_line(1)
        text = line.text
        assert text[g.LABEL_WIDTH : g.LABEL_WIDTH + 2] == f"{doc.codes[0, 0]:02x}"
        cursor_style = next(s.style for s in line if s.text.startswith(f"{doc.codes[0, 0]:02x}"))
        assert str(cursor_style.bgcolor.name).lower() == app.grid_colours.cursor.lower()
        g.set_playhead(3)
        assert "▼" in g.render_line(0).text
        ruler = g.render_line(0).text
        assert "|0s" in ruler
        await pilot.press("l")
        line = g.render_line(1)
        assert line.cell_length == g.scrollable_content_region.width


def test_themes_load_and_bad_files_are_reported(tmp_path: Path):
    loaded = load_themes([REPO_THEMES])
    names = {t.name for t in loaded.themes}
    assert {"distill-dark", "distill-light", "distill-high-contrast"} <= names
    assert not loaded.problems
    (tmp_path / "broken.toml").write_text("name = \n")
    (tmp_path / "odd.toml").write_text('name = "odd"\nprimary = "#ffffff"\n[distill]\ncode_palette = "rainbow"\n')
    loaded = load_themes([tmp_path])
    assert len(loaded.problems) == 2 and "rainbow" in " ".join(loaded.problems)
    assert "distill-dark" in {t.name for t in loaded.themes}  # the built-in fallback is always there


@aio
async def test_a_theme_with_a_colour_that_is_not_one_is_reported_not_fatal(tmp_path: Path):
    """`open --theme mine` with `primary = "#ff00zz"` in mine.toml ended the editor at once: "error: ReprError:
    Failed to auto generate __rich_repr__; 'ColorSystem' object has no attribute 'primary'"."""
    (tmp_path / "mine.toml").write_text('name = "mine"\nprimary = "#ff00zz"\n')
    (tmp_path / "grid.toml").write_text('name = "grid"\nprimary = "#336699"\n[distill]\ncursor = "brightish"\n')
    (tmp_path / "vars.toml").write_text('name = "vars"\nprimary = "#336699"\n[variables]\n'
                                        '"block-cursor-foreground" = "zz"\n')  # a CSS error at the first screen
    (tmp_path / "style.toml").write_text('name = "style"\nprimary = "#336699"\n[variables]\n'
                                         '"block-cursor-foreground" = "ansi_black"\n"button-focus-text-style" = "sideways"\n')
    (tmp_path / "fine.toml").write_text('name = "fine"\nprimary = "#336699"\n[variables]\n'
                                        '"block-cursor-foreground" = "ansi_black"\n"button-focus-text-style" = "reverse"\n')
    loaded = load_themes([tmp_path])
    assert sorted(loaded.problems) == [f"{tmp_path / 'grid.toml'}: cursor 'brightish' is not a colour",
                                       f"{tmp_path / 'mine.toml'}: primary '#ff00zz' is not a colour",
                                       f"{tmp_path / 'style.toml'}: [variables] button-focus-text-style 'sideways' is "
                                       "not a text style",
                                       f"{tmp_path / 'vars.toml'}: [variables] block-cursor-foreground 'zz' is not a colour"]
    assert "fine" in {t.name for t in loaded.themes}
    app = DistillApp(None, [], theme="mine", theme_dirs=[REPO_THEMES, tmp_path])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.theme == "distill-dark"
        said = " ".join(n.message for n in app._notifications)  # noqa: SLF001
        assert "primary '#ff00zz' is not a colour" in said
        assert "--theme: no theme is named 'mine' (there are distill-dark, distill-high-contrast" in said


def test_palettes_are_ordered_and_readable():
    for name in MAPS:
        colours = ramp(name)
        assert len(colours) == len(set(colours)) or name == "greys"
    assert text_on("#ffffff") == "#000000" and text_on("#000000") == "#ffffff"


def test_every_binding_has_an_id_and_user_keymap(tmp_path: Path):
    bindings = all_bindings()
    assert "editor.play" in bindings and "grid.left" in bindings
    for b in bindings.values():
        assert "alt+" not in b.key and "meta+" not in b.key
    cfg = tmp_path / "config.toml"
    cfg.write_text('[keymap]\n"editor.play" = "p"\n"no.such" = "x"\n')
    result = load_user_keymap(cfg)
    assert result.keymap == {"editor.play": "p"} and len(result.problems) == 2
    assert result.problems[0].endswith("no binding has the id 'no.such'")


def test_a_key_the_keymap_gives_to_two_bindings_is_reported(tmp_path: Path):
    """`"editor.play" = "p"` (the README's own example) took p from paste without a word: the first binding
    found for a key runs, so paste had no key left. And `"editor.play" = "l"` never played: the grid's l
    (right) comes first."""
    cfg = tmp_path / "config.toml"
    cfg.write_text('[keymap]\n"editor.play" = "p"\n"editor.export" = "l,E"\n"grid.right" = "l,right,n"\n')
    problems = load_user_keymap(cfg).problems
    assert sorted(problems) == [f"{cfg}: editor.play and editor.paste both have the key 'p' now, and only one of them "
                                "can take it: give one of them another key",
                                f"{cfg}: grid.right and editor.export both have the key 'l' now, and only one of them "
                                "can take it: give one of them another key"]
    cfg.write_text('[keymap]\n"editor.play" = "space,z"\n"grid.normal_mode" = "escape,q"\n')
    assert load_user_keymap(cfg).problems == []  # escape was shared before (normal mode, back to the grid)


@aio
async def test_rebinding_a_key_through_the_keymap(tmp_path: Path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[keymap]\n"grid.right" = "n"\n')
    app = DistillApp(None, [], theme_dirs=[REPO_THEMES], keymap_path=cfg)
    async with app.run_test(size=(100, 30)) as pilot:
        g = await _open(pilot, app, grid_doc())
        await pilot.press("n", "n")
        assert g.pos == 2


def test_health_verdicts():
    health = {"utilization": [0.9, 0.2, 0.5, 0.9], "perplexity": [40, 5, 20, 40], "dead_codes": [4, 50, 30, 4],
              "level_gain_db": [10.0, 1.0, 1.0, 0.01]}
    verdicts = [h.colour for h in level_health(health, [64] * 4, ["a", "b", "c", "d"])]
    assert verdicts == ["green", "red", "yellow", "yellow"]  # 0.01 dB: faint detail, a note (analysis/health.py)
    assert level_health({}, [64], ["a"])[0].verdict == "no data"


@pytest.mark.parametrize("log", [False, True])
def test_slider_maps_positions_to_values(log: bool):
    s = Slider("x", 0.25, 4.0, 1.0, steps=40, log=log)
    assert s.value_at(0) == pytest.approx(0.25) and s.value_at(40) == pytest.approx(4.0)
    if log:
        assert s.value == pytest.approx(1.0)
    k = Slider("k", 1, 64, 64, steps=63, integer=True, off_at="high")
    assert k.is_off and k.value_text() == "off"


@aio
async def test_sliders_by_keyboard_and_mouse_and_the_generate_request():
    from distill_tui.tui.widgets.generate_panel import GeneratePanel

    app = DistillApp(None, [], theme_dirs=[REPO_THEMES])
    async with app.run_test(size=(100, 40)) as pilot:
        panel = app.editor.query_one(GeneratePanel)
        creativity = panel.query_one("#creativity", Slider)
        creativity.focus()
        await pilot.press("l", "l", "h")
        assert creativity.value > 1.0 and "●" in str(creativity.render())
        focus = panel.query_one("#focus", Slider)
        focus.focus()
        await pilot.press("home")
        assert focus.value == 1
        req = panel.request()
        settings = req.settings
        assert settings.top_k == 1 and settings.top_p is None and settings.seed is None
        assert settings.temperature == creativity.value
        seconds = panel.query_one("#length", Slider)
        await pilot.click(seconds, offset=(11, 0))  # the bar starts after the 11-character label
        assert panel.request().seconds == pytest.approx(0.5)


@aio
async def test_command_palette_by_colon_and_ctrl_p_and_help_by_f1():
    app = DistillApp(None, [], theme_dirs=[REPO_THEMES])
    async with app.run_test(size=(100, 30)) as pilot:
        for key in ("colon", "ctrl+p"):
            await pilot.press(key)
            await pilot.pause()
            assert type(app.screen).__name__ == "CommandPalette"
            await pilot.press("escape")
            await pilot.pause()
        await pilot.press("f1")
        assert type(app.screen).__name__ == "HelpScreen"
        intro = str(app.screen.query_one("#help-intro").render())
        assert "an edit acts on the selection" in intro and "or else on the cell under the cursor" in intro
        await pilot.press("escape", "ctrl+q")
        await pilot.pause()
    assert not app.is_running  # nothing unsaved: quits at once



@aio
async def test_generate_button_shows_its_label():
    from textual.widgets import Button

    from distill_tui.tui.widgets.generate_panel import GeneratePanel

    app = DistillApp(None, [], theme_dirs=[REPO_THEMES])
    async with app.run_test(size=(100, 60)) as pilot:
        await pilot.pause()
        panel = app.editor.query_one(GeneratePanel)
        button = panel.query_one(Button)
        assert button.id != panel.id and len(app.editor.query(f"#{button.id}")) == 1
        region = button.region
        bordered = button.styles.border_top[0] not in ("", "none", "hidden")
        assert region.height >= (3 if bordered else 1)
        update = app.screen._compositor.render_full_update(simplify=True)  # what the terminal is sent, line by line
        screen_lines = [row[0].text for row in update.strips]
        shown = "".join(line[region.x : region.right] for line in screen_lines[region.y : region.bottom])
        assert "Generate" in shown
        await pilot.click(button)  # still posts the request: refused here, as there is no model
        await pilot.pause()
        assert any("no model loaded" in n.message for n in app._notifications)


@aio
async def test_a_refused_code_is_said_in_hex_and_the_cursor_stays():
    from distill_tui.tui.widgets.inspector import CellInfo, render_cell

    app = DistillApp(None, [], theme_dirs=[REPO_THEMES])
    async with app.run_test(size=(100, 30)) as pilot:
        doc = grid_doc(levels=4, positions=50, k=64)
        before = doc.codes.copy()
        g = await _open(pilot, app, doc)
        await pilot.press("j", "i", "a", "5")
        await pilot.pause()
        assert (g.level, g.pos) == (1, 0) and (doc.codes == before).all()
        messages = [n.message for n in app._notifications]
        assert "code a5 does not exist at level 2: its codes are 00..3f" in messages
        await pilot.press("0", "2")  # the right code goes into the same cell, and then the cursor moves on
        assert doc.codes[1, 0] == 2 and g.pos == 1
        await pilot.press("escape")
    shown = render_cell(CellInfo(level=1, label="Detail", position=0, seconds=0.0, code=2, size=64, rank=56)).plain
    assert "code 02 (of 00..3f)" in shown and "2/63" not in shown and "(2" not in shown
    # "order 57/64" said nothing of what the order is: the code's place from dark and soft to bright and loud
    assert "order" not in shown and "57/64 dark/soft → bright/loud" in shown


@pytest.mark.parametrize("pause", [0.0, 1.0])
@aio
async def test_each_typed_code_undoes_alone_whatever_the_typing_speed(pause: float):
    app = DistillApp(None, [], theme_dirs=[REPO_THEMES])
    async with app.run_test(size=(100, 30)) as pilot:
        doc = grid_doc(levels=2, positions=20, k=64)
        before = doc.codes.copy()
        g = await _open(pilot, app, doc)
        await pilot.press("i", "1", "0")
        await pilot.pause(pause)
        await pilot.press("2", "0", "escape")
        assert doc.codes[0, 0] == 0x10 and doc.codes[0, 1] == 0x20 and g.mode == "NORMAL"
        await pilot.press("u")
        assert doc.codes[0, 0] == 0x10 and doc.codes[0, 1] == before[0, 1]  # the second code only
        await pilot.press("u")
        assert (doc.codes == before).all()
        await pilot.press("u")  # nothing more to undo: the codes stay as they were
        assert (doc.codes == before).all()


@aio
async def test_a_theme_picked_in_the_palette_is_used_on_the_next_launch(tmp_path: Path, monkeypatch):
    from distill_tui.tui.themes import DEFAULT_THEME, settings_path

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "picked"))
    app = DistillApp(None, [], theme_dirs=[REPO_THEMES])
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.theme == DEFAULT_THEME
        await pilot.press("ctrl+p", *"theme")
        await pilot.pause(0.5)  # the palette searches in the background
        await pilot.press("enter")  # its Theme command: a palette of themes
        await pilot.pause(0.5)
        await pilot.press(*"distill-light")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "distill-light"
    assert settings_path() == tmp_path / "picked" / "distill-tui" / "settings.json" and settings_path().exists()
    again = DistillApp(None, [], theme_dirs=[REPO_THEMES])
    async with again.run_test(size=(100, 30)) as pilot:
        assert again.theme == "distill-light"  # remembered
    once = DistillApp(None, [], theme="distill-high-contrast", theme_dirs=[REPO_THEMES])
    async with once.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert once.theme == "distill-high-contrast"  # --theme wins for this launch, and is not remembered
    last = DistillApp(None, [], theme_dirs=[REPO_THEMES])
    async with last.run_test(size=(100, 30)) as pilot:
        assert last.theme == "distill-light"


def test_a_one_step_spike_does_not_flatten_the_training_curve():
    """Seen in tmux: one training step at 125 dB (early steps spike, then recover) set the chart's top, and the
    whole run from 33 dB down to 8 dB was drawn in its bottom quarter. A lone spike now leaves the chart's range
    to the curve and runs off its top edge; a run that starts high keeps its start."""
    from distill_tui.tui.widgets.loss_chart import Series, render_chart

    ys = [33.0 - 0.25 * i for i in range(100)]  # 33 dB down to 8 dB
    spiky = list(ys)
    spiky[27] = 125.0
    for values, top in ((ys, "33.00"), (spiky, "33.00")):
        s = Series("training dB", "red", list(map(float, range(100))), values)
        lines = render_chart([s], 60, 12).plain.splitlines()
        assert lines[1].split()[0] == top, lines[1]  # the top label: the curve's own start
        assert lines[-1].split()[0] == "8.25"
    rising = Series("training dB", "red", [0.0, 1.0, 2.0, 3.0], [10.0, 20.0, 40.0, 80.0])  # a run going wrong: no spike
    assert render_chart([rising], 60, 12).plain.splitlines()[1].split()[0] == "80.00"


def test_a_chart_legend_never_runs_past_its_width():
    from distill_tui.tui.widgets.loss_chart import Series, render_chart

    a = Series("training dB", "red", [1, 2, 3], [30, 20, 6.3])
    b = Series("check dB", "blue", [3], [6.27])
    title = "distance to the originals, dB · lower is better"
    heads = {w: render_chart([a, b], w, 8, title).plain.splitlines() for w in (24, 54, 70, 90)}
    assert heads[90][0].startswith(title) and "6.30" in heads[90][0] and "6.27" in heads[90][0]
    assert heads[70][0].startswith("distance to the originals, dB  ━") and "6.27" in heads[70][0]
    # too narrow for both: the title on a row of its own, the legend on the next
    assert heads[54][0].rstrip() == title and heads[54][1].startswith("━ training dB 6.30")
    assert "6.27" in heads[54][1] and len(heads[54]) == 8
    assert all(len(line) <= w for w, lines in heads.items() for line in lines)
    assert heads[24][1].startswith("━ training dB 6.30")


@aio
async def test_undo_goes_to_the_change_and_says_what_it_took_back():
    """`u` after an edit far off-screen said only "undo: big" and left the view where it was: the change it
    took back could not be seen, nor named."""
    app = DistillApp(None, [], theme_dirs=[REPO_THEMES])
    async with app.run_test(size=(100, 30)) as pilot:
        doc = grid_doc()
        g = await _open(pilot, app, doc)
        await pilot.press("j", "j", "$", "i", "3", "f", "escape")  # level 3, the last column
        assert doc.codes[2, 999] == 0x3F and app.editor.message == "L3:999 = 3f"
        await pilot.press("g", "g", "0")
        assert (g.level, g.pos) == (0, 0)
        await pilot.press("u")
        await pilot.pause()
        assert doc.codes[2, 999] != 0x3F
        assert (g.level, g.pos) == (2, 999)  # the cursor, and so the view, went to what changed
        assert app.editor.message == "undo: L3:999 = 3f"
        await pilot.press("g", "g", "0", "ctrl+r")
        await pilot.pause()
        assert doc.codes[2, 999] == 0x3F and (g.level, g.pos) == (2, 999)
        assert app.editor.message == "redo: L3:999 = 3f"


def test_help_says_what_each_edit_does_in_words():
    """The help read "nudge up", "yank", "mix-paste", "clear", "swap A/B", "edit B": names a stranger cannot act
    on. Each now says what the key does."""
    from rich.console import Console

    from distill_tui.tui.screens.help import help_table

    console = Console(width=240, record=True)
    console.print(help_table({}))
    text = console.export_text()
    for words in ("one step brighter/louder", "one step darker/softer", "copy the selection", "cells it has no code for",
                  "most common code", "B's cells at the same place", "edit B instead of A", "without the cursor's level",
                  "the cursor follows what is playing", "as common as it was in training"):
        assert words in text, words
    # arrows, not their names: it read "h left            left" (found in tmux)
    row = next(line for line in text.splitlines() if "grid.left" in line)
    assert row.split()[:3] == ["h", "←", "left"], row
