"""The LLM stage passes the configured sampling options to ``model.generate`` (no model loaded:
the stage object is built around a recording stand-in for the transformers model)."""

from __future__ import annotations

import torch

from voicelab.config import LLMConfig
from voicelab.llm.transformers_llm import TransformersLLM


class _Model:
    def __init__(self) -> None:
        self.kwargs: dict = {}

    def generate(self, **kwargs):
        self.kwargs = kwargs
        return torch.zeros((1, 3), dtype=torch.long)


class _Tokenizer:
    pad_token_id = 0
    eos_token_id = 2


def _stage(**overrides) -> TransformersLLM:
    llm = TransformersLLM.__new__(TransformersLLM)
    llm.config = LLMConfig(prefix_cache=False, **overrides)
    llm.model, llm.tokenizer, llm.prefix_cache = _Model(), _Tokenizer(), None
    return llm


def _generate_kwargs(**overrides) -> dict:
    llm = _stage(**overrides)
    llm.generate({"input_ids": torch.ones((1, 2), dtype=torch.long)}, None)
    return llm.model.kwargs


def test_defaults_sample_with_a_mild_repetition_penalty():
    kw = _generate_kwargs()
    assert (kw["do_sample"], kw["temperature"], kw["top_p"], kw["max_new_tokens"]) == (True, 0.3, 0.9, 250)
    assert kw["repetition_penalty"] == 1.1 and kw["no_repeat_ngram_size"] is None
    assert _generate_kwargs(repetition_penalty=1.0)["repetition_penalty"] is None   # 1 = off: not passed


def test_repetition_controls_reach_generate():
    kw = _generate_kwargs(repetition_penalty=1.2, no_repeat_ngram_size=4, temperature=0.0)
    assert (kw["repetition_penalty"], kw["no_repeat_ngram_size"]) == (1.2, 4)
    assert kw["do_sample"] is False and kw["temperature"] is None and kw["top_p"] is None


def test_every_prompt_opens_with_the_system_prompt_and_the_example_exchanges():
    from voicelab.config import Exchange
    from voicelab.session.conversation import Conversation

    cfg = LLMConfig(system_prompt="S", examples=[Exchange(user="u1", assistant="a1")])
    conv = Conversation(cfg)
    assert conv.messages("v", "hi") == [{"role": "system", "content": "S"}, {"role": "user", "content": "u1"},
                                        {"role": "assistant", "content": "a1"}, {"role": "user", "content": "hi"}]
    conv.record("v", "hi", "hello", warmup=False)
    assert conv.messages("v", "next")[3:] == [{"role": "user", "content": "hi"},
                                              {"role": "assistant", "content": "hello"},
                                              {"role": "user", "content": "next"}]
    assert LLMConfig(examples=[]).prompt_prefix() == [{"role": "system", "content": LLMConfig().system_prompt}]
    assert len(LLMConfig().prompt_prefix()) == 7   # the system prompt and three default exchanges
