"""The built-in policy: sexual content involving minors, and non-consensual intimate imagery.

Kept narrow on purpose so that innocent prompts pass: mentions of children are fine on their
own; only their combination with sexual or nudity words is blocked.
"""

from __future__ import annotations

import re

DEFAULT_TERMS: tuple[str, ...] = (
    # sexual content involving minors
    "child porn",
    "child pornography",
    "kiddie porn",
    "kiddy porn",
    "cp",
    "csam",
    "csem",
    "pthc",
    "loli",
    "lolis",
    "lolicon",
    "shotacon",
    "jailbait",
    "underage sex",
    "underage porn",
    "preteen porn",
    "pedo porn",
    "sex with a minor",
    "sex with a child",
    "sex with children",
    # non-consensual intimate imagery
    "revenge porn",
    "deepfake porn",
    "deepfake nude",
    "deepfake nudes",
    "fake nudes",
    "leaked nudes",
    "nudify",
    "nudified",
    "upskirt",
    "downblouse",
    "creepshot",
    "creepshots",
    "hidden camera porn",
    "spycam porn",
    "non consensual porn",
)

_MINOR_WORDS = (
    "child", "children", "kid", "kids", "kiddie", "kiddy", "minors", "underage", "underaged",
    "preteen", "preteens", "prepubescent", "toddler", "toddlers", "infant", "infants",
    "little girl", "little girls", "little boy", "little boys",
)  # fmt: skip
# "minor" alone is left out: "a sexy song in a minor key".
_SEXUAL_WORDS = (
    "porn*", "nsfw", "xxx", "hentai", "erotic*", "lewd", "sexy", "sexual*", "fetish*", "genital*",
    "masturbat*", "orgasm*",
)  # fmt: skip
# Also used innocently ("a child of either sex", "the naked eye"), so they count only when close.
_NUDITY_WORDS = ("sex", "naked", "nude", "nudes", "nudity", "topless", "undressed")
_AGE_UNDER_18 = r"(?:1[0-7]|[1-9])[ -]?(?:y/?o|yrs?[ -]old|years?[ -]old)"


def _stretchy(word: str, word_gap: str) -> str:
    """Each letter may repeat ("pooorn"); a trailing * allows any ending; `word_gap` joins words."""
    prefix = word.endswith("*")
    parts = ["".join(re.escape(ch) + "+" for ch in piece) for piece in word.rstrip("*").split(" ")]
    return word_gap.join(parts) + (r"\w*" if prefix else "")


def _any_of(words: tuple[str, ...], word_gap: str = r"\W+") -> str:
    return "(?:" + "|".join(_stretchy(word, word_gap) for word in words) + ")"


def _near(first: str, second: str, max_words_between: int) -> str:
    """Either word before the other, with at most `max_words_between` words between them."""
    gap = rf"\W+(?:\w+\W+){{0,{max_words_between}}}?"
    return rf"\b{first}\b{gap}{second}\b|\b{second}\b{gap}{first}\b"


def _compound(first: str, second: str) -> str:
    """Both words run together into one ("sexykids"), in either order."""
    return rf"\b{first}{second}\b|\b{second}{first}\b"


_MINORS = f"(?:{_any_of(_MINOR_WORDS)}|{_AGE_UNDER_18})"
_MINORS_IN_COMPOUND = _any_of(_MINOR_WORDS, word_gap=r"\W*")
_SEXUAL_OR_NUDITY = _any_of(_SEXUAL_WORDS + _NUDITY_WORDS)

DEFAULT_PATTERNS: tuple[tuple[str, str], ...] = (
    ("built-in: minors near sexual words", _near(_MINORS, _any_of(_SEXUAL_WORDS), 3)),
    ("built-in: minors next to nudity words", _near(_MINORS, _any_of(_NUDITY_WORDS), 1)),
    ("built-in: minors run together with sexual words", _compound(_MINORS_IN_COMPOUND, _SEXUAL_OR_NUDITY)),
)
"""(name for logs, regex) pairs."""

_REPEATS = re.compile(r"(.)\1+")
_MINOR_STEMS = tuple(sorted({_REPEATS.sub(r"\1", word.split(" ")[0]) for word in _MINOR_WORDS}))
_AGE_DIGIT = re.compile("[0-9][ -]?y")


def may_match_default_patterns(view: str) -> bool:
    """False only where no built-in pattern can match `view`: each needs a minor word, its letters maybe
    repeated, or an age, so a text without either need not be searched with them. Only ASCII is judged
    so: under IGNORECASE a few other letters match Latin ones (the dotless i matches "i")."""
    if not view.isascii():
        return True
    if _AGE_DIGIT.search(view) is not None:
        return True
    collapsed = _REPEATS.sub(r"\1", view.lower())
    return any(stem in collapsed for stem in _MINOR_STEMS)
