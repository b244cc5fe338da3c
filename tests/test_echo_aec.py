"""The echo path (room impulse responses, gain, delay) and acoustic echo cancellation.

Exact checks on scripted signals and hand-built traces; the Speex canceller on real
recorded speech sent through a generated room (no models: the library alone).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from voicelab.aec import EchoCanceller, make_echo_canceller
from voicelab.audio.clips import resolve_clip
from voicelab.audio.echo_path import (
    EchoPath,
    load_impulse_response,
    make_echo_path,
    played_from_array,
    room_impulse_response,
    rt60_ms,
)
from voicelab.audio.mic import MicFrame
from voicelab.config import AECConfig, ConfigError, EchoConfig, RoomConfig, parse_config
from voicelab.events import AECWindow, PlaybackStarted, PlaybackStopped, Trace, TurnPlanned
from voicelab.measure.echo import aec_metrics, aec_summary, erle_db
from voicelab.session.echo_cancel import WINDOW_FRAMES, AECFrontEnd

RATE = 16_000


# --- the echo path -------------------------------------------------------------------------

def test_tap_echo_is_the_played_signal_delayed_and_scaled():
    """No room: echo(t) = gain * played(t - delay), sample for sample (20 ms = 320 samples)."""
    rng = np.random.default_rng(1)
    played = rng.uniform(-0.5, 0.5, 4096).astype(np.float32)
    path, info = make_echo_path(EchoConfig(gain_db=-20, delay_ms=20), played_from_array(played))
    got = np.concatenate([path(k * 32.0, 512) for k in range(8)])
    want = np.concatenate([np.zeros(320, np.float32), played[: 4096 - 320]]) * 0.1
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)
    assert (info.kind, info.gain_db, info.delay_ms, info.rir_ms, info.rt60_ms) == ("tap", -20.0, 20.0, 1 / 16, 0.0)
    assert make_echo_path(EchoConfig(gain_db=None), played_from_array(played)) == (None, None)
    with pytest.raises(ValueError, match="16000 Hz audio, asked for 24000"):
        played_from_array(played)(0.0, 10, 24_000)


def test_rir_echo_is_the_full_convolution_frame_by_frame():
    """A 3-tap RIR [1, 0, -0.5], scaled to unit energy: each frame's echo equals the
    corresponding slice of the whole signal convolved at once (the tail of the previous
    frames is carried over, exactly)."""
    rng = np.random.default_rng(2)
    played = rng.uniform(-0.5, 0.5, 3000).astype(np.float32)
    rir = np.array([1.0, 0.0, -0.5])
    path = EchoPath(played_from_array(played), rir, gain=0.5, delay_ms=0.0)
    assert np.sum(path.rir ** 2) == pytest.approx(1.0)
    got = np.concatenate([path(k * 32.0, 512) for k in range(7)])
    full = 0.5 * np.convolve(played.astype(np.float64), rir / np.sqrt(1.25))
    np.testing.assert_allclose(got[:3000], full[:3000], rtol=0, atol=1e-6)
    np.testing.assert_allclose(got[3000:3002], full[3000:3002], rtol=0, atol=1e-6)  # the tail rings out
    np.testing.assert_allclose(got[3002:], 0.0, rtol=0, atol=1e-9)


def test_room_rir_is_deterministic_and_has_the_asked_rt60():
    room = RoomConfig()  # 5 x 4 x 2.8 m, RT60 0.35 s, 0.54 m apart
    a, b = room_impulse_response(room), room_impulse_response(room)
    assert np.array_equal(a, b) and len(a) == 400 * 16
    assert rt60_ms(a) == pytest.approx(350.0, rel=0.1)
    import pyroomacoustics as pra

    direct = int(np.argmax(np.abs(a))) - pra.constants.get("frac_delay_length") // 2  # the filter's centre
    assert direct / RATE * pra.constants.get("c") == pytest.approx(math.dist(room.speaker_m, room.mic_m), abs=0.05)
    longer = room_impulse_response(RoomConfig(rt60_s=0.7))
    assert rt60_ms(longer) > 1.5 * rt60_ms(a)
    with pytest.raises(ValueError, match="out of reach"):
        room_impulse_response(RoomConfig(size_m=(20.0, 20.0, 10.0), rt60_s=0.06, speaker_m=(1, 1, 1), mic_m=(2, 2, 2)))


def test_rir_from_a_wav(tmp_path):
    """A 48 kHz mono WAV is resampled to 16 kHz; bad files are refused with the path named."""
    rir48 = np.zeros(4800)
    rir48[0], rir48[2400] = 1.0, 0.3
    sf.write(tmp_path / "rir.wav", rir48, 48_000, subtype="FLOAT")
    rir = load_impulse_response(tmp_path / "rir.wav")
    assert len(rir) == 1600
    path, info = make_echo_path(EchoConfig(gain_db=-10, rir_path=str(tmp_path / "rir.wav")),
                                played_from_array(np.ones(10)))
    assert info.kind == "wav" and info.rir_ms == 100.0
    sf.write(tmp_path / "stereo.wav", np.zeros((100, 2)) + 0.1, 16_000)
    sf.write(tmp_path / "silent.wav", np.zeros(100), 16_000)
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_impulse_response(tmp_path / "missing.wav")
    for name, match in [("stereo.wav", "2 channels"), ("silent.wav", "silent"), ("corrupt.wav", "not a readable")]:
        with pytest.raises(ValueError, match=match):
            load_impulse_response(tmp_path / name)


@pytest.mark.parametrize("data, match", [
    ({"echo": {"room": {}, "rir_path": "x.wav"}}, "not both"),
    ({"echo": {"room": {"mic_m": [6, 1, 1]}}}, r"echo.room: .*inside the room"),
    ({"echo": {"room": {"mic_m": [2.0, 2.0, 1.0]}}}, "must differ"),
    ({"echo": {"room": {"rt60": 0.3}}}, "echo.room.rt60"),
    ({"aec": {"kind": "webrtc"}}, "aec.kind"),
    ({"aec": {"kind": "speex", "tail_ms": 5}}, "aec.tail_ms"),
    ({"aec": {"suppresor": False}}, "aec.suppresor"),
])
def test_bad_echo_and_aec_settings_are_refused(data, match):
    with pytest.raises(ConfigError, match=match):
        parse_config(data)


# --- ERLE and the canceller's cost, exactly -------------------------------------------------

def test_erle_per_reply_and_summary_from_windows():
    """Reply 0 plays 1000..3000 ms. Windows: [640, 960) ends before it (not counted), [960, 1280)
    overlaps (mic 2.0, out 0.02: 20 dB alone), [2880, 3200) overlaps (mic 1.0, out 0.1). Reply 0's
    ERLE: 10 log10(3.0 / 0.12) = 13.979 dB. Reply 1 never played: NaN. Cost: 3.0 ms over 25 frames."""
    t = Trace([TurnPlanned(0.0, 0, "a", "v", False, 900.0, 100.0, 800.0, "hi"),
               TurnPlanned(5000.0, 1, "a", "v", False, 900.0, 5100.0, 5800.0, "hi"),
               AECWindow(960.0, 640.0, 10, 1.0, 10, 50.0, 0.5),
               AECWindow(1280.0, 960.0, 10, 1.0, 10, 2.0, 0.02),
               PlaybackStarted(1000.0, 0, 0, 24_000),
               AECWindow(3200.0, 2880.0, 5, 1.0, 3, 1.0, 0.1),
               PlaybackStopped(3000.0, 0, 72_000)])
    m = aec_metrics(t)
    assert m[0]["aec_erle_db"] == pytest.approx(10 * math.log10(3.0 / 0.12))
    assert math.isnan(m[1]["aec_erle_db"])
    s = aec_summary(t)
    assert s["frames"] == 25 and s["cpu_ms_per_frame"] == pytest.approx(3.0 / 25)
    assert s["cpu_ms_per_frame_p95"] == pytest.approx(np.percentile([0.1, 0.1, 0.2], 95))
    assert s["erle_db"] == pytest.approx(10 * math.log10(53.0 / 0.62)) and s["echo_only_frames"] == 23
    assert [w["erle_db"] for w in s["erle_over_time"]] == pytest.approx([20.0, 20.0, 10.0])
    assert aec_summary(Trace()) == {} and math.isnan(erle_db(0.0, 1.0))


class _Scaling(EchoCanceller):
    """Returns ``gain * near``: an ERLE of exactly -20 log10(gain)."""

    name, frame_samples = "scaling", 256

    def __init__(self, gain: float) -> None:
        self.gain, self.info, self.closed = gain, {}, False

    def process(self, near, reference):
        self._check(near, reference)
        return (self.gain * near).astype(np.float32)

    def close(self):
        self.closed = True


def test_front_end_counts_echo_only_frames_and_logs_windows():
    """Played audio (0.2) from 320 ms on; 25 frames; frames 15-17 hold user audio. Echo-only
    frames: 10-14 and 18-24 (reference active, no user clip) = 12; windows of 10 frames
    end at 320 and 640 ms, the partial third (5 frames) at close. A 0.1 canceller: 20 dB."""
    played = np.zeros(16 * 800, dtype=np.float32)
    played[16 * 320:] = 0.2
    trace = Trace()
    ctx = SimpleNamespace(speaker=SimpleNamespace(excerpt=played_from_array(played)), trace=trace)
    fake = _Scaling(0.1)
    fe = AECFrontEnd(ctx, fake)
    rng = np.random.default_rng(3)
    outs = []
    for k in range(25):
        samples = rng.uniform(-0.3, 0.3, 512).astype(np.float32)
        frame = MicFrame(k, 32.0 * k, 32.0 * (k + 1), samples, user_audio=15 <= k <= 17)
        out = fe.process(frame)
        assert (out.samples is not frame.samples
                and (out.index, out.start_ms, out.user_audio) == (k, 32.0 * k, 15 <= k <= 17))
        np.testing.assert_allclose(out.samples, 0.1 * samples, rtol=1e-6)
        outs.append(out)
    fe.close(800.0)
    windows = trace.of(AECWindow)
    assert [(w.start_ms, w.t_ms, w.frames) for w in windows] == [(0.0, 320.0, 10), (320.0, 640.0, 10),
                                                                 (640.0, 800.0, 5)]
    assert [w.echo_only_frames for w in windows] == [0, 7, 5] and WINDOW_FRAMES == 10
    for w in windows[1:]:
        assert erle_db(w.mic_energy, w.out_energy) == pytest.approx(20.0, abs=1e-4)
    assert all(w.cpu_ms >= 0.0 for w in windows) and fake.closed


def test_canceller_refuses_mismatched_blocks():
    aec = make_echo_canceller(AECConfig(kind="speex"))
    with pytest.raises(ValueError, match="multiple of 256"):
        aec.process(np.zeros(300, np.float32), np.zeros(300, np.float32))
    with pytest.raises(ValueError, match="same length"):
        aec.process(np.zeros(512, np.float32), np.zeros(256, np.float32))
    aec.close()
    aec.close()  # idempotent
    assert make_echo_canceller(AECConfig(kind="none")) is None


# --- Speex on real speech through a room ---------------------------------------------------

def _speech(*names: str) -> np.ndarray:
    return np.concatenate([resolve_clip(n).audio for n in names]).astype(np.float32)


def _cancel(aec: EchoCanceller, near: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return np.concatenate([aec.process(near[k: k + 512], reference[k: k + 512])
                           for k in range(0, len(near) - 511, 512)])


@pytest.mark.parametrize("suppressor, converged_db", [(False, 15.0), (True, 25.0)])
def test_speex_cancels_real_speech_echo_through_a_room(suppressor, converged_db):
    """Three bundled clips (~17 s) played into the default room at -20 dB, no noise: after
    8 s the canceller has converged (measured here: 24 dB linear, 32 dB with the suppressor)."""
    played = _speech("librivox_sense_and_sensibility_0870", "librivox_sense_and_sensibility_0880",
                     "librivox_sense_and_sensibility_0890")
    path, _ = make_echo_path(EchoConfig(gain_db=-20, delay_ms=20, room=RoomConfig()), played_from_array(played))
    n = len(played) // 512 * 512
    echo = np.concatenate([path(k * 32.0, 512) for k in range(n // 512)])
    aec = make_echo_canceller(AECConfig(kind="speex", suppressor=suppressor))
    out = _cancel(aec, echo, played[:n])
    late = slice(8 * RATE, n)
    assert erle_db(float(np.sum(echo[late] ** 2)), float(np.sum(out[late] ** 2))) > converged_db


def test_speex_keeps_the_users_speech_in_double_talk():
    """Echo of three clips (-20 dB through the room) while another clip (the user, at full
    level) talks over it from 10 s on, after echo-only convergence: the output during the
    double talk, taken ``latency_samples`` later (the suppressor's 16 ms block), keeps the
    user's speech at level (within 3 dB of its energy: the suppressor does not eat it),
    though not untouched: its correlation with the clean user signal is 0.88-0.89 with or
    without the suppressor (measured), against 0.997 for the raw microphone, whose -20 dB
    echo barely disturbs a user at full level (the adaptive filter moves in double talk)."""
    played = _speech("librivox_sense_and_sensibility_0870", "librivox_sense_and_sensibility_0880",
                     "librivox_sense_and_sensibility_0890")
    user = _speech("cmu_arctic_a0007")
    path, _ = make_echo_path(EchoConfig(gain_db=-20, delay_ms=20, room=RoomConfig()), played_from_array(played))
    n = len(played) // 512 * 512
    near = np.concatenate([path(k * 32.0, 512) for k in range(n // 512)])
    at = 10 * RATE
    near[at: at + len(user)] += user
    aec = make_echo_canceller(AECConfig(kind="speex"))
    assert aec.latency_samples == 256
    out = _cancel(aec, near, played[:n])
    seg = slice(at + aec.latency_samples, at + aec.latency_samples + len(user))
    corr = np.corrcoef(out[seg], user)[0, 1]
    level_db = 10 * np.log10(np.sum(out[seg] ** 2) / np.sum(user ** 2))
    assert corr > 0.85 and abs(level_db) < 3.0, (corr, level_db)


# --- calibration at session start, in a fake session ----------------------------------------

class _PassThrough(_Scaling):
    """A canceller that cancels nothing: the session's wiring is what is tested."""

    def __init__(self) -> None:
        super().__init__(1.0)


def test_calibration_noise_plays_first_and_the_first_clip_waits(monkeypatch):
    """``aec.calibration_ms`` 1000 at -20 dBFS: the speaker plays seeded white noise (RMS 0.1)
    from 0 to 1000 ms, outside any reply (no playback event); the first clip is asked for at
    1000 + 1000 ms (``CALIBRATION_GAP_MS``) instead of after the 500 ms lead-in. The noise's echo
    (-20 dB, 20 ms later) reaches the microphone; with a canceller that cancels nothing, every
    echo-only frame has an ERLE of exactly 0 dB. The oracle VAD calls the echo speech, but no
    user turn is open, so nothing is answered before the clip; the reply follows as usual."""
    from voicelab.clock import run_virtual
    from voicelab.config import ExperimentConfig
    from voicelab.events import AECCalibration, EchoPathConfigured
    from voicelab.session import TurnSpec, VoiceAgent
    from voicelab.session import agent as agent_module

    from scripted_stages import scripted_stages, speech_clip

    monkeypatch.setattr(agent_module, "make_echo_canceller", lambda cfg: _PassThrough())
    cfg = ExperimentConfig.model_validate({
        "clips": ["fake"], "warmup_turns": 0, "audio": {"lead_in_ms": 500, "speaker_frame_ms": 10},
        "echo": {"gain_db": -20, "delay_ms": 20}, "aec": {"kind": "speex", "calibration_ms": 1000},
        "vad": {"turn_detector": "none"}, "speculate": {"enabled": False}})
    clip = speech_clip("speech")
    stages = scripted_stages(tokens=["Hi", "."], tts_ms_per_char=60)
    variant = cfg.resolved_variants()[0]
    result = run_virtual(VoiceAgent(cfg, stages).run([TurnSpec(clip, variant, False, (320.0, 1320.0))]))
    t = result.trace
    (cal,) = t.of(AECCalibration)
    assert (cal.t_ms, cal.duration_ms, cal.rms_dbfs) == (0.0, 1000.0, -20.0)
    (path,) = t.of(EchoPathConfigured)
    assert (path.kind, path.gain_db, path.delay_ms) == ("tap", -20.0, 20.0)
    (plan,) = t.of(TurnPlanned)
    assert plan.t_ms == 1984.0  # asked at 2000 ms, placed on the mic frame in progress (62 x 32 ms)
    noise = result.agent_audio[:24_000]
    assert np.sqrt(np.mean(noise ** 2)) == pytest.approx(0.1, rel=0.02) and not result.agent_audio[24_000:48_000].any()
    assert t.of(PlaybackStarted, 0)[0].t_ms > 1984.0 and all(p.turn == 0 for p in t.of(PlaybackStarted))
    windows = [w for w in t.of(AECWindow) if w.echo_only_frames]
    assert windows and all(erle_db(w.mic_energy, w.out_energy) == pytest.approx(0.0, abs=1e-9) for w in windows)
    # the echo, -20 dB: the played timeline is read at 16 kHz by linear interpolation from 24 kHz,
    # which lands on every other source sample and halfway between the others: white noise
    # keeps (1 + 0.5) / 2 = 0.75 of its power
    assert result.input_audio[16 * 20 + 1: 16 * 1000].std() == pytest.approx(0.01 * np.sqrt(0.75), rel=0.02)
    np.testing.assert_array_equal(result.aec_audio, result.input_audio)  # it cancelled nothing


def test_run_report_shows_echo_cancellation_only_with_it():
    """The run report's echo cancellation section: the canceller's cost and ERLE from the
    summary, and the ERLE-over-time figure; absent without a canceller."""
    import pandas as pd

    from voicelab.reports.run_figures import echo_cancellation_figure
    from voicelab.reports.run_report import render_html

    trace = Trace([AECWindow(320.0, 0.0, 10, 4.0, 10, 2.0, 0.02), AECWindow(640.0, 320.0, 10, 5.0, 0, 0.0, 0.0)])
    summary = {"name": "x", "aec": aec_summary(trace)}
    html = render_html(trace, pd.DataFrame(), summary)
    assert "<h2>Echo cancellation</h2>" in html and "0.45 ms CPU per 32 ms microphone frame" in html
    assert "10 echo-only frames 20.0 dB" in html
    assert len(echo_cancellation_figure(trace).axes) == 2
    top, bottom = echo_cancellation_figure(trace).axes
    assert (top.get_ylabel(), bottom.get_ylabel(), bottom.get_xlabel()) == ("ERLE (dB)", "CPU ms / frame",
                                                                             "session time (s)")
    # ERLE 10 log10(2 / 0.02) = 20 dB, then no echo-only frame (NaN); CPU 4 / 10 and 5 / 10 ms per frame
    np.testing.assert_allclose(top.lines[0].get_xydata(), [[0.32, 20.0], [0.64, np.nan]])
    np.testing.assert_allclose(bottom.lines[0].get_xydata(), [[0.32, 0.4], [0.64, 0.5]])
    assert "Echo cancellation" not in render_html(Trace(), pd.DataFrame(), {"name": "x"})
