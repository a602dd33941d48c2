"""The policy's shortcuts decide exactly as the full search would: every term regex on its own, and every
built-in pattern on every view."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from reelserve.service.moderation import TextPolicy
from reelserve.service.moderation.default_rules import DEFAULT_PATTERNS, DEFAULT_TERMS, may_match_default_patterns
from reelserve.service.moderation.normalize import pattern_views, term_regex, term_view
from tests.moderation.test_text_policy import CAUGHT, INNOCENT

POLICY = TextPolicy.default()
TERM_REGEXES = [term_regex(term) for term in DEFAULT_TERMS]
PATTERN_REGEXES = [re.compile(pattern, re.IGNORECASE) for _, pattern in DEFAULT_PATTERNS]

VOCABULARY = [
    "child", "chiiild", "kids", "kiddie", "little", "girl", "toddler", "minors", "under", "age", "underage",
    "pre", "teen", "12", "13", "4k", "10", "yo", "y/o", "year", "old", "-", "sex", "sexy", "nude", "naked",
    "porn", "p0rn", "c", "p", "cp", "loli", "l0l1", "csam", "a", "the", "cat", "zoom", "in", "photo", "of",
]
SEPARATORS = [" ", "  ", "-", ".", ", ", "", "!", "_", "\N{ZERO WIDTH SPACE}", "\N{CYRILLIC SMALL LETTER O}"]
texts = st.lists(st.tuples(st.sampled_from(VOCABULARY), st.sampled_from(SEPARATORS)), max_size=8).map(
    lambda parts: "".join(word + gap for word, gap in parts)
)


def fully_searched(text: str) -> bool:
    words = term_view(text)
    if any(any(ch.isalpha() for ch in found.group()) for regex in TERM_REGEXES for found in regex.finditer(words)):
        return True
    return any(regex.search(view) for regex in PATTERN_REGEXES for view in pattern_views(text))


@settings(max_examples=1500, deadline=None)
@given(texts)
def test_the_policy_blocks_exactly_what_the_full_search_blocks(text: str) -> None:
    assert (POLICY.matching_rule(text) is not None) == fully_searched(text)


@settings(max_examples=1500, deadline=None)
@given(texts)
def test_a_view_the_prefilter_passes_over_matches_no_built_in_pattern(text: str) -> None:
    for view in pattern_views(text):
        if not may_match_default_patterns(view):
            assert not any(regex.search(view) for regex in PATTERN_REGEXES)


def test_the_examples_decide_as_before() -> None:
    assert all(fully_searched(text) for text in CAUGHT)
    assert not any(fully_searched(text) for text in INNOCENT)
    assert not may_match_default_patterns("a cinematic shot of a golden retriever, 4k, 16:9")
