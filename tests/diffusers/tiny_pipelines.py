"""Tiny random-weight pipelines of the real diffusers classes, saved as the engine loads real ones.

Sized the way diffusers' own fast tests size them (2-layer transformers, VAEs with base_dim 3, text
encoders with d_model 32); configs are built in code and tokenizers in memory with the `tokenizers`
library, so nothing is downloaded. `build_tiny_pipeline(family, path)` writes a diffusers-format
directory (model_index.json plus one folder per component) that `from_pretrained(path)` loads.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
from tokenizers.models import Unigram

TINY_FAMILIES = ("wan2.1-i2v", "wan2.2-ti2v-5b", "wan2.2-i2v-a14b", "ltx-video", "ltx-2")

_WORDS = (
    *("a", "an", "the", "of", "and", "in", "on", "with", "at", "over", "under", "slowly", "quickly"),
    *("camera", "pans", "zooms", "robot", "cat", "dog", "person", "dances", "dancing", "walks", "walking"),
    *("runs", "running", "beach", "city", "street", "forest", "night", "day", "sunset", "rain", "snow"),
)


def _unigram_backend(special_tokens: list[str], unk_token: str) -> Tokenizer:
    """A SentencePiece-style Unigram tokenizer: whole words, then single characters as fallback."""
    pieces = [*special_tokens, "▁", *(f"▁{word}" for word in _WORDS), *string.ascii_lowercase, *string.digits]
    vocab = [(piece, 0.0 if piece in special_tokens else -1.0 - index / 100) for index, piece in enumerate(pieces)]
    backend = Tokenizer(Unigram(vocab, unk_id=special_tokens.index(unk_token), byte_fallback=False))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return backend


def _t5_tokenizer() -> Any:
    from transformers import T5Tokenizer

    return T5Tokenizer(tokenizer_object=_unigram_backend(["<pad>", "</s>", "<unk>"], "<unk>"), extra_ids=0)


def _gemma_tokenizer() -> Any:
    from transformers import GemmaTokenizer

    special = ["<pad>", "<eos>", "<bos>", "<unk>"]
    backend = _unigram_backend(special, "<unk>")
    backend.post_processor = processors.TemplateProcessing(
        single="<bos> $A", special_tokens=[("<bos>", special.index("<bos>"))]
    )
    return GemmaTokenizer(
        tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>", unk_token="<unk>"
    )


def _umt5_encoder(vocab_size: int) -> Any:
    from transformers import UMT5Config, UMT5EncoderModel

    config = UMT5Config(
        vocab_size=vocab_size,
        d_model=32,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
    )
    return UMT5EncoderModel(config)


def _wan_transformer(
    in_channels: int, out_channels: int, image_dim: int | None = None, pos_embed_seq_len: int | None = None
) -> Any:
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=in_channels,
        out_channels=out_channels,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
        image_dim=image_dim,
        pos_embed_seq_len=pos_embed_seq_len,
    )


def _wan_scheduler() -> Any:
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)


def _wan21_i2v(first_last_frame: bool = False) -> Any:
    from diffusers import AutoencoderKLWan, WanImageToVideoPipeline
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    tokenizer = _t5_tokenizer()
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    vision_config = CLIPVisionConfig(
        hidden_size=4,
        projection_dim=4,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=32,
        intermediate_size=16,
        patch_size=1,
    )
    image_tokens = (vision_config.image_size // vision_config.patch_size) ** 2 + 1
    # The FLF2V checkpoint embeds the first and last image side by side with a learned position embedding.
    pos_embed_seq_len = 2 * image_tokens if first_last_frame else None
    return WanImageToVideoPipeline(
        tokenizer=tokenizer,
        text_encoder=_umt5_encoder(len(tokenizer)),
        vae=vae,
        scheduler=_wan_scheduler(),
        image_processor=CLIPImageProcessor(crop_size=32, size=32),
        image_encoder=CLIPVisionModel(vision_config),
        transformer=_wan_transformer(in_channels=36, out_channels=16, image_dim=4, pos_embed_seq_len=pos_embed_seq_len),
    )


def _wan22_ti2v_5b() -> Any:
    from diffusers import AutoencoderKLWan, WanPipeline

    tokenizer = _t5_tokenizer()
    vae = AutoencoderKLWan(
        base_dim=3,
        z_dim=48,
        in_channels=12,
        out_channels=12,
        is_residual=True,
        patch_size=2,
        latents_mean=[0.0] * 48,
        latents_std=[1.0] * 48,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        scale_factor_spatial=16,
        scale_factor_temporal=4,
        temperal_downsample=[False, True, True],
    )
    # The published Wan2.2-TI2V-5B-Diffusers repository is saved as a WanPipeline; so is this one.
    return WanPipeline(
        tokenizer=tokenizer,
        text_encoder=_umt5_encoder(len(tokenizer)),
        vae=vae,
        scheduler=_wan_scheduler(),
        transformer=_wan_transformer(in_channels=48, out_channels=48),
        expand_timesteps=True,
    )


def _wan22_i2v_a14b() -> Any:
    from diffusers import AutoencoderKLWan, WanImageToVideoPipeline

    tokenizer = _t5_tokenizer()
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    transformer = _wan_transformer(in_channels=36, out_channels=16)
    torch.manual_seed(1)
    transformer_2 = _wan_transformer(in_channels=36, out_channels=16)
    return WanImageToVideoPipeline(
        tokenizer=tokenizer,
        text_encoder=_umt5_encoder(len(tokenizer)),
        vae=vae,
        scheduler=_wan_scheduler(),
        transformer=transformer,
        transformer_2=transformer_2,
        boundary_ratio=0.875,
    )


def _wan_text_to_video(two_experts: bool) -> Any:
    """Wan's text-to-video checkpoints (Wan2.1-T2V, Wan2.2-T2V-A14B): 16 latent channels in, no image."""
    from diffusers import AutoencoderKLWan, WanPipeline

    tokenizer = _t5_tokenizer()
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    return WanPipeline(
        tokenizer=tokenizer,
        text_encoder=_umt5_encoder(len(tokenizer)),
        vae=vae,
        scheduler=_wan_scheduler(),
        transformer=_wan_transformer(in_channels=16, out_channels=16),
        transformer_2=_wan_transformer(in_channels=16, out_channels=16) if two_experts else None,
        boundary_ratio=0.875 if two_experts else None,
    )


def _ltx_video() -> Any:
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    tokenizer = _t5_tokenizer()
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=2,
        caption_channels=32,
    )
    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    text_encoder = T5EncoderModel(
        T5Config(
            vocab_size=len(tokenizer),
            d_model=32,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
        )
    )
    # LTX-Video repositories are published as LTXPipeline; the engine derives the I2V and condition pipelines.
    return LTXPipeline(
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
    )


def _gemma3_encoder(vocab_size: int) -> Any:
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3TextConfig, SiglipVisionConfig

    text_config = Gemma3TextConfig(
        vocab_size=vocab_size + 8,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=8,
        sliding_window=64,
        max_position_embeddings=256,
    )
    vision_config = SiglipVisionConfig(
        hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=16, patch_size=4
    )
    config = Gemma3Config(
        text_config=text_config,
        vision_config=vision_config,
        mm_tokens_per_image=4,
        boi_token_index=vocab_size + 1,
        eoi_token_index=vocab_size + 2,
        image_token_index=vocab_size + 3,
    )
    return Gemma3ForConditionalGeneration(config)


def _ltx2() -> Any:
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2Pipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

    tokenizer = _gemma_tokenizer()
    text_encoder = _gemma3_encoder(len(tokenizer))
    text_hidden = text_encoder.config.text_config.hidden_size
    transformer = LTX2VideoTransformer3DModel(
        in_channels=4,
        out_channels=4,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        audio_in_channels=4,
        audio_out_channels=4,
        audio_num_attention_heads=2,
        audio_attention_head_dim=4,
        audio_cross_attention_dim=8,
        num_layers=2,
        qk_norm="rms_norm_across_heads",
        caption_channels=text_hidden,
        rope_double_precision=False,
        rope_type="split",
    )
    connectors = LTX2TextConnectors(
        caption_channels=text_hidden,
        text_proj_in_factor=text_encoder.config.text_config.num_hidden_layers + 1,
        video_connector_num_attention_heads=4,
        video_connector_attention_head_dim=8,
        video_connector_num_layers=1,
        video_connector_num_learnable_registers=None,
        audio_connector_num_attention_heads=4,
        audio_connector_attention_head_dim=8,
        audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=None,
        connector_rope_base_seq_len=32,
        rope_theta=10000.0,
        rope_double_precision=False,
        causal_temporal_positioning=False,
        rope_type="split",
    )
    # diffusers' test VAE with the real model's 4x4 patching and a spatio-temporal level: 8x spatial and
    # 2x temporal compression keep the token count (and the CPU time) small.
    vae = AutoencoderKLLTX2Video(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(8,),
        decoder_block_out_channels=(8,),
        layers_per_block=(1, 1),
        decoder_layers_per_block=(1, 1),
        spatio_temporal_scaling=(True,),
        decoder_spatio_temporal_scaling=(True,),
        decoder_inject_noise=(False, False),
        downsample_type=("spatiotemporal",),
        upsample_type=("spatiotemporal",),
        upsample_residual=(False,),
        upsample_factor=(1,),
        timestep_conditioning=False,
        patch_size=4,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    audio_vae = AutoencoderKLLTX2Audio(
        base_channels=4,
        output_channels=2,
        ch_mult=(1,),
        num_res_blocks=1,
        attn_resolutions=None,
        in_channels=2,
        resolution=32,
        latent_channels=2,
        norm_type="pixel",
        causality_axis="height",
        dropout=0.0,
        mid_block_add_attention=False,
        sample_rate=16000,
        mel_hop_length=160,
        is_causal=True,
        mel_bins=8,
    )
    # Upsampling by 160 = mel_hop_length, so the waveform lasts as long as the video, as in the real vocoder.
    vocoder = LTX2Vocoder(
        in_channels=audio_vae.config.output_channels * audio_vae.config.mel_bins,
        hidden_channels=32,
        out_channels=2,
        upsample_kernel_sizes=[16, 40],
        upsample_factors=[8, 20],
        resnet_kernel_sizes=[3],
        resnet_dilations=[[1, 3, 5]],
        leaky_relu_negative_slope=0.1,
        output_sampling_rate=16000,
    )
    return LTX2Pipeline(
        transformer=transformer,
        vae=vae,
        audio_vae=audio_vae,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        connectors=connectors,
        vocoder=vocoder,
    )


_BUILDERS: dict[str, Callable[[], Any]] = {
    "wan2.1-i2v": _wan21_i2v,
    "wan2.1-flf2v": lambda: _wan21_i2v(first_last_frame=True),
    "wan2.1-t2v": lambda: _wan_text_to_video(two_experts=False),
    "wan2.2-t2v-a14b": lambda: _wan_text_to_video(two_experts=True),
    "wan2.2-ti2v-5b": _wan22_ti2v_5b,
    "wan2.2-i2v-a14b": _wan22_i2v_a14b,
    "ltx-video": _ltx_video,
    "ltx-2": _ltx2,
}


def build_tiny_pipeline(family: str, path: Path) -> None:
    """Write a tiny random-weight pipeline of `family`'s real classes to `path` (diffusers format).

    `family` is a binding family name, or one of the checkpoints bound next to one: "wan2.1-flf2v"
    (wan2.1-i2v's first-and-last-frame checkpoint), "wan2.1-t2v" and "wan2.2-t2v-a14b" (the
    `text_to_video_weights` of wan2.1-i2v and wan2.2-i2v-a14b).
    """
    if family not in _BUILDERS:
        raise ValueError(f"no tiny pipeline for family {family!r}; known: {', '.join(_BUILDERS)}")
    torch.manual_seed(0)
    pipeline = _BUILDERS[family]()
    pipeline.save_pretrained(str(path))


# The attention projections of the Wan and LTX transformers, which published LoRAs adapt.
ATTENTION_PROJECTIONS = ("to_q", "to_k", "to_v", "to_out.0")


def build_tiny_lora(
    weights: Path,
    path: Path,
    component: str = "transformer",
    target_modules: tuple[str, ...] = ATTENTION_PROJECTIONS,
    rank: int = 4,
    seed: int = 0,
    scale: float = 0.5,
) -> Path:
    """Write a LoRA for `component` of the tiny pipeline at `weights` and return its safetensors file.

    A peft LoraConfig is attached to the component with diffusers' `add_adapter`, every LoRA matrix gets
    random values (a fresh LoRA's B matrices are zero, which would change nothing), and the pipeline
    class's `save_lora_weights` writes `path/pytorch_lora_weights.safetensors`, the file `load_lora_weights`
    reads. The keys carry the `transformer.` prefix whichever expert the LoRA was made for, as the
    published per-expert Wan 2.2 LoRAs do.
    """
    import json

    import diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipeline_class = getattr(diffusers, json.loads((weights / "model_index.json").read_text())["_class_name"])
    model_class = getattr(diffusers, json.loads((weights / component / "config.json").read_text())["_class_name"])
    model = model_class.from_pretrained(str(weights / component))
    model.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=list(target_modules)))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
    pipeline_class.save_lora_weights(str(path), transformer_lora_layers=get_peft_model_state_dict(model))
    return path / "pytorch_lora_weights.safetensors"
