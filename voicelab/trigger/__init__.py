"""Text trigger policies: when streamed LLM text is handed to TTS.

========== =========================================== ==================
name       policy                                      parameters
========== =========================================== ==================
words      every N complete words                      ``words`` (2)
sentence   at sentence boundaries (abbreviation-aware) ``min_words`` (1)
debounce   when no text arrived for ``ms``             ``ms`` (200)
hybrid     first N words, then sentences               ``words`` (2)
whole      the whole reply (non-streaming baseline)
========== =========================================== ==================
"""

from voicelab.trigger.base import TextChunk, TriggerPolicy
from voicelab.trigger.debounce import DebounceTrigger
from voicelab.trigger.hybrid import HybridTrigger
from voicelab.trigger.sentence import SentenceTrigger
from voicelab.trigger.whole import WholeResponseTrigger
from voicelab.trigger.word_count import WordCountTrigger
from voicelab.trigger.words import Word, WordTracker

TRIGGERS: dict[str, type[TriggerPolicy]] = {
    cls.name: cls
    for cls in (WordCountTrigger, SentenceTrigger, DebounceTrigger, HybridTrigger, WholeResponseTrigger)
}


def make_trigger(name: str, **params) -> TriggerPolicy:
    """Build a trigger policy by name.

    Args:
        name: a key of :data:`TRIGGERS` ("words", "sentence", "debounce", "hybrid", "whole").
        **params: the policy's constructor arguments (see the table above).

    Raises:
        ValueError: unknown ``name`` (the message lists the valid ones), or a bad parameter.
        TypeError: a parameter the policy does not take.
    """
    try:
        cls = TRIGGERS[name]
    except KeyError:
        valid = ", ".join(TRIGGERS)
        raise ValueError(f"unknown trigger policy {name!r}; choose one of {valid}") from None
    return cls(**params)


__all__ = [
    "TRIGGERS", "make_trigger", "TextChunk", "TriggerPolicy", "Word", "WordTracker",
    "WordCountTrigger", "SentenceTrigger", "DebounceTrigger", "HybridTrigger", "WholeResponseTrigger",
]
