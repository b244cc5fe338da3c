"""Round-trip WER's splitting of long replies for Whisper (exact, on synthetic audio)."""

import numpy as np

from voicelab.measure.quality import split_for_whisper


def test_short_audio_is_one_piece():
    audio = np.ones(16000 * 28, dtype=np.float32)
    (piece,) = split_for_whisper(audio)
    assert piece is audio or np.array_equal(piece, audio)


def test_long_audio_is_cut_at_its_quietest_frame():
    # 70 s of "speech" with silent gaps at 20.0-20.3 s and 45.0-45.3 s (one 50 ms frame
    # = 800 samples; the first silent frame wins ties)
    audio = np.full(16000 * 70, 0.1, dtype=np.float32)
    for gap in (20.0, 45.0):
        audio[int(gap * 16000): int((gap + 0.3) * 16000)] = 0.0
    pieces = split_for_whisper(audio)
    assert [len(p) for p in pieces] == [20 * 16000, 25 * 16000, 25 * 16000]
    assert np.array_equal(np.concatenate(pieces), audio)
    assert all(len(p) <= 28 * 16000 for p in pieces)
