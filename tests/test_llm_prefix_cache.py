"""KV prefix re-use across turns: exact lookup rules, and identical greedy output on the real model."""

from __future__ import annotations

import pytest
import torch
from transformers import DynamicCache

from voicelab.llm.prefix_cache import PrefixCache


def cache_of(n: int, value: float = 0.0) -> DynamicCache:
    """A one-layer cache holding ``n`` positions (keys/values filled with ``value``)."""
    c = DynamicCache()
    kv = torch.full((1, 1, n, 2), value)
    c.update(kv, kv.clone(), 0)
    return c


def ids(*xs: int) -> torch.Tensor:
    return torch.tensor(xs)


def test_lookup_takes_the_longest_shared_prefix_and_leaves_the_last_token():
    pc = PrefixCache(capacity=4, min_tokens=2)
    pc.store(ids(1, 2, 3, 4, 5), cache_of(5, 1.0))
    pc.store(ids(1, 2, 9, 9), cache_of(4, 2.0))
    cache, n = pc.lookup(ids(1, 2, 3, 4, 7, 8))
    assert n == 4 and cache.get_seq_length() == 4
    assert float(cache.layers[0].keys[0, 0, 0, 0]) == 1.0
    # a prompt that is entirely cached still leaves its last token to encode
    cache, n = pc.lookup(ids(1, 2, 3, 4, 5))
    assert n == 4
    # under min_tokens: no reuse
    assert pc.lookup(ids(1, 7, 7)) == (None, 0)


def test_lookups_are_copies_and_capacity_evicts_the_oldest():
    pc = PrefixCache(capacity=2, min_tokens=1)
    pc.store(ids(1, 2, 3), cache_of(3, 1.0))
    got, n = pc.lookup(ids(1, 2, 3, 4))
    got.layers[0].keys.fill_(9.0)                          # generate() extends/modifies its copy
    again, _ = pc.lookup(ids(1, 2, 3, 4))
    assert float(again.layers[0].keys.max()) == 1.0          # the stored cache is untouched
    pc.store(ids(5, 6, 7), cache_of(3))
    pc.store(ids(8, 9, 10), cache_of(3))                    # evicts (1, 2, 3)
    assert pc.lookup(ids(1, 2, 3, 4)) == (None, 0)
    assert pc.lookup(ids(8, 9, 10, 11))[1] == 3


@pytest.mark.integration
def test_greedy_replies_are_identical_with_and_without_the_prefix_cache():
    from voicelab.config import LLMConfig
    from voicelab.llm.transformers_llm import TransformersLLM

    system = {"role": "system", "content": LLMConfig().system_prompt}
    user_turns = ["And Mr. John Dashwood had then leisure to consider how much there might be "
                  "prudently in his power to do for them.",
                  "He was not an ill-disposed young man.",
                  "He might even have been made amiable himself."]
    replies = {}
    for prefix_cache in (False, True):
        llm = TransformersLLM(LLMConfig(temperature=0.0, prefix_cache=prefix_cache, threads=2))
        messages, out, cached = [system], [], []
        for text in user_turns:
            messages.append({"role": "user", "content": text})
            inputs = llm.encode(messages)
            seq = llm.generate(inputs, None, max_new_tokens=24)
            reply_ids = seq[0, inputs["input_ids"].shape[1]:]
            out.append(reply_ids.tolist())
            cached.append((llm.last_cached_tokens, inputs["input_ids"].shape[1]))
            messages.append({"role": "assistant",
                             "content": llm.tokenizer.decode(reply_ids, skip_special_tokens=True)})
        replies[prefix_cache] = (out, cached)
    assert replies[True][0] == replies[False][0]
    (_, n1), (c2, n2), (c3, _) = replies[True][1]
    assert replies[False][1][1][0] == 0           # without the cache nothing is reused
    assert c2 >= n1 and c3 >= n2                  # each turn reuses at least the previous prompt
