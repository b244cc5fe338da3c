"""A Pipecat reply restart, replayed exactly from a recording of a real Pipecat 1.14 run.

``tests/data/pipecat_restart.json`` holds, for two turns of a real run (see its ``recorded``
field; re-record with ``python tests/test_peers_restart.py``): every call Pipecat's frames
made on :class:`FrameTranslator` (session time in ms, the turn, the method, its arguments),
the speaker's events (``TurnPlanned``, ``Playback*``) and what Whisper heard in each turn's
played audio (the round-trip transcript). In both turns Pipecat ended the user turn on an
early transcript ("I'll ask to be rather..."), started a reply ("I", handed to TTS, no
audio yet), then the rest of the transcript came, and it interrupted that reply and answered
again. Replaying the calls through the translator and :func:`turns_table` must give the
turn's text as said (both replies), the false start in its own columns, and word indices
that agree between the words and the chunks handed to TTS.

Every expected value below is read off the fixture by hand (the comments say where).
"""

import json
import math
import sys
from pathlib import Path

import pytest

from voicelab.events import ChunkTriggered, Event, LLMFinished, LLMStarted, Trace, WordEmitted
from voicelab.measure.metrics import turns_table, wer
from voicelab.peers.pipecat.observer import FrameTranslator

FIXTURE = Path(__file__).parent / "data" / "pipecat_restart.json"
METHODS = ("vad_started", "vad_stopped", "transcript", "turn_predicted", "user_turn_ended", "llm_started",
           "llm_text", "llm_finished", "tts_request", "tts_audio", "reported")
"""The :class:`FrameTranslator` calls Pipecat's frames make (recorded and replayed)."""


def replay(fixture: dict) -> Trace:
    """The trace the translator makes of the recorded calls, beside the recorded speaker events."""
    trace = Trace(Event.from_dict(d) for d in fixture["events"])
    turn = [-1]
    tr = FrameTranslator(trace, lambda: turn[0], **fixture["translator"])
    for t_ms, turn[0], name, args in fixture["calls"]:
        if name not in METHODS:
            raise ValueError(f"unknown FrameTranslator call {name!r} in {FIXTURE}")
        getattr(tr, name)(t_ms, *args)
    tr.flush()
    return trace


@pytest.fixture(scope="module")
def recorded():
    fixture = json.loads(FIXTURE.read_text())
    trace = replay(fixture)
    return fixture, trace, turns_table(trace, 200.0).set_index("turn")


def test_fixture_is_a_recording_with_a_restart(recorded):
    fixture, trace, _ = recorded
    assert fixture["recorded"]["pipecat"].startswith("1.14")
    for turn in (0, 1):  # two replies started in each turn: a restart
        assert len(trace.of(LLMStarted, turn)) == 2
        assert len(trace.of(LLMFinished, turn)) == 2
    # turn 0's second reply was still open when turn 1 began: closed at its last frame (30542.982)
    last = trace.of(LLMFinished, 0)[1]
    assert (last.t_ms, last.cancelled) == (30542.982, True)
    assert not trace.of(LLMFinished, 1)[1].cancelled  # turn 1's ended by its own end frame


def test_turn_text_is_everything_said_and_the_false_start_has_its_columns(recorded):
    _, _, turns = recorded
    # turn 0: reply 1 = "I" (llm_text at 6646.4, tts_request "I"), restarted at 6838.0; reply 2
    # was still being generated when turn 1 began (its last token " I" at 30542.982): closed there
    t0 = turns.loc[0]
    assert t0.response_text == "I I'm sorry for any misunderstanding, but as a voice assistant, I"
    assert (t0.restarted_replies, t0.false_start_text) == (1, "I")
    # the false start's "I" never reached the speaker: playback began (9890.0) after the restart
    assert t0.false_start_audio_ms == 0.0
    # turn 1: reply 1 = "I" (restarted at 42074.7), reply 2 = 'The term "' (ended with the session)
    t1 = turns.loc[1]
    assert t1.response_text == 'I The term "'
    assert (t1.restarted_replies, t1.false_start_text, t1.false_start_audio_ms) == (1, "I", 0.0)


def test_words_and_chunks_agree_across_the_restart(recorded):
    _, trace, _ = recorded
    # a restarted reply's words follow the earlier reply's: turn 1's chunks "I" | "The", " term", ' "'
    words = {w.index: w.text for w in trace.of(WordEmitted, 1)}
    assert words == {0: "I", 1: "The", 2: "term", 3: '"'}
    spans = [(c.text, c.first_word, c.last_word) for c in trace.of(ChunkTriggered, 1)]
    assert spans == [("I", 0, 0), ("The", 1, 1), (" term", 2, 2), (' "', 3, 3)]
    # turn 0: the second reply's "I" + "'m" is one word (1), not glued to the false start's "I"
    chunks0 = [(c.text, c.first_word, c.last_word) for c in trace.of(ChunkTriggered, 0)][:4]
    assert chunks0 == [("I", 0, 0), ("I", 1, 1), ("'m", 1, 1), (" sorry", 2, 2)]
    assert [w.text for w in trace.of(WordEmitted, 0)][:3] == ["I", "I'm", "sorry"]


def test_roundtrip_wer_compares_the_played_audio_with_what_was_said(recorded):
    fixture, _, turns = recorded
    heard = fixture["heard"]  # Whisper's transcript of each turn's played audio, recorded
    # turn 0: the speaker closed the reply in a long stall (the machine was loaded), Whisper
    # heard 6 words. Normalised, said = i im sorry for any misunderstanding but as a voice
    # assistant i (12), heard = i am sorry for any misunderstanding: 1 substitution (im/am)
    # and 6 deletions -> 7/12
    assert heard["0"] == "I am sorry for any misunderstanding."
    assert wer(turns.loc[0].response_text, heard["0"]) == pytest.approx(7 / 12)
    # the run's published figure compared the false start "I" alone: 5 insertions -> 5.0
    assert wer("I", heard["0"]) == pytest.approx(5.0)
    # turn 1: said = i the term, heard = there: 1 substitution and 2 deletions -> 1.0
    assert heard["1"] == "There."
    assert wer(turns.loc[1].response_text, heard["1"]) == pytest.approx(1.0)


def test_one_reply_per_turn_keeps_its_text_and_no_false_start():
    # voicelab's own engine: one reply, cancelled by a barge-in; its text is unchanged (not stripped)
    from voicelab.events import TurnPlanned
    trace = Trace([TurnPlanned(0.0, 0, "c", "v", False, 1000.0, 0.0, 900.0, "hello there"),
                   LLMStarted(1000.0, 0), LLMFinished(1500.0, 0, 3, True, " Hi there ")])
    row = turns_table(trace, 200.0).iloc[0]
    assert row.response_text == " Hi there "
    assert (row.restarted_replies, row.false_start_text, row.false_start_audio_ms) == (0, "", 0.0)


def test_false_start_audio_is_what_played_before_the_restart():
    # scripted: a false start played from 1200 to 1450 ms with a 50 ms stall -> 200 ms; another
    # run on into the final reply's audio cannot be split: NaN
    from voicelab.events import PlaybackStall, PlaybackStarted, PlaybackStopped, TTSAudio, TurnPlanned
    base = [TurnPlanned(0.0, 0, "c", "v", False, 1000.0, 0.0, 900.0, "hello there"), LLMStarted(1000.0, 0),
            PlaybackStarted(1200.0, 0, 0, 0), PlaybackStall(1300.0, 0, 50.0), LLMFinished(1400.0, 0, 1, False, "Hi"),
            LLMStarted(1420.0, 0), TTSAudio(1600.0, 0, 1, 100, 24000)]
    cut = turns_table(Trace(base[:5] + [PlaybackStopped(1450.0, 0, 6000, True)] + base[5:]), 200.0).iloc[0]
    assert (cut.restarted_replies, cut.false_start_audio_ms) == (1, 200.0)
    assert cut.false_start_text == ""  # no chunk of it was handed to TTS
    on = turns_table(Trace(base + [PlaybackStopped(2000.0, 0, 19200, False)]), 200.0).iloc[0]
    assert math.isnan(on.false_start_audio_ms)


# --- recording (run by hand: needs Pipecat and the model assets) ----------------------
def record(out: Path, clip: str = "librivox_sense_and_sensibility_0890", repetitions: int = 2) -> None:
    """Run ``experiments/vs_pipecat.yaml``'s ``pipecat-fastest`` variant (max 40 new tokens)
    on ``clip`` and write every :class:`FrameTranslator` call, the speaker's events and the
    round-trip transcripts to ``out`` (JSON)."""
    import datetime
    import importlib.metadata
    import platform
    import tempfile

    import yaml

    import voicelab.measure.quality as quality
    import voicelab.peers.pipecat.engine as engine
    from voicelab.config import ExperimentConfig
    from voicelab.lab.runner import run_experiment

    calls, heard, settings = [], [], {}

    class Recording(FrameTranslator):
        def __init__(self, trace, turn_of, **kw):
            super().__init__(trace, turn_of, **kw)
            settings.update(vad_start_s=kw["vad_start_s"], vad_stop_s=kw["vad_stop_s"], token_chunks=kw["token_chunks"])

    for name in METHODS:
        def call(self, t_ms, *args, _name=name):
            calls.append([round(t_ms, 3), self._turn_of(), _name, list(args)])
            return getattr(FrameTranslator, _name)(self, t_ms, *args)
        setattr(Recording, name, call)
    engine.FrameTranslator = Recording
    wer_ = quality.wer
    quality.wer = lambda said, text: heard.append(text) or wer_(said, text)

    base = yaml.safe_load(Path("experiments/vs_pipecat.yaml").read_text())
    variant = next(v for v in base["variants"] if v["name"] == "pipecat-fastest")
    cfg = ExperimentConfig.model_validate({**base, "name": "pipecat-restart", "clips": [clip], "warmup_turns": 0,
                                           "repetitions": repetitions, "variants": [variant],
                                           "llm": {**base["llm"], "max_new_tokens": 40}})
    with tempfile.TemporaryDirectory() as tmp:
        result = run_experiment(cfg, Path(tmp), log=lambda m: None, report=False, keep_audio=False)
        trace = Trace.load_jsonl(Path(tmp) / "events.jsonl")
    kinds = ("TurnPlanned", "PlaybackStarted", "PlaybackStall", "PlaybackStopped")
    played = [int(t) for t, w in zip(result.turns["turn"], result.turns["tts_roundtrip_wer"]) if not math.isnan(w)]
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    out.write_text(json.dumps({
        "recorded": {"pipecat": importlib.metadata.version("pipecat-ai"), "date": datetime.date.today().isoformat(),
                     "cpu": cpu, "clip": clip, "variant": variant, "max_new_tokens": 40},
        "translator": settings,
        "events": [e.to_dict() for e in trace if type(e).__name__ in kinds],
        "calls": [c for c in calls if c[1] >= 0],
        "heard": dict(zip(map(str, played), heard)),
    }, indent=None, separators=(",", ":")).replace('],[', '],\n['))


if __name__ == "__main__":
    record(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURE)
