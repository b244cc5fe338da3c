"""The HTML report and its figures, on a hand-built trace with known timestamps.

Turn 0 ("words-2", session clock):
  true speech 300..1300; endpoint acted on at 1800 (endpoint delay 500); STT 1800..2100;
  LLM 2100..2350, tokens 2200/2250/2300, words at 2250/2300/2350 (first word 150);
  chunk 0 at 2300 (trigger wait 50) -> TTS 2300..2500 (TTFB 200), 300 ms audio,
  played 2510..2810 (voice-to-voice 1210); chunk 1 at 2350 -> TTS 2500..2900, stall
  2810..2910, played 2910..3110. Critical path: 500 + 300 + 200 + 200, other 10.
Turn 1 ("whole") is the same shifted by 5000 ms, except that the whole reply is one
  chunk at the end of the stream (7350, trigger wait 100) -> TTS 7350..7600, played
  at 7610 (voice-to-voice 1310).
"""

import base64

import pytest
from matplotlib.figure import Figure

from voicelab.events import (
    ChunkTriggered,
    LLMFinished,
    LLMStarted,
    LLMToken,
    PlaybackStall,
    PlaybackStarted,
    PlaybackStopped,
    SpeechEnded,
    SpeechStarted,
    STTStarted,
    Trace,
    TranscriptFinal,
    TTSAudio,
    TTSStarted,
    TurnPlanned,
    WordEmitted,
)
from voicelab.measure.metrics import LATENCY_COLUMNS, summarize, turns_table
from voicelab.reports import (
    KEY_LATENCIES,
    LABELS,
    LANES,
    STAGE_COLORS,
    figure_to_png_base64,
    latency_comparison_figure,
    select_timeline_turns,
    timeline_figure,
    write_report,
)

from html_checks import embedded_pngs  # tests/html_checks.py

RATE = 24_000
VARIANTS = ["words-2", "whole"]


def _common(trace: Trace, turn: int, variant: str, o: float) -> None:
    """Events up to the LLM's end, offset by ``o`` ms."""
    trace.append(TurnPlanned(o, turn, "clip-a", variant, False, 1600.0, o + 300, o + 1300, "hello agent"))
    trace.append(SpeechStarted(o + 400, turn, o + 200))
    trace.append(SpeechEnded(o + 1800, turn, o + 1400, o + 1800))
    trace.append(STTStarted(o + 1800, turn, o + 1400))
    trace.append(TranscriptFinal(o + 2100, turn, "Hello agent & <friends>"))
    trace.append(LLMStarted(o + 2100, turn))
    for i, (t, text) in enumerate([(2200, "Hello"), (2250, " there"), (2300, " friend")]):
        trace.append(LLMToken(o + t, turn, i, text))
        if i:
            trace.append(WordEmitted(o + t, turn, i - 1, ["Hello", "there"][i - 1]))
        if variant == "words-2" and i == 2:
            trace.append(ChunkTriggered(o + 2300, turn, 0, "Hello there", 0, 1))
            trace.append(TTSStarted(o + 2300, turn, 0, (0,), "Hello there"))
    trace.append(LLMFinished(o + 2350, turn, 3, False, "Hello there friend"))
    trace.append(WordEmitted(o + 2350, turn, 2, "friend"))


def make_trace() -> Trace:
    trace = Trace()
    _common(trace, 0, "words-2", 0.0)
    trace.append(ChunkTriggered(2350, 0, 1, " friend", 2, 2))
    trace.append(TTSAudio(2500, 0, 0, int(0.3 * RATE), RATE))
    trace.append(TTSStarted(2500, 0, 1, (1,), "friend"))
    trace.append(PlaybackStarted(2510, 0, 0, 0))
    trace.append(PlaybackStall(2810, 0, 100.0))
    trace.append(TTSAudio(2900, 0, 1, int(0.2 * RATE), RATE))
    trace.append(PlaybackStarted(2910, 0, 1, int(0.3 * RATE)))
    trace.append(PlaybackStopped(3110, 0, int(0.5 * RATE)))

    o = 5000.0
    _common(trace, 1, "whole", o)
    trace.append(ChunkTriggered(o + 2350, 1, 0, "Hello there friend", 0, 2))
    trace.append(TTSStarted(o + 2350, 1, 0, (0,), "Hello there friend"))
    trace.append(TTSAudio(o + 2600, 1, 0, int(0.5 * RATE), RATE))
    trace.append(PlaybackStarted(o + 2610, 1, 0, 0))
    trace.append(PlaybackStopped(o + 3110, 1, int(0.5 * RATE)))
    return trace


def make_summary(turns) -> dict:
    metrics = summarize(turns)
    return {
        "name": "demo <report> & co",
        "created": "2025-01-01T00:00:00+00:00",
        "machine": {"platform": "Linux", "cpu_count": 2},
        "node": {"hostname": "vm", "cpu_model": "AMD EPYC 9R45", "cores": 2, "flags": ["avx2", "avx512f"]},
        "threads": {"llm_torch_threads": 1},
        "versions": {"python": "3.11"},
        "models": {"stt": {"path": "tiny.en", "load_ms": 10.0, "warmup_ms": 5.0}},
        "peak_rss_mib": 512.0,
        "config": {"name": "demo", "url_like": "not a link"},
        "metrics": metrics,
        "streaming_vs_baseline": {"words-2": {"baseline": "whole", "baseline_v2v_p50_ms": 1310.0,
                                              "v2v_p50_ms": 1210.0, "speedup": 1310.0 / 1210.0}},
    }


@pytest.fixture(scope="module")
def trace():
    return make_trace()


@pytest.fixture(scope="module")
def turns(trace):
    return turns_table(trace, 200.0)


def test_fixture_metrics_are_as_designed(turns):
    # guards the hand-built trace itself (module docstring)
    r0, r1 = turns.iloc[0], turns.iloc[1]
    assert (r0.endpoint_delay_ms, r0.stt_latency_ms, r0.first_word_latency_ms) == (500, 300, 150)
    assert (r0.trigger_wait_ms, r0.tts_ttfb_ms, r0.voice_to_voice_latency_ms) == (50, 200, 1210)
    assert (r0.playback_stall_ms, r0.framework_overhead_ms) == (100, 10)
    assert (r1.trigger_wait_ms, r1.tts_ttfb_ms, r1.voice_to_voice_latency_ms) == (100, 250, 1310)


def test_write_report_is_self_contained(tmp_path, trace, turns):
    out = write_report(tmp_path / "sub" / "report.html", trace, turns, make_summary(turns))
    assert out == tmp_path / "sub" / "report.html" and out.is_file()
    doc = out.read_text(encoding="utf-8")
    srcs = embedded_pngs(doc)  # self-contained; every <img> an embedded PNG
    # latency comparison + critical path per turn + one timeline per non-warm-up turn (2)
    assert len(srcs) == 4
    for name in VARIANTS + LATENCY_COLUMNS:
        assert name in doc


def test_report_escapes_text_and_states_environment(tmp_path, trace, turns):
    doc = write_report(tmp_path / "r.html", trace, turns, make_summary(turns)).read_text()
    assert "demo &lt;report&gt; &amp; co" in doc and "<report>" not in doc
    assert "Hello agent &amp; &lt;friends&gt;" in doc and "<friends>" not in doc
    assert "peak RSS 512 MiB" in doc
    for text in ("llm_torch_threads", "cpu_count", "tiny.en", "python", "AMD EPYC 9R45", "avx2, avx512f"):
        assert text in doc
    # the streaming-vs-baseline sentence, with 1310 / 1210 = 1.08x
    assert "first audio 1.1x sooner than the whole-response baseline (whole)" in doc
    assert "(p50 voice-to-voice 1.21 s vs 1.31 s)" in doc
    # turns table: *_ms columns rounded to 1 decimal
    assert "<td class=num>1210.0</td>" in doc


def test_report_lists_reference_boundaries_and_their_warnings(tmp_path, trace, turns):
    summary = make_summary(turns)
    summary["references"] = {
        "clip-a": {"speech_start_ms": 250.75, "speech_end_ms": 2773.9, "method": "sidecar"},
        "clip-b": {"speech_start_ms": 50.0, "speech_end_ms": 1950.0, "method": "consensus",
                   "onset_by": "energy at Whisper's first word", "offset_by": "energy at Silero's offset",
                   "agreed": ["energy", "whisper"],
                   "warnings": ["Silero missed the first word 'Please' (0-400 ms): onset moved from 450 to 50 ms"]},
    }
    doc = write_report(tmp_path / "r.html", trace, turns, summary).read_text()
    assert "<h2>Reference speech boundaries</h2>" in doc
    assert "<td>clip-a</td><td>251</td><td>2774</td><td>sidecar</td><td>–</td><td>0</td>" in doc
    assert "consensus (onset: energy at Whisper&#x27;s first word; offset: energy at Silero&#x27;s offset)" in doc
    assert ("<p class=warn>warning: clip-b: Silero missed the first word &#x27;Please&#x27; (0-400 ms): "
            "onset moved from 450 to 50 ms</p>") in doc


def test_report_survives_a_bare_summary(tmp_path, trace, turns):
    doc = write_report(tmp_path / "r.html", trace, turns, {}).read_text()
    assert "computed from the turns table" in doc
    assert doc.count("<img") == 4
    for name in VARIANTS + LATENCY_COLUMNS:
        assert name in doc


def test_warmup_turns_are_labelled_and_excluded(tmp_path, trace, turns):
    turns = turns.copy()
    turns.loc[0, "warmup"] = True
    summary = make_summary(turns)
    del summary["streaming_vs_baseline"]
    doc = write_report(tmp_path / "r.html", trace, turns, summary).read_text()
    assert doc.count("<tr class=warmup>") == 1
    assert "warm-up</span>" in doc
    assert doc.count("<img") == 3                         # one timeline: turn 1 only
    assert 'alt="timeline of turn 1"' in doc and 'alt="timeline of turn 0"' not in doc
    assert "sooner than" not in doc


def test_timeline_lanes_and_annotations(trace):
    fig = timeline_figure(trace, 0)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == LANES
    texts = [t.get_text() for t in ax.texts]
    assert "voice-to-voice 1.21 s" in texts
    assert "Hello there" in texts                        # chunk labels on the trigger lane
    title = ax.get_title(loc="left")
    assert "clip-a" in title and "words-2" in title and "Hello there friend" in title
    # bars in seconds from the turn start (TurnPlanned.t_ms = 0)
    bars = {(round(p.get_x(), 3), round(p.get_width(), 3), round(p.get_y() + p.get_height() / 2))
            for p in ax.patches}
    y = {lane: i for i, lane in enumerate(LANES)}
    assert (0.3, 1.0, y["user speech"]) in bars
    assert (1.3, 0.5, y["endpointing"]) in bars
    assert (1.8, 0.3, y["STT"]) in bars
    assert (2.1, 0.25, y["LLM"]) in bars
    assert (2.3, 0.2, y["TTS"]) in bars and (2.5, 0.4, y["TTS"]) in bars
    assert (2.51, 0.3, y["playback"]) in bars and (2.91, 0.2, y["playback"]) in bars
    stall = [p for p in ax.patches if round(p.get_x(), 3) == 2.81]
    assert len(stall) == 1 and stall[0].get_facecolor()[:3] == pytest.approx(
        tuple(int(STAGE_COLORS["stall"][i:i + 2], 16) / 255 for i in (1, 3, 5)))


def test_timeline_of_unknown_turn_raises(trace):
    with pytest.raises(KeyError):
        timeline_figure(trace, 7)


def test_summary_figures_build(turns):
    for fig in (latency_comparison_figure(turns),):
        assert isinstance(fig, Figure)
        png = base64.b64decode(figure_to_png_base64(fig))
        assert png[:4] == b"\x89PNG" and b"matplotlib.org" not in png
    # one panel per key latency; in each, a row per variant with its turn as a dot and its median
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title(loc="left") for ax in panels] == [f"{LABELS.get(c, c)} (ms)" for c in KEY_LATENCIES]
    for ax, col in zip(panels, KEY_LATENCIES):
        assert [t.get_text() for t in ax.get_yticklabels()] == VARIANTS and len(ax.patches) == 2  # two boxes
        dots = [c.get_offsets() for c in ax.collections]
        assert [d[:, 0].tolist() for d in dots] == [[turns.loc[turns["variant"] == v, col].item()] for v in VARIANTS]
        assert all(abs(d[0, 1] - j) <= 0.17 for j, d in enumerate(dots))                 # on its variant's row
    assert [t.get_text() for t in panels[0].texts] == ["p50 1210", "p50 1310"]        # voice-to-voice
    empty = turns.iloc[0:0]
    assert isinstance(latency_comparison_figure(empty), Figure)
    assert [t.get_text() for t in latency_comparison_figure(empty).axes[0].texts] == ["no non-warm-up turns to plot"]


def test_timeline_selection_is_bounded_and_stated(turns):
    chosen, note = select_timeline_turns(turns)
    assert chosen == [0, 1] and "All 2" in note
    chosen, note = select_timeline_turns(turns, limit=1)
    assert chosen == [0] and "Showing 1 of 2" in note and "clip-a" in note


def test_model_paths_are_shown_relative_to_voicelab_home(tmp_path, monkeypatch):
    from pathlib import Path

    from voicelab.assets.cache import display_path

    monkeypatch.setenv("VOICELAB_HOME", str(tmp_path / "vh"))
    model = tmp_path / "vh" / "assets" / "whisper-tiny.en"
    model.mkdir(parents=True)
    assert display_path(model) == "$VOICELAB_HOME/assets/whisper-tiny.en"
    assert display_path(Path.home() / "models" / "x.onnx") == "~/models/x.onnx"
    assert display_path("/opt/elsewhere/x.onnx") == "/opt/elsewhere/x.onnx"


def test_headline_cells_carry_the_clip_interval(tmp_path, trace, turns):
    """A summary with an interval prints ``p50 [lo, hi]``; one without (a single clip) the estimate alone."""
    summary = make_summary(turns)
    variant = next(iter(summary["metrics"]))
    summary["metrics"][variant]["voice_to_voice_latency_ms"].update({"p50": 1234.0, "p50_lo": 1100.0, "p50_hi": 1400.0})
    doc = write_report(tmp_path / "r.html", trace, turns, summary).read_text()
    assert "1234 <span class=sub>[1100, 1400]</span>" in doc
    assert "resamples whole clips" in doc
