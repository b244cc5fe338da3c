"""``llm.dtype``: validation, and the bfloat16 stage on the real model (docs/results/llm_dtype)."""

from __future__ import annotations

import asyncio

import pytest

from voicelab.config import ConfigError, ExperimentConfig, LLMConfig, parse_config


def test_dtype_defaults_to_float32_and_accepts_bfloat16():
    assert LLMConfig().dtype == "float32"
    assert parse_config({"llm": {"dtype": "bfloat16"}}, "t.yaml").llm.dtype == "bfloat16"
    assert ExperimentConfig().llm.dtype == "float32"


@pytest.mark.parametrize("bad", ["float16", "bf16", "fp32", 32])
def test_other_dtypes_are_rejected_naming_the_field(bad):
    with pytest.raises(ConfigError) as err:
        parse_config({"llm": {"dtype": bad}}, "t.yaml")
    assert "  llm.dtype: " in str(err.value)


@pytest.mark.integration
def test_bfloat16_stage_streams_tokens_and_reuses_its_prefix_cache():
    import torch

    from voicelab.clock import SessionClock
    from voicelab.llm.transformers_llm import TransformersLLM

    llm = TransformersLLM(LLMConfig(dtype="bfloat16", temperature=0.0, max_new_tokens=12,
                                    prefix_cache=True, threads=2, nice=0))
    assert {p.dtype for p in llm.model.parameters()} == {torch.bfloat16}
    system = {"role": "system", "content": LLMConfig().system_prompt}
    messages = [system, {"role": "user", "content": "he was not an ill disposed young man"}]

    async def stream() -> list:
        s = llm.stream(messages, seed=0, clock=SessionClock())
        started = await s.started()
        toks = [t async for t in s]
        await s.join()
        assert started <= toks[0].t_ms and not s.cancelled
        return toks

    toks = asyncio.run(stream())
    assert len(toks) >= 2 and "".join(t.text for t in toks).strip()
    assert [t.t_ms for t in toks] == sorted(t.t_ms for t in toks)

    # the generation's bf16 KV cache is stored and reused by the next turn; greedy output
    # from the cached prefix equals encoding the whole prompt again
    messages += [{"role": "assistant", "content": "".join(t.text for t in toks)},
                 {"role": "user", "content": "he might even have been made amiable himself"}]
    inputs = llm.encode(messages)
    cached = llm.generate(inputs, None, max_new_tokens=12)
    assert llm.last_cached_tokens > 20
    llm.prefix_cache.clear()
    fresh = llm.generate(inputs, None, max_new_tokens=12)
    assert llm.last_cached_tokens == 0
    assert cached.tolist() == fresh.tolist()
