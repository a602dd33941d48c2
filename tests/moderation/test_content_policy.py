from __future__ import annotations

from types import SimpleNamespace

import pytest

from reelserve.errors import ContentPolicyViolation
from reelserve.service.moderation import ContentPolicy, TextPolicy, sample_frames, sample_indices


@pytest.fixture(scope="module")
def policy() -> ContentPolicy:
    return ContentPolicy(TextPolicy.default(), None, block_unsafe_inputs=True, block_unsafe_outputs=False)


def test_blocked_text_raises_with_param(policy: ContentPolicy) -> None:
    with pytest.raises(ContentPolicyViolation) as raised:
        policy.check_texts({"prompt": "a sunny day", "multi_prompt[2].prompt": "c h i l d p 0 r n"})
    assert raised.value.param == "multi_prompt[2].prompt"
    assert raised.value.message == "multi_prompt[2].prompt was blocked by this server's content policy"
    assert raised.value.status == 400
    assert raised.value.body_code == 503


def test_clean_texts_pass(policy: ContentPolicy) -> None:
    policy.check_texts({"prompt": "kids flying kites on a windy beach", "negative_prompt": None})


def test_check_params_reads_a_request(policy: ContentPolicy) -> None:
    params = SimpleNamespace(prompt="a park", negative_prompt="l0li", multi_prompt=None)
    with pytest.raises(ContentPolicyViolation) as raised:
        policy.check_params(params)
    assert raised.value.param == "negative_prompt"


@pytest.mark.parametrize(
    ("total", "count", "expected"),
    [
        (10, 4, [0, 3, 6, 9]),
        (121, 4, [0, 40, 80, 120]),
        (5, 2, [0, 4]),
        (3, 4, [0, 1, 2]),
        (1, 4, [0]),
        (0, 4, []),
        (100, 1, [0]),
        (100, 0, []),
    ],
)
def test_sample_indices_are_even_and_include_the_ends(total: int, count: int, expected: list[int]) -> None:
    assert sample_indices(total, count) == expected


def test_sample_frames_picks_the_frames() -> None:
    assert sample_frames(list("abcdefghij")) == ["a", "d", "g", "j"]
