"""The binding's speed settings applied to loaded pipelines: VAE tiling, attention backend, cache hooks,
torch.compile. Worker-side (imports torch); the benchmark applies the same functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .options import BindingOptions, CacheOptions, CompileOptions, cache_hook_kwargs


def enable_vae_tiling(pipelines: list[Any]) -> None:
    vaes = {id(pipeline.vae): pipeline.vae for pipeline in pipelines}
    for vae in vaes.values():
        vae.enable_tiling()


def set_attention_backend(denoisers: list[Any], backend: str) -> None:
    from diffusers.models.attention_dispatch import AttentionBackendName

    known = [name.value for name in AttentionBackendName if not name.value.endswith("_hub")]
    if backend not in known:
        raise ValueError(f"unknown attention backend {backend!r}; local backends: {', '.join(known)}")
    for denoiser in denoisers:
        denoiser.set_attention_backend(backend)


def enable_cache(denoisers: list[Any], cache: CacheOptions, steps: int, current_timestep: Callable[[], Any]) -> None:
    from diffusers import hooks

    config_classes = {
        "first_block_cache": hooks.FirstBlockCacheConfig,
        "mag_cache": hooks.MagCacheConfig,
        "taylorseer_cache": hooks.TaylorSeerCacheConfig,
        "faster_cache": hooks.FasterCacheConfig,
        "pyramid_attention_broadcast": hooks.PyramidAttentionBroadcastConfig,
        "sea_cache": hooks.SeaCacheConfig,
    }
    kwargs = cache_hook_kwargs(cache)
    if cache.type in ("faster_cache", "pyramid_attention_broadcast"):
        kwargs["current_timestep_callback"] = current_timestep
    if cache.type == "faster_cache":
        # FasterCache's unconditional-branch reuse needs CFG batched into one forward pass; these
        # pipelines run the two branches as separate passes, so only its attention reuse applies.
        kwargs["is_guidance_distilled"] = True
    if cache.type == "mag_cache":
        kwargs["num_inference_steps"] = steps
    for denoiser in denoisers:
        denoiser.enable_cache(config_classes[cache.type](**kwargs))


def reset_caches(denoisers: list[Any]) -> None:
    for denoiser in denoisers:
        if getattr(denoiser, "is_cache_enabled", False):
            denoiser._reset_stateful_cache()


def compile_denoisers(denoisers: list[Any], options: CompileOptions, with_cache_hooks: bool = False) -> None:
    fullgraph = options.fullgraph if options.fullgraph is not None else not with_cache_hooks
    kwargs: dict[str, Any] = {"fullgraph": fullgraph}
    if options.mode:
        kwargs["mode"] = options.mode
    if options.dynamic is not None:
        kwargs["dynamic"] = options.dynamic
    for denoiser in denoisers:
        if options.scope == "regional":
            denoiser.compile_repeated_blocks(**kwargs)
        else:
            denoiser.compile(**kwargs)


def apply_speedups(
    pipelines: list[Any],
    denoisers: list[Any],
    options: BindingOptions,
    steps: int,
    current_timestep: Callable[[], Any],
) -> None:
    """Everything the binding asks for, in the order that works: hooks before compilation."""
    if options.vae_tiling:
        enable_vae_tiling(pipelines)
    if options.attention_backend:
        set_attention_backend(denoisers, options.attention_backend)
    if options.cache is not None:
        enable_cache(denoisers, options.cache, steps, current_timestep)
    if options.compile is not None:
        compile_denoisers(denoisers, options.compile, with_cache_hooks=options.cache is not None)
