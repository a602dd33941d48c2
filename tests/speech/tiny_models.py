"""Tiny random-weight VibeVoice and Pocket TTS checkpoints of the real transformers classes, built from
configs and saved with save_pretrained, as the speech backends load real ones.

Sized like transformers' own fast tests (2-layer backbones of width 32, convolutional codecs with a few
filters) but with the released models' audio frame sizes (3,200 samples a frame for VibeVoice, 1,920 for
Pocket TTS, at 24 kHz). Tokenizers are built in memory with the `tokenizers` library, a character per
token. Random weights would stop speaking at a random step; so that the tests know how long a line lasts,
each model is made to speak until its budget (the stop logits are pinned), as a real model speaks a line
that fills its window to the end, and VibeVoice's latent scale is set so that its random codec is audible.
"""

from __future__ import annotations

import string
from pathlib import Path

import torch
from tokenizers import AddedToken, Tokenizer, pre_tokenizers
from tokenizers.models import WordLevel

_CHARACTERS = [*string.ascii_letters, *string.digits, *" .,:;!?'\"-\n", "你", "好"]

VIBEVOICE_CHAT_TEMPLATE = (
    "{{- ' Transform the text provided by various speakers into speech output, utilizing the distinct voice of "
    "each respective speaker.\\n' -}}"
    "{%- set ns = namespace(voiced='') -%}"
    "{%- for message in messages -%}"
    "{%- if (message['content'] | selectattr('type', 'equalto', 'audio') | list) "
    "and (message['role'] ~ ',') not in ns.voiced -%}{%- set ns.voiced = ns.voiced ~ message['role'] ~ ',' -%}"
    "{%- endif -%}{%- endfor -%}"
    "{%- if ns.voiced %} Voice input:\n"
    "{% for speaker in ns.voiced.rstrip(',').split(',') %} Speaker {{ speaker }}:"
    "<|vision_start|><|vision_pad|><|vision_end|>\n{% endfor -%}{%- endif %} Text input:\n"
    "{% for message in messages %}{% for item in message['content'] | selectattr('type', 'equalto', 'text') %}"
    " Speaker {{ message['role'] }}: {{ item['text'] }}\n{% endfor %}{% endfor %} Speech output:\n<|vision_start|>"
)

POCKET_TTS_CHAT_TEMPLATE = (
    "{%- for message in messages -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'audio' -%}<|voice_bos|><|voice|>{%- endif -%}{%- endfor -%}"
    "{%- for item in message['content'] -%}{%- if item['type'] == 'text' -%}{{ item['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endfor -%}<|audio_bos|>"
)


def _character_tokenizer(specials: list[str]) -> tuple[Tokenizer, int]:
    vocab = {token: index for index, token in enumerate([*specials, "[UNK]", *_CHARACTERS])}
    backend = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    backend.add_special_tokens([AddedToken(token, special=True) for token in specials])
    return backend, len(vocab)


def build_tiny_vibevoice(path: Path) -> None:
    from transformers import (
        Qwen2TokenizerFast,
        VibeVoiceAcousticTokenizerFeatureExtractor,
        VibeVoiceConfig,
        VibeVoiceForConditionalGeneration,
        VibeVoiceProcessor,
    )

    # The audio token first: with its stop logits pinned equal, greedy decoding picks the lowest id.
    specials = ["<|vision_pad|>", "<|endoftext|>", "<|vision_start|>", "<|vision_end|>"]
    backend, vocab_size = _character_tokenizer(specials)
    tokenizer = Qwen2TokenizerFast(
        tokenizer_object=backend, eos_token="<|endoftext|>", pad_token="<|endoftext|>", unk_token="[UNK]"
    )
    codec = {"kernel_size": 3, "num_filters": 4, "downsampling_ratios": [8, 20, 20], "depths": [1, 1, 1, 1]}
    config = VibeVoiceConfig(
        text_config={"model_type": "qwen2", "hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
                     "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": vocab_size,
                     "max_position_embeddings": 4096},
        audio_config={"model_type": "vibevoice_acoustic_tokenizer", "hidden_size": 16, **codec},
        semantic_model_config={"model_type": "vibevoice_acoustic_tokenizer_encoder", "hidden_size": 32, **codec},
        diffusion_head_config={"num_hidden_layers": 1, "intermediate_size": 37},
        pad_token_id=1, eos_token_id=1, audio_token_id=0, audio_bos_token_id=2, audio_eos_token_id=3,
    )
    torch.manual_seed(0)
    model = VibeVoiceForConditionalGeneration(config).eval()
    with torch.no_grad():
        model.lm_head.weight[:4] = 0.0
        # The random codec decodes latents of unit scale to about -110 dBFS; a real one is trained to speak up.
        model.model.latent_scaling_factor.fill_(1e-4)
    model.save_pretrained(path)
    feature_extractor = VibeVoiceAcousticTokenizerFeatureExtractor(sampling_rate=24_000, pad_to_multiple_of=3200)
    VibeVoiceProcessor(
        feature_extractor=feature_extractor, tokenizer=tokenizer, chat_template=VIBEVOICE_CHAT_TEMPLATE
    ).save_pretrained(path)


def build_tiny_pocket_tts(path: Path) -> None:
    from transformers import (
        PocketTTSAudioTokenizerConfig,
        PocketTTSAudioTokenizerModel,
        PocketTTSConfig,
        PocketTTSFeatureExtractor,
        PocketTTSForConditionalGeneration,
        PocketTTSProcessor,
    )
    from transformers.tokenization_utils_tokenizers import TokenizersBackend

    specials = ["<pad>", "<|voice_bos|>", "<|voice|>", "<|audio_bos|>", "<|audio|>"]
    backend, vocab_size = _character_tokenizer(specials)
    tokenizer = TokenizersBackend(
        tokenizer_object=backend, pad_token="<pad>", unk_token="[UNK]",
        extra_special_tokens={"audio_prompt_bos_token": "<|voice_bos|>", "audio_prompt_token": "<|voice|>",
                              "audio_bos_token": "<|audio_bos|>", "audio_latent_token": "<|audio|>"},
    )
    codec_config = PocketTTSAudioTokenizerConfig(
        hidden_size=16, num_filters=4, upsampling_ratios=[4, 4, 4], num_hidden_layers=1, intermediate_size=32,
        num_attention_heads=2, num_key_value_heads=2, upsample_groups=16, latent_stride=30, latent_dim=8,
    )
    torch.manual_seed(0)
    # The audio tokenizer lives beside the model, as the released checkpoint's processor points at it.
    PocketTTSAudioTokenizerModel(codec_config).eval().save_pretrained(path / "audio_tokenizer")
    codec = PocketTTSAudioTokenizerModel.from_pretrained(path / "audio_tokenizer")
    frame_size = codec_config.frame_size
    config = PocketTTSConfig(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        latent_dim=8,
        flow_head_config={"hidden_size": 16, "num_hidden_layers": 1, "latent_dim": 8, "condition_dim": 32},
        pad_token_id=0, audio_prompt_bos_token_id=1, audio_prompt_token_id=2, audio_bos_token_id=3,
        audio_latent_token_id=4, frame_rate=24_000 / frame_size,
    )
    model = PocketTTSForConditionalGeneration(config).eval()
    with torch.no_grad():
        model.eos_head.weight.zero_()
        model.eos_head.bias.fill_(-1e4)
    model.save_pretrained(path)
    feature_extractor = PocketTTSFeatureExtractor(frame_size=frame_size, pad_to_multiple_of=frame_size)
    PocketTTSProcessor(
        feature_extractor=feature_extractor, tokenizer=tokenizer, audio_tokenizer=codec,
        chat_template=POCKET_TTS_CHAT_TEMPLATE,
    ).save_pretrained(path)
