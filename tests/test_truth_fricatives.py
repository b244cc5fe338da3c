"""The fricative extension of the reference edges, and the studio-prompt evaluation items."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from voicelab.stt.whisper import WordTiming
from voicelab.truth.consensus import consensus
from voicelab.truth.energy import EnergyAnalysis, energy_runs
from voicelab.truth.fricative import MAX_EXTEND_MS, extend_edges, fricative_frames
from voicelab.truth.prompts import fricative_final, fricative_initial, select_prompts, studio_bounds_ms

SR = 16_000


def _signal(tone_ms=(500, 1500), hiss_ms=(1500, 1700), hiss_db=-30.0, floor_db=-80.0, seed=0):
    """A 300 Hz tone (voiced speech) then a 4-8 kHz noise burst (an /s/) on a white floor."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(2 * SR) * 10 ** (floor_db / 20)
    a, b = (int(t * SR / 1000) for t in tone_ms)
    x[a:b] += 0.3 * np.sin(2 * np.pi * 300 * np.arange(b - a) / SR)
    a, b = (int(t * SR / 1000) for t in hiss_ms)
    spec = np.fft.rfft(rng.standard_normal(b - a))
    f = np.fft.rfftfreq(b - a, 1 / SR)
    spec[(f < 4000)] = 0
    hiss = np.fft.irfft(spec, b - a)
    x[a:b] += hiss / np.sqrt(np.mean(hiss ** 2)) * 10 ** (hiss_db / 20)
    return x.astype(np.float32)


def test_fricative_frames_are_the_noise_burst_exactly():
    fr = fricative_frames(_signal(), [(500.0, 1500.0)])
    assert np.flatnonzero(fr).tolist() == list(range(150, 170))  # 1500-1700 ms, not the tone, not the floor


def test_a_burst_under_the_noise_floor_is_not_fricative():
    fr = fricative_frames(_signal(hiss_db=-70.0, floor_db=-60.0), [(500.0, 1500.0)])
    assert not fr.any()


def test_extend_edges_follows_the_run_and_bridges_a_closure():
    f = np.zeros(300, dtype=bool)
    f[150:170] = True                     # /s/ right after the offset at 1500 ms
    assert extend_edges(500.0, 1500.0, f) == (500.0, 1700.0)
    f[172:180] = True                     # 20 ms closure, then more frication ("...sts")
    assert extend_edges(500.0, 1500.0, f) == (500.0, 1800.0)
    g = np.zeros(300, dtype=bool)
    g[156:170] = True                     # starts 60 ms after the offset: too far
    assert extend_edges(500.0, 1500.0, g) == (500.0, 1500.0)
    h = np.zeros(300, dtype=bool)
    h[30:50] = True                       # an /s/ or /h/ onset ending at the speech start
    assert extend_edges(500.0, 1500.0, h) == (300.0, 1500.0)
    assert extend_edges(500.0, 1500.0, h, lower_ms=400.0) == (400.0, 1500.0)


def test_extend_edges_stops_at_the_maximum():
    f = np.zeros(300, dtype=bool)
    f[100:] = True
    assert extend_edges(500.0, 1000.0, f) == (500.0, 1000.0 + MAX_EXTEND_MS)
    with pytest.raises(ValueError, match="after"):
        extend_edges(900.0, 900.0, f)


def test_consensus_keeps_the_fricative_tail_silero_dropped():
    x = _signal()
    e = EnergyAnalysis(np.zeros(1), -80.0, -70.0, -75.0, [(500.0, 1500.0)])
    words = [WordTiming("the", 0.0, 900.0, 0.9), WordTiming("bus.", 1000.0, 1600.0, 0.9)]
    ref = consensus([(512.0, 1536.0)], e, words, 1536.0, fricative_frames(x, [(512.0, 1536.0)]))
    assert (ref.start_ms, ref.end_ms) == (500.0, 1700.0)
    assert ref.offset_by == "energy at Silero's offset + fricative tail"
    plain = consensus([(512.0, 1536.0)], e, words, 1536.0)
    assert plain.end_ms == 1500.0


def _tone(x, hz, amp, ms):
    a, b = (int(t * SR / 1000) for t in ms)
    x[a:b] += amp * np.sin(2 * np.pi * hz * np.arange(b - a) / SR)


def _in_white_noise(noise_db=-50.0, tail=True, modulated=False, seed=0):
    """A 1 kHz vowel (500-1500 ms, -23 dB in the band) in white noise, then (``tail``) a
    350 Hz nasal-like tail (1500-1600 ms) 3 dB under the noise's 300-3400 Hz level but
    10 dB over its 300-450 Hz level. ``modulated``: the noise swings +-10 dB at 3 Hz."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(2 * SR) * 10 ** (noise_db / 20)
    if modulated:
        x *= 10 ** (10 * np.sin(2 * np.pi * 3 * np.arange(2 * SR) / SR) / 20)
    _tone(x, 1000, 0.1, (500, 1500))
    if tail:
        _tone(x, 350, 0.0019 * 10 ** ((noise_db + 50) / 20), (1500, 1600))
    return x.astype(np.float32)


def test_in_steady_noise_a_sub_band_keeps_a_word_end_the_band_level_loses():
    e = energy_runs(_in_white_noise(), [(500.0, 1500.0)])
    assert e.steady and e.runs_ms == [(500.0, 1600.0)]
    e = energy_runs(_in_white_noise(tail=False), [(500.0, 1500.0)])  # white noise only: no extension
    assert e.steady and e.runs_ms == [(500.0, 1500.0)]


def test_sub_bands_are_not_used_in_swinging_noise_or_a_clean_floor():
    e = energy_runs(_in_white_noise(modulated=True), [(500.0, 1500.0)])   # babble-like
    assert not e.steady and (340.0, 1500.0) in e.runs_ms                 # the tail is not found
    e = energy_runs(_in_white_noise(noise_db=-95.0), [(500.0, 1500.0)])  # not noise-limited
    assert not e.steady and e.runs_ms == [(500.0, 1500.0)]


def _burst_in_white_noise(burst_db=14.0, burst=True, seed=0):
    """A 300 Hz vowel (500-1500 ms) in white noise at -45 dB, then (``burst``) a 2-2.8 kHz
    noise burst (1500-1700 ms, an /sh/-like frication) ``burst_db`` over the noise's own
    level in 2-2.8 kHz, which is only 5 dB over its 2-8 kHz level."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(2 * SR) * 10 ** (-45.0 / 20)
    _tone(x, 300, 0.3, (500, 1500))
    if burst:
        a, b = 1500 * SR // 1000, 1700 * SR // 1000
        spec = np.fft.rfft(rng.standard_normal(b - a))
        f = np.fft.rfftfreq(b - a, 1 / SR)
        spec[(f < 2000) | (f > 2800)] = 0
        h = np.fft.irfft(spec, b - a)
        x[a:b] += h / np.sqrt(np.mean(h ** 2)) * np.sqrt(10 ** (-45.0 / 10) * 0.8 / 8 * 10 ** (burst_db / 10))
    return x.astype(np.float32)


def test_in_steady_noise_a_band_limited_burst_is_fricative_in_its_sub_band():
    x = _burst_in_white_noise()
    assert not fricative_frames(x, [(500.0, 1500.0)]).any()          # under the 2-8 kHz threshold
    fr = fricative_frames(x, [(500.0, 1500.0)], steady=True)
    assert 15 <= fr.sum() and set(np.flatnonzero(fr)) <= set(range(150, 170))
    assert extend_edges(500.0, 1500.0, fr) == (500.0, 1700.0)


def test_a_white_noise_only_tail_extends_no_edge():
    x = _burst_in_white_noise(burst=False)
    for steady in (False, True):
        fr = fricative_frames(x, [(500.0, 1500.0)], steady=steady)
        assert not fr.any()
        assert extend_edges(500.0, 1500.0, fr) == (500.0, 1500.0)


def test_an_edge_off_the_frame_grid_stays_put_without_frication():
    assert extend_edges(512.0, 1536.0, np.zeros(300, dtype=bool)) == (512.0, 1536.0)


@pytest.mark.parametrize("word, final, initial", [
    ("bus", True, False), ("please", True, False), ("box", True, False), ("off", True, False),
    ("finish", True, True), ("month", True, False), ("enough", True, False), ("through", False, True),
    ("hour", False, False), ("hello", False, True), ("cell", False, True), ("now", False, False),
    ("z", False, True), ("phone", False, True), ("with", False, False)])
def test_the_spelling_rule(word, final, initial):
    assert (fricative_final(word), fricative_initial(word)) == (final, initial)


def test_select_prompts_kinds():
    t = {"a": "All circuits are busy now.", "b": "Goodbye, thanks", "c": "Thank you for calling us.",
         "d": "[beep]", "letters/s": "S.", "e": "Sorry", "g": "Hello there."}
    got = [(p.name, p.kind) for p in select_prompts(t)]
    assert got == [("b", "fricative-final"), ("c", "fricative-both"), ("g", "fricative-initial")]


def test_studio_bounds_are_the_frames_30_db_above_the_floor():
    x = np.random.default_rng(1).standard_normal(8000) * 10 ** (-90 / 20)   # 1 s at 8 kHz, -90 dB
    x[2000:6000] += 10 ** (-30 / 20) * np.random.default_rng(2).standard_normal(4000)
    x[6000:6400] += 10 ** (-58 / 20) * np.random.default_rng(3).standard_normal(400)  # 32 dB up: kept
    x[6400:6800] += 10 ** (-65 / 20) * np.random.default_rng(4).standard_normal(400)  # 25 dB up: not
    assert studio_bounds_ms(x, 8000) == (250.0, 800.0)
    with pytest.raises(ValueError, match="silent"):
        studio_bounds_ms(np.zeros(800), 8000)


def _asterisk_prompts() -> Path | None:
    """The built corpus keeps the Asterisk prompts as packaged (8 kHz WAV) in
    ``sources/asterisk``; ``VOICELAB_ASTERISK_PROMPTS`` may name an extracted package tree instead."""
    from voicelab.corpus.cache import corpus_dir

    if "VOICELAB_ASTERISK_PROMPTS" in os.environ:
        from voicelab.truth.prompts import find_prompt_files

        return find_prompt_files(Path(os.environ["VOICELAB_ASTERISK_PROMPTS"]))[0]
    sounds = corpus_dir() / "sources" / "asterisk"
    return sounds if (sounds / "conf-placeintoconf.wav").is_file() else None


@pytest.mark.integration
def test_a_real_fricative_final_prompt_keeps_its_s():
    from voicelab.truth import ReferenceFinder
    from voicelab.truth.prompts import Prompt, load_prompt

    sounds = _asterisk_prompts()
    if sounds is None:
        pytest.skip("the corpus is not built (`make assets` builds it, with the Asterisk prompts "
                    "this test reads), and VOICELAB_ASTERISK_PROMPTS is not set")
    audio, (a, b) = load_prompt(sounds, Prompt("conf-placeintoconf", "...into the conference.", "fricative-final"))
    ref = ReferenceFinder(cache=False).find(audio)
    assert abs(ref.end_ms - b) <= 30.0, (ref.end_ms, b, ref.offset_by)
    assert "fricative tail" in ref.offset_by
