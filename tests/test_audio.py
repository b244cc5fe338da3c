"""Audio loading and the virtual microphone / speaker."""

import asyncio

import numpy as np
import pytest
import soundfile as sf

from voicelab.audio.clips import bundled_clip_names, resolve_clip
from voicelab.audio.load import AudioError, load_audio, to_mono_float32
from voicelab.audio.mic import VirtualMicrophone
from voicelab.audio.speaker import VirtualSpeaker
from voicelab.clock import SessionClock, run_virtual
from voicelab.events import PlaybackStall, PlaybackStarted, PlaybackStopped, Trace


def test_bundled_clips_have_transcripts():
    names = bundled_clip_names()
    assert len(names) == 6
    for n in names:
        clip = resolve_clip(n)
        assert clip.reference_text
        assert clip.audio.dtype == np.float32 and clip.audio.ndim == 1
        assert 2.5 < len(clip.audio) / 16000 < 7.5


def test_any_rate_channels_dtype_converted(tmp_path):
    t = np.arange(44100) / 44100
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    stereo = np.stack([tone, tone], axis=1)
    p = tmp_path / "stereo44k.wav"
    sf.write(p, stereo, 44100, subtype="PCM_16")
    out = load_audio(p)
    assert out.dtype == np.float32 and out.shape == (16000,)
    assert np.max(np.abs(out)) == pytest.approx(0.5, abs=0.01)
    pcm = (tone * 32767).astype(np.int16)
    assert to_mono_float32(pcm, 44100).shape == (16000,)


@pytest.mark.parametrize("audio, rate, match", [
    (np.zeros(0, np.float32), 16000, "empty"),
    (np.array([0.0, np.nan], np.float32), 16000, "NaN"),
    (np.full(100, 1000.0, np.float32), 16000, "int16"),
    (np.zeros((2, 1000), np.float32), 16000, "channels, frames"),
    (np.zeros(100, np.float32), 0, "sample_rate"),
    (np.zeros(100, np.complex64), 16000, "dtype"),
])
def test_bad_arrays_rejected(audio, rate, match):
    with pytest.raises(AudioError, match=match):
        to_mono_float32(audio, rate)


def test_bad_files_rejected(tmp_path):
    with pytest.raises(AudioError, match="not found"):
        load_audio(tmp_path / "nope.wav")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(AudioError, match="cannot read"):
        load_audio(corrupt)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="empty"):
        load_audio(empty)
    with pytest.raises(AudioError, match="no such clip"):
        resolve_clip("not-a-clip")


def test_mic_paces_frames_and_places_clips():
    async def main():
        clock = SessionClock()
        mic = VirtualMicrophone(clock)
        got = []
        async for f in mic.frames():
            got.append((f.index, f.end_ms, clock.now_ms(), float(f.samples.sum())))
            if f.index == 1:
                assert mic.play(np.ones(600, np.float32)) == 64.0   # next frame starts at 64 ms
            if f.index == 4:
                mic.close()
        return got, mic.timeline()
    got, timeline = run_virtual(main())
    assert [(i, e, now) for i, e, now, _ in got] == [(k, 32.0 * (k + 1), 32.0 * (k + 1)) for k in range(5)]
    assert [s for *_, s in got] == [0.0, 0.0, 512.0, 88.0, 0.0]
    assert timeline.shape == (5 * 512,) and timeline.sum() == 600.0 and timeline[1024] == 1.0


def test_speaker_frames_stalls_and_stop():
    async def main():
        clock = SessionClock()
        trace = Trace()
        spk = VirtualSpeaker(clock, trace, rate=24000, frame_ms=10)
        task = asyncio.create_task(spk.run())
        done = spk.open_response(0)
        await asyncio.sleep(0.0125)
        spk.enqueue(0, 0, np.ones(240 * 3, np.float32))     # ready 12.5 ms -> plays 20..50 ms
        await asyncio.sleep(0.0125)
        spk.enqueue(0, 1, np.ones(240, np.float32))         # ready 25 ms, while playing -> 50..60
        await asyncio.sleep(0.05)
        spk.enqueue(0, 2, np.ones(240, np.float32))         # ready 75 ms, ran dry at 60 -> 80..90
        spk.close_response()
        end = await done
        spk.close()
        await task
        return trace, end, spk.timeline(), clock.now_ms()
    trace, end, audio, now = run_virtual(main())
    assert [(p.t_ms, p.sample_index) for p in trace.of(PlaybackStarted)] == [(20.0, 480), (50.0, 1200), (80.0, 1920)]
    assert [(s.t_ms, s.duration_ms) for s in trace.of(PlaybackStall)] == [(60.0, 20.0)]
    assert [p.t_ms for p in trace.of(PlaybackStopped)] == [90.0]
    assert end == 2160 and now == 90.0
    assert audio[:480].sum() == 0 and audio[480:1440].all() and not audio[1440:1920].any()
