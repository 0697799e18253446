"""The command palette's search: the titles first, as Textual matches them, then the entries whose help says
every word typed.

A musician types their own word: "morph" for "Blend toward B…" ("morph the selection toward B's sound"), "mix"
for "Take levels from B" ("DNA mix"), "silence" for "Generate a one-shot". Textual's provider matches the title
alone, by letters in order, so these found nothing. The help is matched by whole words (a word's start), not by
letters in order, which in a sentence would match almost anything; such hits rank below every title match.
"""

from __future__ import annotations

import re

from textual.command import Hit, Hits
from textual.system_commands import SystemCommandsProvider

HELP_SCORE = 0.05  # below a title's fuzzy match: what the title says comes first


def says_every_word(help_text: str, query: str) -> bool:
    """Every word of `query` starts a word of `help_text` (case aside): "morph" in "morph the selection"."""
    words = re.findall(r"\w[\w'-]*", query.lower())
    text = help_text.lower()
    return bool(words) and all(re.search(rf"(?<!\w){re.escape(w)}", text) for w in words)


class TitlesThenHelp(SystemCommandsProvider):
    """Textual's system-commands provider, whose search also offers the entries whose help says the words typed."""

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback, *_ in self.app.get_system_commands(self.screen):
            if (score := matcher.match(name)) > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
            elif help_text and says_every_word(help_text, query):
                yield Hit(HELP_SCORE, name, callback, help=help_text)
