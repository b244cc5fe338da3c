"""Ground truth: the reference speech boundaries every latency is measured from.

Latencies start at the *true* end (or onset) of user speech, which must never come
from the detector under test. A clip's reference comes from its sidecar
``<clip>.json`` (e.g. a human annotation) or, without one, from a consensus of an
offline Silero pass, band energy against the clip's noise floor and Whisper's word
timestamps (:mod:`voicelab.truth.consensus`), with each source's disagreement kept.
"""

from voicelab.truth.consensus import SourceBounds, SpeechReference
from voicelab.truth.reference import ReferenceFinder, clip_reference

__all__ = ["ReferenceFinder", "SpeechReference", "SourceBounds", "clip_reference"]
