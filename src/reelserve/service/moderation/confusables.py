"""Characters that stand in for Latin letters: look-alikes from other scripts, and leetspeak.

Tables name characters by their Unicode names, so this file holds no look-alike literals.
"""

from __future__ import annotations

import string
import unicodedata

# Look-alikes that NFKC leaves alone. Upper and lower case are listed apart because some
# differ in shape (Greek capital eta looks like H, small eta like n); mapping runs before case folding.
_LOOKALIKES_BY_NAME: dict[str, str] = {
    "CYRILLIC SMALL LETTER A": "a",
    "CYRILLIC SMALL LETTER VE": "b",
    "CYRILLIC SMALL LETTER IE": "e",
    "CYRILLIC SMALL LETTER KA": "k",
    "CYRILLIC SMALL LETTER EM": "m",
    "CYRILLIC SMALL LETTER EN": "h",
    "CYRILLIC SMALL LETTER O": "o",
    "CYRILLIC SMALL LETTER ER": "p",
    "CYRILLIC SMALL LETTER ES": "c",
    "CYRILLIC SMALL LETTER TE": "t",
    "CYRILLIC SMALL LETTER U": "y",
    "CYRILLIC SMALL LETTER HA": "x",
    "CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I": "i",
    "CYRILLIC SMALL LETTER JE": "j",
    "CYRILLIC SMALL LETTER DZE": "s",
    "CYRILLIC SMALL LETTER SHHA": "h",
    "CYRILLIC SMALL LETTER STRAIGHT U": "y",
    "CYRILLIC SMALL LETTER KOMI DE": "d",
    "CYRILLIC SMALL LETTER QA": "q",
    "CYRILLIC SMALL LETTER WE": "w",
    "CYRILLIC SMALL LETTER PALOCHKA": "l",
    "CYRILLIC LETTER PALOCHKA": "l",
    "CYRILLIC CAPITAL LETTER A": "a",
    "CYRILLIC CAPITAL LETTER VE": "b",
    "CYRILLIC CAPITAL LETTER IE": "e",
    "CYRILLIC CAPITAL LETTER KA": "k",
    "CYRILLIC CAPITAL LETTER EM": "m",
    "CYRILLIC CAPITAL LETTER EN": "h",
    "CYRILLIC CAPITAL LETTER O": "o",
    "CYRILLIC CAPITAL LETTER ER": "p",
    "CYRILLIC CAPITAL LETTER ES": "c",
    "CYRILLIC CAPITAL LETTER TE": "t",
    "CYRILLIC CAPITAL LETTER U": "y",
    "CYRILLIC CAPITAL LETTER HA": "x",
    "CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I": "i",
    "CYRILLIC CAPITAL LETTER JE": "j",
    "CYRILLIC CAPITAL LETTER DZE": "s",
    "GREEK SMALL LETTER ALPHA": "a",
    "GREEK SMALL LETTER BETA": "b",
    "GREEK SMALL LETTER EPSILON": "e",
    "GREEK SMALL LETTER ETA": "n",
    "GREEK SMALL LETTER IOTA": "i",
    "GREEK SMALL LETTER KAPPA": "k",
    "GREEK SMALL LETTER NU": "v",
    "GREEK SMALL LETTER OMICRON": "o",
    "GREEK SMALL LETTER RHO": "p",
    "GREEK SMALL LETTER TAU": "t",
    "GREEK SMALL LETTER UPSILON": "u",
    "GREEK SMALL LETTER CHI": "x",
    "GREEK SMALL LETTER OMEGA": "w",
    "GREEK CAPITAL LETTER ALPHA": "a",
    "GREEK CAPITAL LETTER BETA": "b",
    "GREEK CAPITAL LETTER EPSILON": "e",
    "GREEK CAPITAL LETTER ZETA": "z",
    "GREEK CAPITAL LETTER ETA": "h",
    "GREEK CAPITAL LETTER IOTA": "i",
    "GREEK CAPITAL LETTER KAPPA": "k",
    "GREEK CAPITAL LETTER MU": "m",
    "GREEK CAPITAL LETTER NU": "n",
    "GREEK CAPITAL LETTER OMICRON": "o",
    "GREEK CAPITAL LETTER RHO": "p",
    "GREEK CAPITAL LETTER TAU": "t",
    "GREEK CAPITAL LETTER UPSILON": "y",
    "GREEK CAPITAL LETTER CHI": "x",
    "LATIN SMALL LETTER DOTLESS I": "i",
    "LATIN SMALL LETTER ALPHA": "a",
    "LATIN SMALL LETTER SCRIPT G": "g",
}

# Families of Latin look-alikes with one member per letter, e.g. LATIN LETTER SMALL CAPITAL P.
_LETTER_FAMILIES = (
    "LATIN LETTER SMALL CAPITAL {}",
    "REGIONAL INDICATOR SYMBOL LETTER {}",
    "NEGATIVE CIRCLED LATIN CAPITAL LETTER {}",
    "NEGATIVE SQUARED LATIN CAPITAL LETTER {}",
)


def _lookalike_table() -> dict[int, str]:
    table = {ord(unicodedata.lookup(name)): latin for name, latin in _LOOKALIKES_BY_NAME.items()}
    for family in _LETTER_FAMILIES:
        for letter in string.ascii_uppercase:
            try:
                table[ord(unicodedata.lookup(family.format(letter)))] = letter.lower()
            except KeyError:
                continue
    return table


LOOKALIKES: dict[int, str] = _lookalike_table()

# Characters that are not printed but can split a word: format characters (category Cf: zero-width
# space and joiners, soft hyphen, bidi controls, tag characters) plus these blank letters.
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")

# Leetspeak: each letter and the characters written for it. "1" and "|" stand for both i and l.
LEET_FORMS: dict[str, str] = {
    "a": "4@",
    "b": "8",
    "e": "3€",
    "g": "9",
    "i": "1!|",
    "l": "1|",
    "o": "0",
    "s": "5$",
    "t": "7+",
    "z": "2",
}

# The leet characters that are not letters or digits: in text they may also be plain punctuation.
LEET_SYMBOLS = "".join(sorted({ch for forms in LEET_FORMS.values() for ch in forms if not ch.isalnum()}))


def leet_letters(ch: str) -> str:
    """The letters `ch` can stand for ("" when it stands for none)."""
    return "".join(letter for letter, forms in LEET_FORMS.items() if ch in forms)
