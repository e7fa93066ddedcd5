"""Text's Markdown in the browser: the plain-text shortcut (no parse, no sanitise) gives exactly
what the full path (markdown-it, then DOMPurify with cairn's allowlist) gives, and anything
Markdown or HTML could give a meaning to takes the full path."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

# \u2019 right quote, \u2013 en dash, \u2014 em dash, \u2026 ellipsis: typical agent text.
PLAIN_CHARS = list("abcXYZéñß019 ,.;:!?'()/%€$£+=@·-\u2019\u2013\u2014\u2026")
SPECIAL_CHARS = [*"*_`[]<>&#\\~|\"\n\t!", "\u00a0"]
PREFIXES = ["", "", "", "1. ", "2) ", "- ", "+ ", "# ", "> ", "    ", "---", "12.5 "]

JS_BOTH = """async xs => {
  const m = window.cairnA2ui.markdown;
  const out = [];
  for (const x of xs) out.push([m.isPlainText(x), await m.render(x), await m.full(x)]);
  return out;
}"""

texts = st.builds(lambda p, body: p + body, st.sampled_from(PREFIXES),
                  st.text(alphabet=st.sampled_from(PLAIN_CHARS + SPECIAL_CHARS), max_size=24))
plain = st.text(alphabet=st.sampled_from([c for c in PLAIN_CHARS if c.isalnum()]),
                min_size=1, max_size=20)


def test_shortcut_agrees_with_the_full_path(open_client: Any, demo_server: Any) -> None:
    client = open_client(demo_server)

    @settings(max_examples=40, deadline=None, database=None)
    @given(st.lists(texts, min_size=1, max_size=30), st.lists(plain, min_size=1, max_size=5))
    def check(values: list[str], words: list[str]) -> None:
        values = [*values, " of ".join(words), ", ".join(words) + "."]
        for value, (is_plain, fast, full) in zip(values, client.page.evaluate(JS_BOTH, values),
                                                 strict=True):
            assert fast == full, value
            if is_plain:  # the shortcut never sees a character with a Markdown/HTML meaning
                assert not set(value) & set("*_`[]<>&#\\~|\"\n\t\u00a0"), value
                assert full == f"<p>{value}</p>\n", value

    check()


def test_agent_strings_take_the_shortcut_and_markup_does_not(open_client: Any,
                                                            demo_server: Any) -> None:
    client = open_client(demo_server)
    shortcut = ["Holding 2 seats.", "0:59", "Total: €90.00", "Fri 05 Dec 2026, 20:00",
                "Seats: Balcony B1-3, Balcony B1-4", "Loading seats…", "Prices: A €45.00"]
    full = ["1. first", "- item", "# title", "**bold**", "a <b>tag</b>", "x & y", "[x](y)",
            "line\nbreak", "\"quoted\"", "trailing space "]
    got = client.page.evaluate(JS_BOTH, shortcut + full)
    assert [g[0] for g in got] == [True] * len(shortcut) + [False] * len(full)
    for value, (_, fast, slow) in zip(shortcut + full, got, strict=True):
        assert fast == slow, value
