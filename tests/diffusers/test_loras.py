"""LoRAs bound to a route (`loras`, `fuse_loras`), with real peft LoRAs made offline for the tiny pipelines.

The LoRA's effect and a broken LoRA's failure go through the engine (create_engine, start, generate).
The comparisons between bindings (fused or not, weight 0, the second Wan 2.2 expert) load the worker's
own PipelineRuntime in this process, which runs the same code as the worker without a process start
per binding.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from reelserve.engines.base import EngineError
from reelserve.engines.diffusers import DiffusersEngine, create_engine
from tests.diffusers.conftest import binding
from tests.diffusers.test_families import request, run
from tests.diffusers.tiny_pipelines import build_tiny_lora

pytest.importorskip("peft")

TI2V = "wan2.2-ti2v-5b"
A14B = "wan2.2-i2v-a14b"

WeightsFor = Callable[[str], Path]


@pytest.fixture(scope="module")
def loras(tiny_weights: WeightsFor, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """LoRA files: one for the TI2V transformer, one per A14B expert, and three that fit nothing."""
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("loras")
    files = {
        "ti2v": build_tiny_lora(tiny_weights(TI2V), root / "ti2v"),
        "a14b-high": build_tiny_lora(tiny_weights(A14B), root / "a14b-high", component="transformer", seed=1),
        "a14b-low": build_tiny_lora(tiny_weights(A14B), root / "a14b-low", component="transformer_2", seed=2),
    }
    misfits = {
        # Keys of another kind of model altogether (a UNet's), which diffusers skips with only a warning.
        "unet": {"unet.down.lora_A.weight": torch.ones(4, 24), "unet.down.lora_B.weight": torch.ones(24, 4)},
        # The transformer's namespace, layers it does not have.
        "other-layers": {
            "transformer.nowhere.lora_A.weight": torch.ones(4, 24),
            "transformer.nowhere.lora_B.weight": torch.ones(24, 4),
        },
        # Its layers at another model's width (a 14B LoRA on a smaller model).
        "other-width": {
            "transformer.blocks.0.attn1.to_q.lora_A.weight": torch.ones(4, 5120),
            "transformer.blocks.0.attn1.to_q.lora_B.weight": torch.ones(5120, 4),
        },
    }
    for name, tensors in misfits.items():
        files[name] = root / f"{name}.safetensors"
        save_file(tensors, files[name])
    return files


@pytest.fixture(scope="module")
def bound(
    started_engine: Callable[[str], DiffusersEngine], tiny_weights: WeightsFor, loras: dict[str, Path]
) -> Iterator[dict[str, DiffusersEngine]]:
    """Started engines of TI2V bindings: with a LoRA, with a LoRA that fits nothing, and without."""
    weights = tiny_weights(TI2V)
    engines = {
        # The directory save_lora_weights wrote, as `path`.
        "lora": create_engine(binding(TI2V, weights, loras=[{"path": str(loras["ti2v"].parent)}]), base_dir=Path.cwd()),
        "misfit": create_engine(binding(TI2V, weights, loras=[{"path": str(loras["unet"])}]), base_dir=Path.cwd()),
    }
    try:
        for engine in engines.values():
            engine.start()  # loads in the background...
        yield {**engines, "plain": started_engine(TI2V)}  # ...while the shared engine without LoRAs loads too
    finally:
        for engine in engines.values():
            engine.close()


def render(options: dict[str, Any], tmp_path: Path, **fields: Any) -> tuple[Any, np.ndarray]:
    """The worker's runtime for a binding, loaded in this process, and the frames of one job on it."""
    from reelserve.engines.diffusers.messages import Job
    from reelserve.engines.diffusers.pipeline_runtime import PipelineRuntime

    engine = create_engine(options, base_dir=Path.cwd())  # not started: only its options and plan
    runtime = PipelineRuntime(engine.options)
    runtime.load()
    job_request = request(**fields)
    job = Job(
        job_id=uuid.uuid4().hex,
        plan=engine.plan(job_request),
        image=job_request.image,
        end_image=None,
        seed=job_request.seed,
        want_audio=False,
        output_dir=str(tmp_path),
    )
    done = runtime.run(job, on_step=lambda steps: None, stop_requested=lambda: False)
    return runtime, np.load(done.frames_path).astype(np.int16)


def lora_layers(module: torch.nn.Module) -> int:
    from peft.tuners.tuners_utils import BaseTunerLayer

    return sum(isinstance(layer, BaseTunerLayer) for layer in module.modules())


def test_a_bound_lora_changes_the_video(bound: dict[str, DiffusersEngine]) -> None:
    video, with_lora, progress = run(bound["lora"], request())
    _, plain, _ = run(bound["plain"], request())
    assert video.frame_count == 9 and with_lora.shape == plain.shape == (9, 32, 64, 3)
    assert progress[-1] == 1.0
    # Same seed, prompt and image: only the LoRA differs, and it shows.
    assert np.abs(with_lora.astype(np.int16) - plain.astype(np.int16)).mean() > 2.0


def test_a_lora_that_fits_nothing_fails_the_load_naming_it(
    bound: dict[str, DiffusersEngine], loras: dict[str, Path], tiny_weights: WeightsFor
) -> None:
    with pytest.raises(EngineError) as failure:
        run(bound["misfit"], request())
    message = str(failure.value)
    assert message.startswith(f"could not load the {TI2V} pipeline from {tiny_weights(TI2V)}")
    assert f"LoRA {loras['unet']} has no weights for the transformer of {TI2V}" in message


def test_a_missing_lora_fails_the_start(tiny_weights: WeightsFor, tmp_path: Path) -> None:
    engine = create_engine(
        binding(TI2V, tiny_weights(TI2V), loras=[{"path": "loras/gone.safetensors"}]), base_dir=tmp_path
    )
    missing = tmp_path / "loras" / "gone.safetensors"
    with pytest.raises(EngineError, match=re.escape(f"LoRA weights {missing} do not exist")):
        engine.start()
    assert engine.worker_pid is None


def test_fused_and_unfused_loras_give_the_same_video(
    tiny_weights: WeightsFor, loras: dict[str, Path], tmp_path: Path
) -> None:
    weights = tiny_weights(TI2V)
    lora = {"path": str(loras["ti2v"]), "weight": 0.8}
    _, plain = render(binding(TI2V, weights), tmp_path)
    fused_runtime, fused = render(binding(TI2V, weights, loras=[lora]), tmp_path)
    unfused_runtime, unfused = render(binding(TI2V, weights, loras=[lora], fuse_loras=False), tmp_path)

    # Fused: the LoRA is in the weights and its layers are gone. Unfused: adapters on the shared transformer.
    assert lora_layers(fused_runtime.adapter.image_to_video.transformer) == 0
    # 2 blocks x 2 attentions x 4 projections.
    assert lora_layers(unfused_runtime.adapter.image_to_video.transformer) == 2 * 2 * 4
    assert unfused_runtime.adapter.text_to_video.transformer is unfused_runtime.adapter.image_to_video.transformer
    assert np.abs(fused - plain).mean() > 2.0
    assert np.abs(fused - unfused).max() <= 2


def test_a_lora_at_weight_zero_changes_nothing(
    tiny_weights: WeightsFor, loras: dict[str, Path], tmp_path: Path
) -> None:
    weights = tiny_weights(TI2V)
    _, plain = render(binding(TI2V, weights), tmp_path, image=None)
    _, zero = render(binding(TI2V, weights, loras=[{"path": str(loras["ti2v"]), "weight": 0.0}]), tmp_path, image=None)
    _, full = render(binding(TI2V, weights, loras=[{"path": str(loras["ti2v"])}]), tmp_path, image=None)
    # Text to video too goes through the LoRA: it shares the transformer.
    assert np.abs(full - plain).mean() > 2.0
    assert np.array_equal(zero, plain)


def test_a14b_loras_go_into_their_experts(tiny_weights: WeightsFor, loras: dict[str, Path], tmp_path: Path) -> None:
    from diffusers import WanTransformer3DModel

    weights = tiny_weights(A14B)
    low = {"path": str(loras["a14b-low"]), "target": "transformer_2"}
    _, plain = render(binding(A14B, weights), tmp_path)
    runtime, low_only = render(binding(A14B, weights, loras=[low]), tmp_path)

    # Fused into the low-noise expert alone.
    pipeline = runtime.adapter.image_to_video
    for component, changed in (("transformer", False), ("transformer_2", True)):
        original = WanTransformer3DModel.from_pretrained(str(weights / component)).state_dict()
        loaded = getattr(pipeline, component).state_dict()
        assert set(loaded) == set(original)
        differs = {name for name, tensor in loaded.items() if not torch.equal(tensor, original[name])}
        if changed:
            # The weights of to_q, to_k, to_v and to_out.0 of every attention.
            assert len(differs) == 2 * 2 * 4
            assert {name.rsplit(".", 2)[-2] for name in differs} == {"to_q", "to_k", "to_v", "0"}
            assert all(name.endswith(".weight") for name in differs)
        else:
            assert not differs
    # The low-noise expert runs the second of the two steps only: a smaller, still visible change.
    assert np.abs(low_only - plain).mean() > 0.25

    # One LoRA per expert, left unfused: each adapter in its own expert.
    high = {"path": str(loras["a14b-high"]), "weight": 0.5}
    runtime, both = render(binding(A14B, weights, loras=[high, low], fuse_loras=False), tmp_path)
    pipeline = runtime.adapter.image_to_video
    assert pipeline.get_list_adapters() == {"transformer": ["reelserve_lora_0"], "transformer_2": ["reelserve_lora_1"]}
    assert np.abs(both - low_only).mean() > 0.25
    # Fused, each into its expert: the same video.
    _, both_fused = render(binding(A14B, weights, loras=[high, low]), tmp_path)
    assert np.abs(both_fused - both).max() <= 2


@pytest.mark.parametrize(
    ("misfit", "message"),
    [
        ("unet", "has no weights for the transformer of wan2.2-ti2v-5b: none of its keys names one of its layers"),
        ("other-layers", "NoMatchingPeftModuleError: Target modules {'nowhere'} not found"),
        ("other-width", "size mismatch for blocks.0.attn1.to_q.lora_A"),
    ],
)
def test_loras_that_do_not_fit_fail_the_load(
    misfit: str, message: str, tiny_weights: WeightsFor, loras: dict[str, Path]
) -> None:
    from reelserve.engines.diffusers.pipeline_runtime import PipelineRuntime

    engine = create_engine(binding(TI2V, tiny_weights(TI2V), loras=[{"path": str(loras[misfit])}]), base_dir=Path.cwd())
    with pytest.raises(ValueError, match=f"^LoRA {re.escape(str(loras[misfit]))} ") as failure:
        PipelineRuntime(engine.options).load()
    assert message in str(failure.value)
    assert "\n" not in str(failure.value)  # the job's error keeps the first line only
