from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from reelserve.service.moderation import TextPolicy, prompt_texts
from reelserve.service.moderation.normalize import canonical, pattern_views

CYR_A = "\N{CYRILLIC SMALL LETTER A}"
CYR_O = "\N{CYRILLIC SMALL LETTER O}"
CYR_ES = "\N{CYRILLIC SMALL LETTER ES}"
CYR_ER = "\N{CYRILLIC SMALL LETTER ER}"
CYR_I = "\N{CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I}"
GREEK_O = "\N{GREEK SMALL LETTER OMICRON}"
GREEK_RHO = "\N{GREEK SMALL LETTER RHO}"
ZERO_WIDTH_SPACE = "\N{ZERO WIDTH SPACE}"
ZERO_WIDTH_JOINER = "\N{ZERO WIDTH JOINER}"
SOFT_HYPHEN = "\N{SOFT HYPHEN}"
COMBINING_DIAERESIS = "\N{COMBINING DIAERESIS}"


def fullwidth(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else "\N{IDEOGRAPHIC SPACE}" for ch in text)


def small_caps(text: str) -> str:
    import unicodedata

    return "".join(unicodedata.lookup(f"LATIN LETTER SMALL CAPITAL {ch.upper()}") for ch in text)


@pytest.fixture(scope="module")
def policy() -> TextPolicy:
    return TextPolicy.default()


CAUGHT = [
    "child porn",
    "CHILD PORN",
    "ChIlD pOrN",
    "a video of child porn please",
    "ch1ld p0rn",
    "chi1d porn",
    "CH1LD_P0RN!!!",
    "c.h.i.l.d p-o-r-n",
    "c h i l d  p o r n",
    "c h i l d porn",
    "child-porn",
    "childporn",
    "chiiiild pooooorn",
    f"c{ZERO_WIDTH_SPACE}hild p{ZERO_WIDTH_JOINER}orn",
    f"child por{SOFT_HYPHEN}n",
    fullwidth("child porn"),
    "chïld pörn",
    f"chi{COMBINING_DIAERESIS}ld porn",
    f"{CYR_ES}hild p{CYR_O}rn",
    f"child {GREEK_RHO}{GREEK_O}rn",
    small_caps("csam"),
    "cp",
    "C.P.",
    "c p",
    "(cp)",
    "#cp links",
    "csam",
    "C S A M",
    "c$am",
    f"{CYR_ES}s{CYR_A}m",
    "loli",
    "LOLI",
    "l0li",
    "l0l1",
    "1o1i",
    "#sexykids",
    "a c.s.a.m video",
    "s\N{CYRILLIC SMALL LETTER IE}xy kids",
    "|o|i",
    "l.o.l.i",
    f"l{CYR_O}l{CYR_I}",
    "lolicon art",
    "underage sex",
    "und3rage s3x",
    "underage $ex",
    "u n d e r a g e sex",
    "revenge porn",
    "r3v3ng3 p0rn",
    "deepfake nudes of my coworker",
    "nudify this photo",
    "upskirt shot",
    "non-consensual porn",
    "naked child",
    "a nude toddler",
    "sexy 12 year old",
    "a 13-year-old girl, nude",
    "12yo nude",
    "nsfw kids",
    "erotic photo of a toddler",
    "little girl in a sexy dress",
    "k1ds p0rn",
    "s e x y k i d s",
    f"{CYR_ES}hildren, xxx",
]

INNOCENT = [
    "cpu",
    "a red CCP flag",
    "main.cpp open in an editor",
    "a CPU fan spinning",
    "accept the award",
    "Scunthorpe United fans cheering",
    "a cottage in Sussex",
    "Essex countryside at dawn",
    "Middlesex cricket ground",
    "data analysis dashboard",
    "a cocktail bar at night",
    "a therapist's office",
    "a class of students",
    "kids playing football in a park",
    "a child's birthday party",
    "children building a sandcastle",
    "a toddler taking her first steps",
    "little girl blowing out candles",
    "an 8 year old playing chess",
    "a 12-year-old skateboarder",
    "lol i am so happy",
    "lol!",
    "that is expensive",
    "a sextant on a ship's deck",
    "a sexy song in a minor key",
    "a child of either sex",
    "children looking at the stars with the naked eye",
    "C-P-U overheating",
    "a c-3po style robot",
    "1080p 4k cinematic, 60fps",
    "a lollipop",
    "Lolita lemon tree",
    "a nude lipstick shade on a model",
    "the connection closed with code 1011",
    "a matrix [1, 0, 1, 1] on a blackboard",
    "a teacher reading to kids",
    "baby goats in a barn",
    "Copenhagen harbour at sunset",
    "sex ed class for teenagers",
    "a woman in a sexy red dress",
    # The built-in rules are about minors and consent; adult words alone are the operator's call.
    "the porn industry documentary poster",
    "",
]


@pytest.mark.parametrize("text", CAUGHT)
def test_evasions_are_caught(policy: TextPolicy, text: str) -> None:
    assert policy.matching_rule(text) is not None, canonical(text)


@pytest.mark.parametrize("text", INNOCENT)
def test_innocent_prompts_pass(policy: TextPolicy, text: str) -> None:
    assert policy.matching_rule(text) is None


def test_tables_are_large_enough() -> None:
    assert len(CAUGHT) >= 30
    assert len(INNOCENT) >= 30


def test_match_names_the_param_and_rule_without_echoing_the_term(policy: TextPolicy) -> None:
    match = policy.check({"prompt": "a cat on a sofa", "negative_prompt": "blurry, l0li"})
    assert match is not None
    assert match.param == "negative_prompt"
    assert match.rule == "loli"
    assert match.message == "negative_prompt was blocked by this server's content policy"
    assert "loli" not in match.message.casefold()


def test_clean_texts_give_no_match(policy: TextPolicy) -> None:
    assert policy.check({"prompt": "a cat on a sofa", "negative_prompt": None}) is None  # type: ignore[dict-item]


def test_multi_prompt_segments_are_named_by_position(policy: TextPolicy) -> None:
    params = SimpleNamespace(
        prompt="a day at the beach",
        negative_prompt=None,
        multi_prompt=[SimpleNamespace(prompt="waves"), SimpleNamespace(prompt="then c.s.a.m")],
    )
    texts = prompt_texts(params)
    assert list(texts) == ["prompt", "multi_prompt[0].prompt", "multi_prompt[1].prompt"]
    match = policy.check(texts)
    assert match is not None
    assert match.param == "multi_prompt[1].prompt"


def test_operator_terms_get_the_same_evasion_handling() -> None:
    policy = TextPolicy.from_config(["gore", "blood bath"], [])
    assert policy.matching_rule("lots of G0R3") == "gore"
    assert policy.matching_rule("a b-l-o-o-d b-a-t-h") == "blood bath"
    assert policy.matching_rule("bloodbath") == "blood bath"
    assert policy.matching_rule("Gorey details") is None
    assert policy.matching_rule("a bloody bathtub") is None
    assert policy.matching_rule("child porn") is None  # the built-in rules are not included


def test_operator_patterns_see_folded_and_deleeted_text() -> None:
    policy = TextPolicy.from_config([], [r"\bbrand ?x\b", r"\b\d{3}-\d{4}\b"])
    assert policy.matching_rule("an ad for BRAND X") == r"\bbrand ?x\b"
    assert policy.matching_rule(f"b{ZERO_WIDTH_SPACE}r4nd x") == r"\bbrand ?x\b"
    assert policy.matching_rule("call 555-1234 now") == r"\b\d{3}-\d{4}\b"
    assert policy.matching_rule("brandy x") is None


def test_invalid_pattern_names_itself() -> None:
    with pytest.raises(ValueError, match=r"\(unclosed"):
        TextPolicy.from_config([], ["(unclosed"])


def test_term_without_letters_is_refused() -> None:
    with pytest.raises(ValueError, match="no letters"):
        TextPolicy.from_config(["..."], [])


def test_include_defaults_adds_the_built_in_rules() -> None:
    policy = TextPolicy.from_config(["gore"], [], include_defaults=True)
    assert policy.matching_rule("gore") == "gore"
    assert policy.matching_rule("child porn") == "child porn"


def test_load_toml(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('terms = ["gore"]\npatterns = ["\\\\bkill (him|her)\\\\b"]\n', encoding="utf-8")
    policy = TextPolicy.load(path)
    assert policy.matching_rule("g o r e") == "gore"
    assert policy.matching_rule("then kill him") is not None
    assert policy.matching_rule("csam") == "csam"


def test_load_toml_without_defaults(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('include_defaults = false\nterms = ["gore"]\n', encoding="utf-8")
    policy = TextPolicy.load(path)
    assert len(policy) == 1
    assert policy.matching_rule("csam") is None


def test_load_plain_text(tmp_path: Path) -> None:
    path = tmp_path / "policy.txt"
    path.write_text("# operator list\n\ngore\nre: \\bkill (him|her)\\b\n", encoding="utf-8")
    policy = TextPolicy.load(path)
    assert policy.matching_rule("GORE") == "gore"
    assert policy.matching_rule("kill her") == r"\bkill (him|her)\b"
    assert policy.matching_rule("loli") == "loli"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("terms = 'gore'", "terms must be a list of strings"),
        ("include_defaults = 'no'", "include_defaults must be true or false"),
        ("terms = [", "not valid TOML"),
    ],
)
def test_bad_toml_is_refused_with_the_path(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as raised:
        TextPolicy.load(path)
    assert str(path) in str(raised.value)


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read content policy file"):
        TextPolicy.load(tmp_path / "absent.toml")


def test_spelled_out_letters_join_but_words_do_not() -> None:
    assert canonical("s e x") == "sex"
    assert canonical("is expensive") == "is expensive"
    assert canonical("lol i am") == "lol i am"


def test_patterns_see_numbers_as_numbers() -> None:
    assert "a 17 year old" in pattern_views("a 17-year-old")
    assert "a 17-year-old" in pattern_views("A 17-YEAR-OLD")


@pytest.mark.parametrize(
    "text",
    [
        "$" * 2500,
        "1" * 2500,
        "ch" + "1" * 2498,
        "c " * 1250,
        "1 | " * 625,
        "s 5 $ " * 400,
        "k i d s " * 300,
        "kids " * 500,
    ],
)
def test_hostile_long_prompts_are_fast(policy: TextPolicy, text: str) -> None:
    import time

    from tests.support.timing import collector_paused

    with collector_paused():
        started = time.perf_counter()
        policy.matching_rule(text)
        assert time.perf_counter() - started < 0.5
