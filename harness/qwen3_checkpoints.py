"""Random-weight Qwen3-TTS checkpoints in the official directory layout, for the tests
(tiny, CPU, seconds) and the GPU benchmark (the real 0.6B / 1.7B shapes).

The directory is what `Qwen3TTSModel.from_pretrained` reads from a downloaded
checkpoint, so the backend loads it through exactly the same code path:

    config.json, generation_config.json, model.safetensors,
    tokenizer.json, tokenizer_config.json, vocab.json, merges.txt, special_tokens_map.json,
    speech_tokenizer/{config.json, model.safetensors, preprocessor_config.json}

Shapes and control ids follow the released configs (e.g. Qwen3-TTS-12Hz-0.6B-CustomVoice:
codebook 2048, codec vocab 3072, control ids 2148..2157, languages 2050..2074, speakers
2861..3066); the library's modelling code is
https://github.com/QwenLM/Qwen3-TTS/blob/main/qwen_tts/core/models/modeling_qwen3_tts.py.
Random weights give noise-like audio, but run at the real speed.

Needs torch, transformers and qwen-tts (the `qwen` extra); imported only by tests and
the benchmark, never by the server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

#: The nine preset speakers of the CustomVoice checkpoints, with their codec ids and the
#: dialect two of them speak when asked for Chinese (from the released config.json).
SPEAKERS: dict[str, tuple[int, str | bool]] = {
    "vivian": (3065, False),
    "serena": (3066, False),
    "uncle_fu": (3010, False),
    "dylan": (2878, "beijing_dialect"),
    "eric": (2875, "sichuan_dialect"),
    "ryan": (3061, False),
    "aiden": (2861, False),
    "ono_anna": (2873, False),
    "sohee": (2864, False),
}
LANGUAGES: dict[str, int] = {
    "chinese": 2055,
    "english": 2050,
    "german": 2053,
    "italian": 2070,
    "portuguese": 2071,
    "spanish": 2054,
    "japanese": 2058,
    "korean": 2064,
    "french": 2061,
    "russian": 2069,
    "beijing_dialect": 2074,
    "sichuan_dialect": 2062,
}
# Control ids relative to the start of the codec control block (= codebook size):
# pad 2148, bos 2149, eos 2150, think 2154, nothink 2155, think_bos 2156, think_eos 2157
# in a 2048-entry codebook.
_CONTROL = {
    "codec_pad_id": 100,
    "codec_bos_id": 101,
    "codec_eos_token_id": 102,
    "codec_think_id": 106,
    "codec_nothink_id": 107,
    "codec_think_bos_id": 108,
    "codec_think_eos_id": 109,
}
NUM_CODE_GROUPS = 16  # = the speech tokenizer's num_quantizers


@dataclass(frozen=True)
class Shape:
    """Sizes of one random checkpoint."""

    hidden: int  # talker
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    text_hidden: int
    text_vocab: int  # 0: the tiny text tokenizer's own size
    codebook: int  # codec vocab = codebook + 1024
    predictor_hidden: int
    predictor_layers: int
    predictor_intermediate: int
    # speech tokenizer (codes -> 24 kHz audio)
    dec_hidden: int
    dec_layers: int
    dec_heads: int
    dec_latent: int
    dec_dim: int
    dec_codebook_dim: int
    dec_intermediate: int
    size_tag: str  # config.tts_model_size: "0b6" or "1b7" (instructions only on 1b7)


TINY = Shape(
    hidden=64,
    layers=2,
    heads=4,
    kv_heads=2,
    head_dim=16,
    intermediate=128,
    text_hidden=32,
    text_vocab=0,
    codebook=128,
    predictor_hidden=64,
    predictor_layers=1,
    predictor_intermediate=128,
    dec_hidden=32,
    dec_layers=1,
    dec_heads=2,
    dec_latent=32,
    dec_dim=64,
    dec_codebook_dim=32,
    dec_intermediate=64,
    size_tag="1b7",
)
# The released 12 Hz models: talker 28 layers, 16 heads, 8 KV heads, head_dim 128,
# code predictor 5 layers at 1024; the speech tokenizer decoder of Qwen3-TTS-Tokenizer-12Hz.
REAL_0_6B = Shape(
    hidden=1024,
    layers=28,
    heads=16,
    kv_heads=8,
    head_dim=128,
    intermediate=3072,
    text_hidden=2048,
    text_vocab=151936,
    codebook=2048,
    predictor_hidden=1024,
    predictor_layers=5,
    predictor_intermediate=3072,
    dec_hidden=512,
    dec_layers=8,
    dec_heads=16,
    dec_latent=1024,
    dec_dim=1536,
    dec_codebook_dim=512,
    dec_intermediate=1024,
    size_tag="0b6",
)
REAL_1_7B = replace(REAL_0_6B, hidden=2048, intermediate=6144, size_tag="1b7")
#: Tiny but with ~100 MB of weights: memory accounting shows above allocator noise.
SMALL = replace(
    TINY,
    hidden=512,
    layers=4,
    heads=8,
    kv_heads=4,
    head_dim=64,
    intermediate=2048,
    predictor_hidden=512,
    predictor_intermediate=2048,
)
SHAPES = {"tiny": TINY, "small": SMALL, "0.6b": REAL_0_6B, "1.7b": REAL_1_7B}


def _text_tokenizer() -> Any:
    """A byte-level BPE Qwen2TokenizerFast with Qwen's chat special tokens, where
    `<|im_start|>assistant\\n` is 3 tokens and `<|im_end|>\\n<|im_start|>assistant\\n` 5:
    the model slices the prompt at exactly those offsets (input_id[:, :3], [3:-5])."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

    alphabet = sorted(bytes_to_unicode().values())
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    merges: list[tuple[str, str]] = []
    word = "assistant"  # one token, as in Qwen's vocabulary
    for i in range(1, len(word)):
        left, right = word[:i], word[i]
        merges.append((left, right))
        vocab.setdefault(left + right, len(vocab))
    bpe = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    bpe.decoder = decoders.ByteLevel()
    tokenizer = Qwen2TokenizerFast(
        tokenizer_object=bpe,
        unk_token=None,
        bos_token=None,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.add_special_tokens(
        {"additional_special_tokens": ["<|im_start|>", "<|im_end|>", "<|tts_pad|>"]}
    )
    tokenizer.add_tokens(["<|tts_bos|>", "<|tts_eos|>"], special_tokens=True)
    for text, n in (("<|im_start|>assistant\n", 3), ("<|im_end|>\n<|im_start|>assistant\n", 5)):
        got = len(tokenizer(text)["input_ids"])
        assert got == n, f"{text!r} is {got} tokens, the model needs {n}"
    return tokenizer


def build_checkpoint(
    path: Path,
    shape: Shape | str = "tiny",
    kind: str = "custom_voice",
    seed: int = 0,
    speakers: dict[str, tuple[int, str | bool]] | None = None,
    dtype: str = "float32",
    device: str = "cpu",
) -> Path:
    """Write a random-weight checkpoint of `kind` (custom_voice, voice_design or base)
    to `path` and return it. The real sizes build much faster with device="cuda" and
    take half the disk in dtype="bfloat16" (the released checkpoints' dtype)."""
    import torch
    from qwen_tts.core.models import (
        Qwen3TTSConfig,
        Qwen3TTSForConditionalGeneration,
        Qwen3TTSProcessor,
    )
    from transformers import EncodecFeatureExtractor

    s = SHAPES[shape] if isinstance(shape, str) else shape
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)

    tokenizer = _text_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in tokenizer.all_special_tokens}
    ids.update({t: tokenizer.convert_tokens_to_ids(t) for t in ("<|tts_bos|>", "<|tts_eos|>")})
    text_vocab = s.text_vocab or len(tokenizer)

    # Speaker and language ids keep their released distance from the codebook's end.
    shift = s.codebook - 2048
    control = {k: s.codebook + v for k, v in _CONTROL.items()}
    table = SPEAKERS if speakers is None else speakers
    spk_id = (
        {name: spk + shift for name, (spk, _) in table.items()} if kind == "custom_voice" else {}
    )
    spk_is_dialect = {name: d for name, (_, d) in table.items()} if kind == "custom_voice" else {}
    languages = {name: lid + shift for name, lid in LANGUAGES.items()}
    half = s.head_dim // 2
    mrope = [half - 2 * (half * 5 // 16), half * 5 // 16, half * 5 // 16]  # 128 -> [24, 20, 20]
    talker: dict[str, Any] = {
        "hidden_size": s.hidden,
        "num_hidden_layers": s.layers,
        "num_attention_heads": s.heads,
        "num_key_value_heads": s.kv_heads,
        "head_dim": s.head_dim,
        "intermediate_size": s.intermediate,
        "text_hidden_size": s.text_hidden,
        "text_vocab_size": text_vocab,
        "vocab_size": s.codebook + 1024,
        "num_code_groups": NUM_CODE_GROUPS,
        "rope_theta": 1_000_000,
        "rope_scaling": {"rope_type": "default", "mrope_section": mrope, "interleaved": True},
        "max_position_embeddings": 32768,
        "spk_id": spk_id,
        "spk_is_dialect": spk_is_dialect,
        "codec_language_id": languages,
        **control,
        "code_predictor_config": {
            "hidden_size": s.predictor_hidden,
            "num_hidden_layers": s.predictor_layers,
            "num_attention_heads": s.heads,
            "num_key_value_heads": s.kv_heads,
            "head_dim": s.head_dim,
            "intermediate_size": s.predictor_intermediate,
            "vocab_size": s.codebook,
            "num_code_groups": NUM_CODE_GROUPS,
            "rope_theta": 1_000_000,
            "max_position_embeddings": 65536,
        },
    }
    speaker_encoder = {
        "enc_dim": s.hidden,  # the x-vector is spliced into the talker's codec embeddings
        "enc_channels": [32, 32, 32, 32, 96] if s.codebook < 2048 else [512, 512, 512, 512, 1536],
        "enc_attention_channels": 16 if s.codebook < 2048 else 128,
        "enc_se_channels": 16 if s.codebook < 2048 else 128,
    }
    config = Qwen3TTSConfig(
        talker_config=talker,
        speaker_encoder_config=speaker_encoder,
        tokenizer_type="qwen3_tts_tokenizer_12hz",
        tts_model_size=s.size_tag,
        tts_model_type=kind,
        im_start_token_id=ids["<|im_start|>"],
        im_end_token_id=ids["<|im_end|>"],
        tts_pad_token_id=ids["<|tts_pad|>"],
        tts_bos_token_id=ids["<|tts_bos|>"],
        tts_eos_token_id=ids["<|tts_eos|>"],
        architectures=["Qwen3TTSForConditionalGeneration"],
    )
    with torch.device(device):
        model = Qwen3TTSForConditionalGeneration(config).to(getattr(torch, dtype))
    model.save_pretrained(path, safe_serialization=True)
    # Library bug (qwen-tts 0.1.1): save_pretrained writes the speaker-encoder sub-config
    # with PretrainedConfig's generic keys (model_type, ...), which
    # Qwen3TTSSpeakerEncoderConfig.__init__ does not accept when reading it back. Keep
    # only its own fields.
    written = json.loads((path / "config.json").read_text())
    own = set(Qwen3TTSConfig.sub_configs["speaker_encoder_config"]().__dict__) & set(
        written["speaker_encoder_config"]
    )
    own -= set(_generic_config_keys())
    written["speaker_encoder_config"] = {
        k: v for k, v in written["speaker_encoder_config"].items() if k in own
    }
    (path / "config.json").write_text(json.dumps(written, indent=2))
    # The loader requires generation_config.json (its sampling defaults).
    (path / "generation_config.json").write_text(
        json.dumps(
            {
                "do_sample": True,
                "temperature": 0.9,
                "top_k": 50,
                "top_p": 1.0,
                "repetition_penalty": 1.05,
                "subtalker_dosample": True,
                "subtalker_temperature": 0.9,
                "subtalker_top_k": 50,
                "subtalker_top_p": 1.0,
                "max_new_tokens": 8192,
            },
            indent=2,
        )
    )
    Qwen3TTSProcessor(tokenizer=tokenizer).save_pretrained(path)
    del model

    _build_speech_tokenizer(path / "speech_tokenizer", s, device)
    EncodecFeatureExtractor(feature_size=1, sampling_rate=24000).save_pretrained(
        path / "speech_tokenizer"
    )
    return path


def _generic_config_keys() -> list[str]:
    from transformers import PretrainedConfig

    return list(PretrainedConfig().to_dict())


def _build_speech_tokenizer(path: Path, s: Shape, device: str) -> None:
    import torch
    from qwen_tts.core import Qwen3TTSTokenizerV2Config, Qwen3TTSTokenizerV2Model

    tiny = s.codebook < 2048  # the test family: a small Mimi encoder too
    decoder = {
        "codebook_size": s.codebook if tiny else 2048,
        "codebook_dim": s.dec_codebook_dim,
        "hidden_size": s.dec_hidden,
        "head_dim": s.dec_hidden // s.dec_heads,
        "latent_dim": s.dec_latent,
        "num_attention_heads": s.dec_heads,
        "num_key_value_heads": s.dec_heads,
        "num_hidden_layers": s.dec_layers,
        "intermediate_size": s.dec_intermediate,
        "num_quantizers": NUM_CODE_GROUPS,
        "upsample_rates": [8, 5, 4, 3],  # x upsampling_ratios [2, 2] = 1920 samples a frame
        "upsampling_ratios": [2, 2],
        "decoder_dim": s.dec_dim,
        "sliding_window": 72,
    }
    encoder = (  # Mimi; only the Base model's voice cloning encodes audio
        {
            "hidden_size": 32,
            "num_filters": 8,
            "num_hidden_layers": 1,
            "intermediate_size": 64,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "codebook_size": s.codebook,
            "codebook_dim": 32,
            "vector_quantization_hidden_dimension": 32,
            "upsample_groups": 32,
            "num_quantizers": NUM_CODE_GROUPS,
        }
        if tiny
        else {"num_quantizers": 32, "codebook_size": 2048}
    )
    config = Qwen3TTSTokenizerV2Config(
        encoder_config=encoder,
        decoder_config=decoder,
        encoder_valid_num_quantizers=NUM_CODE_GROUPS,
        architectures=["Qwen3TTSTokenizerV2Model"],
    )
    with torch.device(device):
        model = Qwen3TTSTokenizerV2Model(config)
    # A freshly initialised codebook is all zeros (embedding_sum), which decodes to near
    # silence; random codebooks make every code a distinct vector.
    # Likewise the default init (std 0.02) shrinks the signal through the ~20 conv
    # layers of the vocoder; a fan-in scaled init keeps it audible.
    with torch.no_grad():
        for name, param in model.decoder.named_parameters():
            if name.endswith("embedding_sum"):
                param.normal_(0.0, 1.0)
            elif name.endswith("weight") and param.dim() == 3:
                param.normal_(0.0, (param.shape[1] * param.shape[2]) ** -0.5)
        last = model.decoder.decoder[-1].conv.weight  # the output conv: noise at about -20 dBFS
        last.mul_(0.1)
    model.save_pretrained(path, safe_serialization=True)
