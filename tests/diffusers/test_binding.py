"""Route options, capabilities and the parameter mapping: no model, no worker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reelserve.engines.base import GenerationRequest, Segment
from reelserve.engines.diffusers import FAMILIES, create_engine
from reelserve.engines.diffusers.mapping import (
    frames_for_duration,
    map_guidance,
    plan_video,
    resolve_size,
    split_segment,
)
from reelserve.errors import InputError


def engine_options(**extra: Any) -> dict[str, Any]:
    return {"family": "wan2.2-ti2v-5b", "weights": "/models/wan", **extra}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"family": "sora", "weights": "w"}, "unknown family 'sora'"),
        ({"family": "ltx-2"}, "weights: Field required"),
        (engine_options(stepz=4), "stepz: unknown option"),
        (engine_options(steps=0), "steps: Input should be greater than or equal to 1"),
        (engine_options(sizes={"16:9": [1280, 720]}), "multiples of 32"),
        (engine_options(sizes={"wide": [1280, 704]}), "not an aspect ratio"),
        (engine_options(dtype="int8"), "dtype"),
        (engine_options(device="tpu"), "device 'tpu'"),
        (engine_options(cache={"type": "nocache"}), "does not match any of the expected tags"),
        (engine_options(cache={"type": "magcache"}), "mag_ratios"),
        ({"family": "ltx-2", "weights": "w", "cache": {"type": "first_block_cache"}}, "does not work with ltx-2"),
        (engine_options(attention_backend="flash_hub"), "downloads its kernel"),
        (engine_options(text_to_video_weights="t2v"), "drop text_to_video_weights"),
        (engine_options(distilled=True), "distilled applies to ltx-video and ltx-2"),
        (engine_options(loras=[{"path": "l.safetensors", "target": "transformer_2"}]), "no transformer_2"),
    ],
)
def test_bad_bindings_say_which_option_is_wrong(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="invalid diffusers engine options") as failure:
        create_engine(options, base_dir=Path("/etc/reelserve"))
    assert message in str(failure.value)


def test_options_accept_operator_spellings(tmp_path: Path) -> None:
    engine = create_engine(
        engine_options(
            weights="models/wan",
            dtype="bf16",
            cpu_offload=True,
            compile=True,
            cache={"type": "first-block", "threshold": 0.2},
            loras=[{"path": "loras/fast.safetensors", "weight": 0.8}],
        ),
        base_dir=tmp_path,
    )
    options = engine.options
    assert options.weights == tmp_path / "models" / "wan"
    assert options.loras[0].path == tmp_path / "loras" / "fast.safetensors"
    assert (options.dtype, options.cpu_offload) == ("bfloat16", "model")
    assert options.compile is not None and options.compile.scope == "regional"
    assert options.cache is not None and options.cache.type == "first_block_cache"


def test_capabilities_follow_the_family() -> None:
    published = {
        name: create_engine({"family": name, "weights": "/nowhere"}, base_dir=Path("/")).capabilities.as_dict()
        for name in FAMILIES
    }
    assert all(caps["generative"] and caps["multi_prompt"] and not caps["voices"] for caps in published.values())
    assert [name for name, caps in published.items() if caps["sound"]] == ["ltx-2"]
    assert [name for name, caps in published.items() if caps["end_frame"]] == ["ltx-video", "ltx-2"]
    assert [name for name, caps in published.items() if caps["text_to_video"]] == [
        "wan2.2-ti2v-5b",
        "ltx-video",
        "ltx-2",
    ]
    with_t2v = create_engine(
        {"family": "wan2.1-i2v", "weights": "/i2v", "text_to_video_weights": "/t2v"}, base_dir=Path("/")
    )
    assert with_t2v.capabilities.text_to_video


def test_creating_engines_imports_no_torch() -> None:
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from reelserve.engines.diffusers import create_engine\n"
        "engine = create_engine({'family': 'ltx-2', 'weights': '/models/ltx-2'}, base_dir=Path('/'))\n"
        "print(json.dumps([engine.capabilities.sound, 'torch' in sys.modules, 'diffusers' in sys.modules]))\n"
    )
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert json.loads(output) == [True, False, False]


@pytest.mark.parametrize(
    ("seconds", "fps", "multiple", "frames"),
    [
        (5, 16, 4, 81),
        (5, 24, 4, 121),
        (10, 16, 4, 161),
        (5, 24, 8, 121),
        (10, 24, 8, 241),
        (1, 8, 8, 9),
        (0.1, 8, 8, 9),
    ],
)
def test_duration_maps_to_the_frame_rule(seconds: float, fps: int, multiple: int, frames: int) -> None:
    assert frames_for_duration(seconds, fps, multiple) == frames
    assert (frames - 1) % multiple == 0


def test_long_segments_are_chained_in_passes_the_model_can_do() -> None:
    assert split_segment(5, 16, 4, max_frames=81) == [81]
    assert split_segment(10, 16, 4, max_frames=81) == [81, 81]
    assert split_segment(12, 24, 4, max_frames=121) == [97, 97, 97]
    assert split_segment(20, 24, 8, max_frames=257) == [241, 241]


def test_guidance_maps_linearly_around_the_family_default() -> None:
    assert map_guidance(None, 5.0) == 5.0
    assert map_guidance(0.0, 5.0) == 1.0
    assert map_guidance(0.5, 5.0) == 5.0
    assert map_guidance(1.0, 5.0) == 9.0
    assert map_guidance(0.25, 3.0) == 2.0
    assert map_guidance(0.9, 1.0) == 1.0


def test_sizes_for_bound_and_other_aspect_ratios() -> None:
    sizes = FAMILIES["wan2.2-ti2v-5b"].default_sizes
    assert resolve_size("16:9", sizes, 32) == (1280, 704)
    assert resolve_size("9:16", sizes, 32) == (704, 1280)
    width, height = resolve_size("4:3", sizes, 32)
    assert width % 32 == 0 and height % 32 == 0 and abs(width / height - 4 / 3) < 0.05
    with pytest.raises(InputError) as refused:
        resolve_size("4x3", sizes, 32)
    assert refused.value.param == "aspect_ratio"


def test_plan_for_a_real_binding() -> None:
    engine = create_engine({"family": "wan2.1-i2v", "weights": "/models/wan21"}, base_dir=Path("/"))
    request = GenerationRequest(
        prompt="p", segments=[Segment("one", 5), Segment("two", 10)], duration=15, aspect_ratio="9:16"
    )
    plan = plan_video(request, engine.settings)
    assert (plan.width, plan.height, plan.fps, plan.steps, plan.guidance_scale) == (480, 832, 16, 40, 5.0)
    assert [segment.num_frames for segment in plan.segments] == [81, 81, 81]
    assert [segment.prompt_index for segment in plan.segments] == [0, 1, 1]
    assert plan.frame_count == 243 and plan.negative_prompt  # Wan's own default negative prompt


def test_distilled_ltx_defaults_to_few_steps_without_guidance() -> None:
    engine = create_engine({"family": "ltx-video", "weights": "/m", "distilled": True}, base_dir=Path("/"))
    plan = plan_video(GenerationRequest("p", [], 5, "16:9", guidance_scale=0.9), engine.settings)
    assert (plan.steps, plan.guidance_scale, plan.fps) == (8, 1.0, 24)
    assert [segment.num_frames for segment in plan.segments] == [121]
