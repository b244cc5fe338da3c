"""Duplex scenario generation, clip names, background mixing and the experiment files
(fake corpus: tests/duplex_fakes.py; the committed-YAML check needs the built corpus)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from voicelab.audio.clips import resolve_clip
from voicelab.audio.load import AudioError
from voicelab.config import parse_config
from voicelab.lab import duplex_clips as dc
from voicelab.lab.duplex_experiments import AGENTS, SEED, experiment_data, experiment_yaml
from voicelab.lab.duplex_scenarios import (
    BACKCHANNEL_OFFSET_MS,
    BACKGROUND_LEVEL_DB,
    BACKGROUND_OFFSET_MS,
    CATEGORIES,
    INTERRUPT_OFFSET_MS,
    chunk,
    generate_items,
    items_of_scenario,
    pools,
)
from voicelab.lab.sweep import expand_grid

from duplex_fakes import eot, fake_corpus

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def corpus():
    items = fake_corpus()
    return items, {it.id: it for it in items}


def _kind(by_id):
    return lambda clip: by_id[dc.parse_clip_name(clip).user].kind


def test_pools_pick_roles_by_kind_flags_and_length(corpus):
    items, _ = corpus
    p = pools(items)
    assert [it.id for it in p["turn"]] == [f"rec{i}" for i in range(6)]  # not short, not too long
    assert [it.id for it in p["hold"]] == ["rec0+700ms@800", "rec3+300ms@900"]
    assert [it.id for it in p["backchannel"]] == ["okay", "yes"]


def test_generate_exact_counts_layout_and_seeded_timing(corpus):
    items, by_id = corpus
    gen = generate_items(items, 7, seed=3)
    assert len(gen) == 35
    assert [g.category for g in gen[:5]] == list(CATEGORIES)  # round-robin interleaving
    assert Counter(g.category for g in gen) == {c: 7 for c in CATEGORIES}
    assert generate_items(items, 7, seed=3) == gen  # seeded
    assert generate_items(items, 7, seed=4) != gen
    assert generate_items(items, 3, seed=3) == gen[:15]  # smaller sets are prefixes (3 rounds of 5)
    for g in gen:
        first = g.turns[0]
        assert first == {"clip": first["clip"]}  # after_reply, default offset
        if g.category in ("pause_handling", "smooth_turn_taking"):
            assert len(g.turns) == 1
            assert by_id[dc.parse_clip_name(first["clip"]).user].kind == (
                "hold" if g.category == "pause_handling" else "eot")
        elif g.category == "background_speech":
            spec = dc.parse_clip_name(first["clip"])
            assert spec.level_db == BACKGROUND_LEVEL_DB == -10.0
            assert BACKGROUND_OFFSET_MS[0] <= spec.offset_ms <= BACKGROUND_OFFSET_MS[1] and spec.offset_ms % 10 == 0
            assert by_id[spec.user].recording != by_id[spec.background].recording
        else:
            a, b = (by_id[dc.parse_clip_name(t["clip"]).user] for t in g.turns)
            second = g.turns[1]
            assert second["start"] == "after_agent_starts" and a.recording != b.recording
            span = BACKCHANNEL_OFFSET_MS if g.category == "user_backchannel" else INTERRUPT_OFFSET_MS
            assert span[0] <= second["offset_ms"] <= span[1] and second["offset_ms"] % 10 == 0
            assert second.get("backchannel", False) == (g.category == "user_backchannel")
            assert ("backchannel" in b.flags) == (g.category == "user_backchannel")
    # the scenario maps back to the same items and categories
    turns = [t for g in gen for t in g.turns]
    back = items_of_scenario(turns, _kind(by_id))
    assert [c for c, _ in back] == [g.category for g in gen]
    assert [len(idx) for _, idx in back] == [len(g.turns) for g in gen]


def test_generate_rejects_missing_pools_and_bad_counts(corpus):
    items, _ = corpus
    with pytest.raises(ValueError, match="'backchannel' role"):
        generate_items([it for it in items if "backchannel" not in it.flags], 2, 0)
    with pytest.raises(ValueError, match="per_category"):
        generate_items(items, 0, 0)


def test_chunks_hold_whole_items_within_the_turn_limit(corpus):
    gen = generate_items(corpus[0], 10, 0)  # 50 items, 70 turns
    chunks = chunk(gen, 16)
    assert [it for c in chunks for it in c] == gen
    sizes = [sum(len(it.turns) for it in c) for c in chunks]
    assert max(sizes) <= 16 and sum(sizes) == 70
    assert all(a + len(b[0].turns) > 16 for a, b in zip(sizes, chunks[1:]))  # packed greedily
    with pytest.raises(ValueError):
        chunk(gen, 1)


def test_items_of_scenario_rejects_a_dangling_overlap_turn():
    with pytest.raises(ValueError, match="must follow"):
        items_of_scenario([{"clip": "corpus:a", "start": "after_agent_starts"}], lambda c: "eot")
    with pytest.raises(ValueError, match="not a corpus"):
        items_of_scenario([{"clip": "cmu_arctic_a0007"}], lambda c: "eot")


def test_clip_names_parse_and_stems_are_safe_and_distinct():
    spec = dc.parse_clip_name("mix:asterisk/a b|pocketsphinx/cards/001|-10dB|1250ms")
    assert (spec.user, spec.background, spec.level_db, spec.offset_ms) == (
        "asterisk/a b", "pocketsphinx/cards/001", -10.0, 1250.0)
    assert dc.mix_name("u", "b", -10.0, 1250) == "mix:u|b|-10dB|1250ms"
    assert dc.parse_clip_name("corpus:asterisk/x+300ms@20") == dc.ClipSpec("corpus:asterisk/x+300ms@20",
                                                                         "asterisk/x+300ms@20")
    for bad in ("corpus:", "mix:a|b|-10|5ms", "mix:a|b|-10dB", "bundled"):
        with pytest.raises(dc.DuplexClipError):
            dc.parse_clip_name(bad)
    s1, s2 = dc.clip_stem("corpus:a/b+1"), dc.clip_stem("corpus:a/b_1")
    assert s1 != s2 and s1.startswith("a_b_1-") and all(c.isalnum() or c in "_.-" for c in s1)


def test_mix_is_exactly_minus_10_db_by_rms_over_speech_at_the_seeded_onset():
    user, bg = eot("u", (200.0, 1400.0), amplitude=0.2, seed=1), eot("b", (300.0, 1100.0), amplitude=0.05, seed=2)
    mix, onset = dc.mix_background(user.audio, user.speech_ms, bg.audio, bg.speech_ms, -10.0, 750.0)
    assert onset == 1400.0 + 750.0
    at = int(onset * 16) - int(300.0 * 16)  # where the background item's first sample lands
    assert len(mix) == at + len(bg.audio)
    added = mix.astype(np.float64)
    added[:len(user.audio)] -= user.audio
    level = dc.speech_rms_db(added, (onset, onset + 800.0)) - dc.speech_rms_db(user.audio, user.speech_ms)
    assert level == pytest.approx(-10.0, abs=1e-4)
    assert not np.any(added[:at])  # nothing of the background before its item starts
    np.testing.assert_allclose(mix[:int(1400.0 * 16)], user.audio[:int(1400.0 * 16)])  # the user's speech is intact


def test_mix_scales_down_a_clipping_sum_keeping_the_relative_level():
    user, bg = eot("u", (0.0, 500.0), amplitude=0.9, seed=1), eot("b", (0.0, 500.0), amplitude=0.9, seed=2)
    mix, onset = dc.mix_background(user.audio, user.speech_ms, bg.audio, bg.speech_ms, -10.0, 0.0)
    assert onset == 500.0 and np.max(np.abs(mix)) == pytest.approx(1.0)  # N(0, 0.9) noise peaks above 1
    level = dc.speech_rms_db(mix, (500.0, 1000.0)) - dc.speech_rms_db(mix, (0.0, 500.0))
    assert level == pytest.approx(-10.0, abs=1e-4)
    with pytest.raises(ValueError, match="offset_ms"):
        dc.mix_background(user.audio, user.speech_ms, bg.audio, bg.speech_ms, 0.0, -1.0)
    with pytest.raises(ValueError, match="no signal"):
        dc.mix_background(user.audio, (3000.0, 3500.0), bg.audio, bg.speech_ms, 0.0, 0.0)


def test_hold_item_segments_split_at_the_pause_silence(corpus):
    _, by_id = corpus
    assert dc.role_segments(by_id["rec0+700ms@800"]) == [(200.0, 760.0, "turn"), (760.0, 1540.0, "hold_pause"),
                                                         (1540.0, 2200.0, "turn")]
    assert dc.role_segments(by_id["rec1"]) == [(210.0, 1600.0, "turn")]


def test_materialised_mix_keeps_the_clean_reference_and_is_reused(corpus, tmp_path):
    _, by_id = corpus
    name = dc.mix_name("rec1", "rec2", -10.0, 1000)
    wav = dc.materialise(name, by_id, "sha-a", tmp_path)
    assert wav == tmp_path / f"{dc.clip_stem(name)}.wav"
    clip = resolve_clip(wav)
    assert clip.speech_bounds_ms == (210.0, 1600.0)  # the clean user's reference, not the mix's
    assert clip.reference_text == "fake words" and clip.name == dc.clip_stem(name)
    meta = json.loads(wav.with_suffix(".json").read_text())
    assert meta["segments"] == [[210.0, 1600.0, "turn"], [2600.0, 2600.0 + 1480.0, "background"]]
    assert (meta["kind"], meta["group"], meta["corpus_index_sha256"]) == ("mix", "rec1.wav", "sha-a")
    mtime = wav.stat().st_mtime_ns
    assert dc.materialise(name, by_id, "sha-a", tmp_path) == wav and wav.stat().st_mtime_ns == mtime
    dc.materialise(name, by_id, "sha-b", tmp_path)  # another corpus build: made again
    assert json.loads(wav.with_suffix(".json").read_text())["corpus_index_sha256"] == "sha-b"
    with pytest.raises(dc.DuplexClipError, match="no corpus item"):
        dc.materialise("corpus:nope", by_id, "sha-a", tmp_path)
    with pytest.raises(dc.DuplexClipError, match="hold items"):
        dc.materialise(dc.mix_name("rec0+700ms@800", "rec2", -10, 1000), by_id, "sha-a", tmp_path)


def test_resolve_clip_name_passes_other_names_and_reports_bad_ones(monkeypatch, corpus, tmp_path):
    _, by_id = corpus
    assert dc.resolve_clip_name("cmu_arctic_a0007") == "cmu_arctic_a0007"
    monkeypatch.setattr(dc, "corpus_items", lambda root=None: (by_id, "sha"))
    monkeypatch.setenv("VOICELAB_HOME", str(tmp_path))
    assert Path(dc.resolve_clip_name("corpus:rec2")) == tmp_path / "duplex" / f"{dc.clip_stem('corpus:rec2')}.wav"
    with pytest.raises(AudioError, match="no corpus item"):
        dc.resolve_clip_name("corpus:missing")


@pytest.mark.parametrize("agent", list(AGENTS))
def test_experiment_files_are_valid_resumable_sweeps(corpus, agent):
    items, by_id = corpus
    data, chunks = experiment_data(agent, items, seed=1, per_category=4)
    text = experiment_yaml(agent, items, "sha", seed=1, per_category=4)
    assert yaml.safe_load(text) == json.loads(json.dumps(data))
    config = parse_config(yaml.safe_load(text), "test")
    points = expand_grid(config)
    assert len(points) == len(chunks) and config.sweep.repetitions == 1
    turns = [t.model_dump() for p in points for t in p.config.scenario]
    assert [c for c, _ in items_of_scenario(turns, _kind(by_id))] == [it.category for c in chunks for it in c]
    assert Counter(it.category for c in chunks for it in c) == {c: 4 for c in CATEGORIES}
    cfg = points[0].config
    assert cfg.llm.history is False
    if agent == "barge_in":
        assert (cfg.barge_in.mode, cfg.barge_in.min_barge_in_ms, cfg.aec.kind) == ("pause_confirm", 32, "speex")
        assert cfg.echo.room is not None and cfg.echo.gain_db == -20
    engines = {v.engine for v in cfg.resolved_variants()}
    assert engines == ({"pipecat"} if agent == "pipecat" else {"voicelab"})


def test_committed_experiment_files_equal_the_generator_output():
    from voicelab.corpus import CorpusError

    try:
        by_id, sha = dc.corpus_items()
    except CorpusError as err:
        pytest.skip(f"needs the built corpus (make assets): {err}")
    for agent in AGENTS:  # the header's index sha256 says which build it was made from: not compared
        path = REPO / "experiments" / f"duplex_{agent}.yaml"
        text = path.read_text()
        committed_sha = re.search(r"index\.json sha256\s+(?:#\s+)?([0-9a-f]{64})", text)
        assert committed_sha, f"{path}: no corpus index sha256 in the header"
        assert text == experiment_yaml(agent, list(by_id.values()), committed_sha[1], SEED), (
            f"{path} is stale (corpus index now {sha}): run `voicelab duplex generate`")
