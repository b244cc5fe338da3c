"""The reference speech boundaries against the human/forced-alignment annotations."""

import pytest

from voicelab.audio.clips import bundled_clip_names, resolve_clip
from voicelab.vad.reference import reference_speech_bounds, reference_speech_segments

ANNOTATED = [n for n in bundled_clip_names() if resolve_clip(n).speech_bounds_ms]


def test_five_clips_are_annotated():
    assert len(ANNOTATED) == 5


@pytest.mark.parametrize("clip", ANNOTATED)
def test_refined_reference_end_agrees_with_annotation(clip):
    c = resolve_clip(clip)
    start, end = reference_speech_bounds(c.audio)
    assert abs(end - c.speech_bounds_ms[1]) <= 50
    # the raw Silero segment end is never earlier than the refined one
    assert reference_speech_segments(c.audio)[-1][1] >= end
    assert 0 <= start < end <= len(c.audio) / 16
