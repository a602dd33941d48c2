"""Text forms the content policy matches against, built to see through the usual evasions.

- `folded`: NFKC, case folded, invisible characters removed: the text as written, in its own script.
- canonical tokens: also without diacritics, look-alike letters mapped to Latin, split into tokens
  (runs of letters, digits and leet symbols) with runs of one character cut to three. Runs of
  one-letter tokens are spelled-out words ("c.h.i.l.d", "s e x") and are joined; "is ex" is not.
- `term_view`: canonical tokens joined by spaces, where a spelled-out run keeps a SPELLED_OUT mark
  where whitespace split its letters, so that a term may start or end there ("a b-l-o-o-d");
  letters split by punctuation stay together ("C-P-U" is one word).
- `deleeted`: canonical tokens (spelled-out runs joined plainly) with leetspeak read as letters;
  "1" and "|" are ambiguous, so one form reads them as i and one as l. Numbers stay numbers.
"""

from __future__ import annotations

import re
import unicodedata

from reelserve.service.moderation.confusables import BLANK_LETTERS, LEET_FORMS, LEET_SYMBOLS, LOOKALIKES, leet_letters

SPELLED_OUT = "\N{MIDDLE DOT}"  # never inside a token: the tokenizer treats it as punctuation
_SYMBOL_CLASS = "[" + re.escape(LEET_SYMBOLS) + "]"
_TOKEN = re.compile(rf"(?:[^\W_]|{_SYMBOL_CLASS})+")
_MAX_REPEAT = 3
_LONG_RUN = re.compile(rf"(.)\1{{{_MAX_REPEAT},}}")
# Bounds backtracking on hostile input; runs of one character are already cut to _MAX_REPEAT.
_MAX_LETTER_REPEAT = 6
_SHORT_WORD = 2
_WHITESPACE = re.compile(r"\s+")
_SPACE = re.compile(r"\s")
# At the end of a token these are punctuation ("lol!"), not letters.
_TRAILING_PUNCTUATION = "!|+"
_AMBIGUOUS_ONE = "1|"


def _drop_invisible(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf" and ch not in BLANK_LETTERS)


def _strip_marks(text: str) -> str:
    """Compatibility-decomposes, drops combining marks (diacritics), recomposes."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.category(ch).startswith("M"))
    return unicodedata.normalize("NFC", bare)


def folded(text: str) -> str:
    if text.isascii():
        # ASCII is its own NFKC form and holds no invisible characters.
        text = text.lower()
    else:
        text = _drop_invisible(unicodedata.normalize("NFKC", text))
        text = unicodedata.normalize("NFKC", text.casefold())
    return _WHITESPACE.sub(" ", text).strip()


def _join_spelled_out(tokens: list[tuple[str, bool]], space_mark: str) -> list[str]:
    """Runs of two or more one-character tokens become one token.

    Letters split by punctuation ("b-l-o-o-d") are joined plainly; where whitespace split them
    ("a b-l-o-o-d") `space_mark` goes between, since a word may begin there. As inside tokens,
    runs of one letter are cut to three.
    """
    joined: list[str] = []
    run: list[tuple[str, bool]] = []
    for token, after_space in [*tokens, ("", True)]:
        if len(token) == 1:
            if [letter for letter, _ in run[-_MAX_REPEAT:]] != [token] * _MAX_REPEAT:
                run.append((token, after_space))
            continue
        if len(run) >= 2:
            joined.append(
                "".join(space_mark + ch if index and spaced else ch for index, (ch, spaced) in enumerate(run))
            )
        else:
            joined.extend(letter for letter, _ in run)
        run = []
        if token:
            joined.append(token)
    return joined


Tokens = list[tuple[str, bool]]


def tokens(text: str) -> Tokens:
    """(token, whether whitespace comes before it) for each token."""
    if text.isascii():
        # Nothing to drop, strip or map: ASCII has no invisible characters, marks or look-alikes.
        text = text.lower()
    else:
        text = _strip_marks(_drop_invisible(text))
        text = _strip_marks(text.translate(LOOKALIKES).casefold())
    text = _LONG_RUN.sub(r"\1" * _MAX_REPEAT, text)
    found_tokens: Tokens = []
    previous_end = 0
    for found in _TOKEN.finditer(text):
        token = found.group().rstrip(_TRAILING_PUNCTUATION)
        after_space = previous_end == 0 or _SPACE.search(text, previous_end, found.start()) is not None
        previous_end = found.end()
        if token:
            found_tokens.append((token, after_space))
    return found_tokens


def canonical_tokens(text: str) -> list[str]:
    return _join_spelled_out(tokens(text), "")


def canonical(text: str) -> str:
    return " ".join(canonical_tokens(text))


def term_view(text: str) -> str:
    return term_view_of(tokens(text))


def term_view_of(found: Tokens) -> str:
    """`term_view` of a text already split by `tokens`."""
    return " ".join(_join_spelled_out(found, SPELLED_OUT))


def _deleet_table(one_as: str) -> dict[int, str]:
    table = {ord(ch): leet_letters(ch)[0] for forms in LEET_FORMS.values() for ch in forms}
    table.update({ord(ch): one_as for ch in _AMBIGUOUS_ONE})
    return table


_DELEET_TABLES = {one_as: _deleet_table(one_as) for one_as in "il"}


_LEET_CHAR = re.compile("[" + re.escape("".join(LEET_FORMS.values())) + "]")


def deleeted(canonical_text: str, one_as: str) -> str:
    """Reads leetspeak in tokens that hold a letter; numbers ("1080", "17") stay numbers."""
    if _LEET_CHAR.search(canonical_text) is None:
        return canonical_text
    table = _DELEET_TABLES[one_as]
    tokens = canonical_text.split(" ")
    return " ".join(token.translate(table) if any(ch.isalpha() for ch in token) else token for token in tokens)


def pattern_views(text: str, found: Tokens | None = None) -> list[str]:
    """The forms a policy pattern is tried on, without duplicates; `found` is `tokens(text)` where known."""
    base = " ".join(_join_spelled_out(tokens(text) if found is None else found, ""))
    views = [folded(text), deleeted(base, "i"), deleeted(base, "l")]
    return list(dict.fromkeys(views))


def _equivalent_chars(ch: str) -> str:
    """`ch` and every character leetspeak writes for the letters `ch` can be."""
    letters = set(leet_letters(ch)) | ({ch} if ch in LEET_FORMS else set())
    equivalents = {ch}
    for letter in letters:
        equivalents.update(letter, LEET_FORMS[letter])
    return "".join(sorted(equivalents))


def _word_pattern(word: str) -> str:
    # Repeated letters would make short words collide with others ("cp" with "ccp" and "cpp").
    repeat = f"{{1,{_MAX_LETTER_REPEAT}}}" if len(word) > _SHORT_WORD else ""
    return "".join(f"(?:[{re.escape(_equivalent_chars(ch))}]{SPELLED_OUT}?){repeat}" for ch in word)


_TERM_EDGE = f"(?:{_SYMBOL_CLASS}{SPELLED_OUT}?){{0,3}}"
_TERM_START = f"(?<![^ {SPELLED_OUT}])" + _TERM_EDGE
_TERM_END = _TERM_EDGE + f"(?![^ {SPELLED_OUT}])"


def _term_words(term: str) -> str:
    words = canonical_tokens(term)
    if not words:
        raise ValueError(f"content policy term {term!r} has no letters or digits")
    between_words = f"[ {re.escape(LEET_SYMBOLS)}]*"
    return between_words.join(_word_pattern(word) for word in words)


def term_regex(term: str) -> re.Pattern[str]:
    """A regex over `term_view` that finds `term` as whole words.

    Each letter may be written in leetspeak and, in words longer than two letters, repeated; the
    term's words may be joined or apart. A match starts and ends at a token edge or inside a
    spelled-out run, so "cp" never matches inside "cpu" or "accept".
    """
    return re.compile(_TERM_START + _term_words(term) + _TERM_END)


def any_term_regex(terms: list[str]) -> re.Pattern[str]:
    """One regex that matches where any of the `term_regex(term)` of `terms` matches, and nowhere else.

    The token-edge test is shared, so each position of the text is tried once rather than once per term.
    """
    return re.compile(_TERM_START + "(?:" + "|".join(_term_words(term) for term in terms) + ")" + _TERM_END)
