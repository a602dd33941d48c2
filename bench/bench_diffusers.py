"""Denoising speed of one diffusers family at its real architecture, stock settings vs reelserve's.

The model is built from its published configuration with random weights: nothing is downloaded, and
the arithmetic (and so the time and memory) is the real model's. Two settings run one after the other
on the same inputs:

- stock: what `from_pretrained(path).to("cuda")` gives, float32 and PyTorch's default attention;
- reelserve: the engine's own speed settings (bfloat16 with the family's float32 components, an
  attention backend, a diffusers cache hook, regional torch.compile, VAE tiling), applied by the same
  code the worker uses.

Each setting runs once untimed (warm-up: compilation, autotuning) and once measured. On a machine
without a GPU, `--small` runs a tiny configuration so the script itself is tested.

    python bench/bench_diffusers.py --family wan2.2-ti2v-5b --steps 20
    python bench/bench_diffusers.py --family ltx-video --width 832 --height 480 --frames 121
    python bench/bench_diffusers.py --small
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import string
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from reelserve.engines.diffusers.families import get_family
from reelserve.engines.diffusers.families.adapter import FamilyAdapter, SegmentInputs
from reelserve.engines.diffusers.mapping import frames_for_duration
from reelserve.engines.diffusers.options import BindingOptions
from reelserve.engines.diffusers.speedups import apply_speedups

PROMPT = "a red fox trots through fresh snow at sunrise, the camera tracking alongside"

# Published configurations (config.json of each component in the diffusers repositories).
UMT5_XXL = {
    "vocab_size": 256384,
    "d_model": 4096,
    "d_kv": 64,
    "d_ff": 10240,
    "num_layers": 24,
    "num_heads": 64,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "feed_forward_proj": "gated-gelu",
    "layer_norm_epsilon": 1e-6,
    "tie_word_embeddings": False,
}
T5_V1_1_XXL = {**UMT5_XXL, "vocab_size": 32128}
REAL = {
    # Wan-AI/Wan2.2-TI2V-5B-Diffusers
    "wan2.2-ti2v-5b": {
        "transformer": {
            "patch_size": [1, 2, 2],
            "num_attention_heads": 24,
            "attention_head_dim": 128,
            "in_channels": 48,
            "out_channels": 48,
            "text_dim": 4096,
            "freq_dim": 256,
            "ffn_dim": 14336,
            "num_layers": 30,
            "cross_attn_norm": True,
            "qk_norm": "rms_norm_across_heads",
            "eps": 1e-6,
            "rope_max_seq_len": 1024,
        },
        "vae": {
            "base_dim": 160,
            "decoder_base_dim": 256,
            "z_dim": 48,
            "dim_mult": [1, 2, 4, 4],
            "num_res_blocks": 2,
            "temperal_downsample": [False, True, True],
            "is_residual": True,
            "in_channels": 12,
            "out_channels": 12,
            "patch_size": 2,
            "scale_factor_spatial": 16,
            "scale_factor_temporal": 4,
            "latents_mean": [0.0] * 48,
            "latents_std": [1.0] * 48,
        },
        "text_encoder": UMT5_XXL,
    },
    # Lightricks/LTX-Video (2B, 0.9.x): the diffusers classes' defaults are this model's configuration.
    "ltx-video": {"transformer": {}, "vae": {}, "text_encoder": T5_V1_1_XXL},
}
# The same classes, shrunk to run on a CPU in seconds.
SMALL = {
    "wan2.2-ti2v-5b": {
        "transformer": {
            **REAL["wan2.2-ti2v-5b"]["transformer"],
            "num_attention_heads": 2,
            "attention_head_dim": 12,
            "text_dim": 32,
            "ffn_dim": 32,
            "num_layers": 2,
            "rope_max_seq_len": 32,
        },
        "vae": {
            **REAL["wan2.2-ti2v-5b"]["vae"],
            "base_dim": 3,
            "decoder_base_dim": None,
            "dim_mult": [1, 1, 1, 1],
            "num_res_blocks": 1,
        },
        "text_encoder": {
            **UMT5_XXL,
            "vocab_size": 128,
            "d_model": 32,
            "d_kv": 8,
            "d_ff": 37,
            "num_layers": 2,
            "num_heads": 4,
            "relative_attention_num_buckets": 8,
        },
    },
    "ltx-video": {
        "transformer": {
            "in_channels": 8,
            "out_channels": 8,
            "num_attention_heads": 4,
            "attention_head_dim": 8,
            "cross_attention_dim": 32,
            "num_layers": 2,
            "caption_channels": 32,
        },
        "vae": {
            "latent_channels": 8,
            "block_out_channels": (8, 8, 8, 8),
            "decoder_block_out_channels": (8, 8, 8, 8),
            "layers_per_block": (1, 1, 1, 1, 1),
            "decoder_layers_per_block": (1, 1, 1, 1, 1),
            "spatio_temporal_scaling": (True, True, False, False),
            "decoder_spatio_temporal_scaling": (True, True, False, False),
            "patch_size": 1,
        },
        "text_encoder": {
            **T5_V1_1_XXL,
            "vocab_size": 128,
            "d_model": 32,
            "d_kv": 8,
            "d_ff": 37,
            "num_layers": 2,
            "num_heads": 4,
            "relative_attention_num_buckets": 8,
        },
    },
}


@dataclass
class Measurement:
    setting: str
    dtype: str
    attention: str
    cache: str
    compile: str
    vae_tiling: bool
    warmup_seconds: float
    seconds_per_step: float
    denoise_seconds: float
    total_seconds: float
    peak_memory_gib: float
    step_seconds: list[float] = field(default_factory=list)


def _tokenizer(family: str) -> Any:
    """A small in-memory tokenizer of the class the pipeline expects; ids stay below any vocab size."""
    from tokenizers import Tokenizer, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import T5Tokenizer

    words = ["<pad>", "</s>", "<unk>", *PROMPT.replace(",", "").split(), *string.ascii_lowercase]
    backend = Tokenizer(WordLevel({word: index for index, word in enumerate(dict.fromkeys(words))}, "<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return T5Tokenizer(tokenizer_object=backend, extra_ids=0)


def build_pipeline(family: str, configs: dict[str, Any], device: torch.device, dtype: torch.dtype) -> Any:
    """The family's image-to-video pipeline, random weights of `configs`, created directly on `device`."""
    import diffusers
    import transformers

    float32_parts = get_family(family).float32_components
    previous_dtype = torch.get_default_dtype()

    def create(name: str, factory: Any, *args: Any, **kwargs: Any) -> Any:
        torch.set_default_dtype(torch.float32 if name in float32_parts else dtype)
        with torch.device(device):
            return factory(*args, **kwargs)

    try:
        torch.manual_seed(0)
        if family == "wan2.2-ti2v-5b":
            text_encoder = create(
                "text_encoder", transformers.UMT5EncoderModel, transformers.UMT5Config(**configs["text_encoder"])
            )
            return diffusers.WanImageToVideoPipeline(
                tokenizer=_tokenizer(family),
                text_encoder=text_encoder,
                vae=create("vae", diffusers.AutoencoderKLWan, **configs["vae"]),
                scheduler=diffusers.UniPCMultistepScheduler(
                    prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0
                ),
                transformer=create("transformer", diffusers.WanTransformer3DModel, **configs["transformer"]),
                expand_timesteps=True,
            )
        text_encoder = create(
            "text_encoder", transformers.T5EncoderModel, transformers.T5Config(**configs["text_encoder"])
        )
        return diffusers.LTXImageToVideoPipeline(
            tokenizer=_tokenizer(family),
            text_encoder=text_encoder,
            vae=create("vae", diffusers.AutoencoderKLLTXVideo, **configs["vae"]),
            scheduler=diffusers.FlowMatchEulerDiscreteScheduler(
                use_dynamic_shifting=True,
                base_shift=0.95,
                max_shift=2.05,
                base_image_seq_len=1024,
                max_image_seq_len=4096,
                shift_terminal=0.1,
            ),
            transformer=create("transformer", diffusers.LTXVideoTransformer3DModel, **configs["transformer"]),
        )
    finally:
        torch.set_default_dtype(previous_dtype)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_memory_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # the process's peak RSS so far


def run_pipeline(adapter: FamilyAdapter, inputs: SegmentInputs, device: torch.device) -> tuple[float, list[float]]:
    call = adapter.prepare_call(inputs)
    step_ends: list[float] = []

    def step_callback(pipeline: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        _synchronize(device)
        step_ends.append(time.perf_counter())
        return {}

    _synchronize(device)
    started = time.perf_counter()
    call.pipeline(**call.kwargs, callback_on_step_end=step_callback)
    _synchronize(device)
    return time.perf_counter() - started, [end - started for end in step_ends]


def measure(args: argparse.Namespace, setting: str, device: torch.device) -> Measurement:
    spec = get_family(args.family)
    reelserve = setting == "reelserve"
    options = BindingOptions(
        family=args.family,
        weights=Path("random-weights"),
        dtype="bfloat16" if reelserve and device.type == "cuda" else "float32",
        attention_backend=args.attention if reelserve else None,
        cache=_cache_option(args.cache) if reelserve else None,
        compile={} if reelserve and args.compile else None,
        vae_tiling=reelserve and args.vae_tiling,
    )
    dtype = getattr(torch, options.dtype)
    configs = (SMALL if args.small else REAL)[args.family]
    pipeline = build_pipeline(args.family, configs, device, dtype)
    pipeline.set_progress_bar_config(disable=True)
    adapter = spec.adapter(spec)
    adapter.image_to_video = pipeline
    apply_speedups(
        [pipeline], [pipeline.transformer], options, args.steps, lambda active=pipeline: active.current_timestep
    )

    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (args.height, args.width, 3), np.uint8))

    def inputs(steps: int) -> SegmentInputs:
        return SegmentInputs(
            prompt=PROMPT,
            negative_prompt=spec.default_negative_prompt,
            image=image,
            end_image=None,
            width=args.width,
            height=args.height,
            num_frames=args.frames,
            fps=spec.default_fps,
            steps=steps,
            guidance_scale=spec.default_guidance,
            generator=torch.Generator("cpu").manual_seed(0),
        )

    # The warm-up runs every step too: compiled graphs specialise on values that change per step.
    warmup_seconds, _ = run_pipeline(adapter, inputs(args.steps), device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    total, step_ends = run_pipeline(adapter, inputs(args.steps), device)
    step_seconds = np.diff(step_ends).tolist()
    result = Measurement(
        setting=setting,
        dtype=options.dtype,
        attention=options.attention_backend or "default (SDPA)",
        cache=f"{options.cache.type}" if options.cache else "none",
        compile="regional" if options.compile else "no",
        vae_tiling=options.vae_tiling,
        warmup_seconds=warmup_seconds,
        seconds_per_step=float(np.mean(step_seconds)) if step_seconds else step_ends[0],
        denoise_seconds=step_ends[-1],
        total_seconds=total,
        peak_memory_gib=_peak_memory_gib(device),
        step_seconds=step_seconds,
    )
    del adapter, pipeline
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def _cache_option(spec: str) -> dict[str, Any] | None:
    if spec == "none":
        return None
    kind, _, threshold = spec.partition(":")
    return {"type": kind, **({"threshold": float(threshold)} if threshold else {})}


def _best_attention_backend(device: torch.device) -> str:
    if device.type != "cuda":
        return "native"
    for module, backend in (("flash_attn_interface", "_flash_3"), ("flash_attn", "flash"), ("sageattention", "sage")):
        try:
            __import__(module)
            return backend
        except ImportError:
            continue
    return "_native_cudnn"


def print_table(results: list[Measurement], device: torch.device, args: argparse.Namespace) -> None:
    memory = "peak GPU GiB" if device.type == "cuda" else "peak RSS GiB"
    headers = [
        "setting",
        "dtype",
        "attention",
        "cache",
        "compile",
        "VAE tiling",
        "warm-up s",
        "s/step",
        "last step at s",
        "total s",
        memory,
    ]
    rows = [
        [
            r.setting,
            r.dtype,
            r.attention,
            r.cache,
            r.compile,
            "yes" if r.vae_tiling else "no",
            f"{r.warmup_seconds:.2f}",
            f"{r.seconds_per_step:.3f}",
            f"{r.denoise_seconds:.2f}",
            f"{r.total_seconds:.2f}",
            f"{r.peak_memory_gib:.2f}",
        ]
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    print(
        f"\n{args.family} ({'small configuration' if args.small else 'real configuration'}, random weights), "
        f"{args.width}x{args.height}, {args.frames} frames, {args.steps} steps on {_device_name(device)}\n"
    )
    for index, row in enumerate([headers, *rows]):
        print("| " + " | ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    by_name = {r.setting: r for r in results}
    if {"stock", "reelserve"} <= by_name.keys():
        stock, fast = by_name["stock"], by_name["reelserve"]
        print(
            f"\nreelserve vs stock: {stock.seconds_per_step / fast.seconds_per_step:.2f}x per step, "
            f"{stock.total_seconds / fast.total_seconds:.2f}x in total, "
            f"{fast.peak_memory_gib / stock.peak_memory_gib:.2f}x the memory"
        )
    if args.cache != "none":
        print(
            "(cache hooks skip work by comparing activations; with random weights their hit rate is not the "
            "real model's, so the per-step gain from the cache is indicative only)"
        )


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=sorted(REAL), default="wan2.2-ti2v-5b")
    parser.add_argument("--width", type=int)
    parser.add_argument("--height", type=int)
    parser.add_argument("--frames", type=int, help="frame count (the family's 4k+1 or 8k+1 rule)")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--settings", default="stock,reelserve", help="comma-separated: stock, reelserve")
    parser.add_argument("--attention", help="attention backend for reelserve's setting (default: best installed)")
    parser.add_argument("--cache", default="first_block_cache:0.1", help="TYPE[:THRESHOLD] or none")
    parser.add_argument("--no-compile", dest="compile", action="store_false")
    parser.add_argument("--no-vae-tiling", dest="vae_tiling", action="store_false")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--small", action="store_true", help="tiny configuration, for CPU-only machines")
    parser.add_argument("--json", type=Path, help="also write the measurements to this file")
    args = parser.parse_args(argv)
    spec = get_family(args.family)
    default_width, default_height = (64, 64) if args.small else spec.default_sizes["16:9"]
    args.width = args.width or default_width
    args.height = args.height or default_height
    seconds = 1 if args.small else 5
    args.frames = args.frames or frames_for_duration(
        seconds, 8 if args.small else spec.default_fps, spec.frame_multiple
    )
    args.steps = args.steps or (3 if args.small else 20)
    if args.steps < 2:
        parser.error("--steps must be at least 2 (seconds per step are measured between steps)")
    return args


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before diffusers and transformers are imported
    args = parse_args(argv)
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    if device.type == "cpu" and not args.small:
        print("no GPU: the real configuration would take hours on a CPU; pass --small", file=sys.stderr)
        return 2
    args.attention = args.attention or _best_attention_backend(device)
    results = []
    for setting in [name.strip() for name in args.settings.split(",") if name.strip()]:
        if setting not in ("stock", "reelserve"):
            print(f"unknown setting {setting!r}", file=sys.stderr)
            return 2
        print(f"running {setting} ...", file=sys.stderr, flush=True)
        results.append(measure(args, setting, device))
    print_table(results, device, args)
    if args.json:
        payload = {
            "family": args.family,
            "small": args.small,
            "width": args.width,
            "height": args.height,
            "frames": args.frames,
            "steps": args.steps,
            "device": _device_name(device),
            "results": [asdict(result) for result in results],
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
