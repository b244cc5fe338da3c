"""Reusing the KV cache of the conversation so far across turns.

Each turn's prompt is the previous prompt, the reply and one new user message: without
reuse the model re-encodes the whole history every turn, so time to first token grows
with the conversation. :class:`PrefixCache` keeps the key/value caches of the last few
generations (prompt plus generated tokens) and hands ``generate`` a copy of the one
sharing the longest token prefix with the new prompt, cropped to that prefix; only the
rest of the prompt is then encoded. This is transformers' documented prefix re-use
(``past_key_values`` with a :class:`~transformers.DynamicCache` covering the first
tokens of ``input_ids``); greedy output is identical to encoding from scratch
(tests/test_llm_prefix_cache.py).
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict

import torch
from transformers import DynamicCache


class PrefixCache:
    """The KV caches of the last ``capacity`` generations, by their token ids.

    Thread-safe; lookups hand out copies, so a cache in use by ``generate`` (which
    extends it in place) never aliases a stored one.
    """

    def __init__(self, capacity: int = 4, min_tokens: int = 8) -> None:
        self.capacity = capacity
        self.min_tokens = min_tokens
        self._entries: OrderedDict[int, tuple[torch.Tensor, DynamicCache]] = OrderedDict()
        self._lock = threading.Lock()
        self._next = 0

    def lookup(self, ids: torch.Tensor) -> tuple[DynamicCache | None, int]:
        """A copy of the stored cache sharing the longest prefix with ``ids`` (1-D token
        ids), cropped to that prefix, and its length; ``(None, 0)`` under ``min_tokens``.

        At least the last token of ``ids`` is left uncached: ``generate`` needs its logits.
        """
        with self._lock:
            best, best_n = None, 0
            for key, (stored, _cache) in self._entries.items():
                n = _common_prefix(stored, ids, limit=len(ids) - 1)
                if n > best_n:
                    best, best_n = key, n
            if best is None or best_n < self.min_tokens:
                return None, 0
            self._entries.move_to_end(best)
            cache = copy.deepcopy(self._entries[best][1])
        excess = cache.get_seq_length() - best_n
        if excess > 0:
            cache.crop(-excess)  # transformers 5 crops by a negative count of trailing tokens
        return cache, best_n

    def store(self, ids: torch.Tensor, cache: DynamicCache) -> None:
        """Keep ``cache`` (covering the first ``cache.get_seq_length()`` of ``ids``)."""
        n = cache.get_seq_length()
        if n < self.min_tokens:
            return
        with self._lock:
            self._entries[self._next] = (ids[:n].clone(), cache)
            self._next += 1
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _common_prefix(a: torch.Tensor, b: torch.Tensor, limit: int) -> int:
    n = min(len(a), len(b), max(limit, 0))
    if n == 0:
        return 0
    diff = torch.nonzero(a[:n] != b[:n])
    return int(diff[0, 0]) if len(diff) else n
