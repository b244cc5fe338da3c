"""The sweep report on a hand-built sweep directory with known numbers.

Grid: trigger.words in [1, 2] x vad.kind in [silero, energy] (words outer) -> points
p0..p3; 2 repetitions; per run a warm-up turn 0 (every metric absurd: 1e6 ms,
WER 9) then turn 1 (clip-a) and turn 2 (clip-b).

voice-to-voice (ms), non-warm-up:
  p0: rep 0 -> 1000, 1400; rep 1 -> 1250, NaN (no audio played)  => p50 1250; the
      representative turn is rep 1, turn 1 (with the warm-up rows it would be
      rep 0, turn 2: median of [1000, 1250, 1400, 1e6, 1e6] is 1400)
  p_i (i >= 1): base, base+100, base+200, base+300 with base = 1000 + 300 i => p50 base+150
tts_roundtrip_wer = 0.05 (i + 1), stt_wer = 0.1, playback_stall_ms = 0, 0, 100 i, 100 i
(median 50 i), tts_requests = 2, mean_chunk_words = 3.
"""

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from voicelab.events import (
    ChunkTriggered,
    LLMFinished,
    LLMStarted,
    LLMToken,
    PlaybackStarted,
    PlaybackStopped,
    SpeechEnded,
    STTStarted,
    Trace,
    TranscriptFinal,
    TTSAudio,
    TTSStarted,
    TurnPlanned,
    WordEmitted,
)
from voicelab.measure.metrics import EXTRA_COLUMNS, LATENCY_COLUMNS, turns_table
from voicelab.reports import (
    box_figures,
    cdf_figure,
    headline_table,
    load_sweep,
    parameter_groups,
    representative_turn,
    tradeoff_figure,
    write_sweep_report,
)

from html_checks import embedded_pngs  # tests/html_checks.py

GRID = {"trigger.words": [1, 2], "vad.kind": ["silero", "energy"]}
COMBOS = [(1, "silero"), (1, "energy"), (2, "silero"), (2, "energy")]
LABELS = [f"trigger.words={w}, vad.kind={k}" for w, k in COMBOS]
IDS = [f"p{i:02d}-abc" for i in range(4)]
ABSURD = 1e6
RATE = 24_000


def _v2v(i: int, rep: int, clip: int) -> float:
    if i == 0:
        return [[1000.0, 1400.0], [1250.0, math.nan]][rep][clip]
    return 1000.0 + 300 * i + 100 * (2 * rep + clip)


def make_results(grid=GRID, combos=COMBOS, with_roundtrip=True) -> pd.DataFrame:
    rows = []
    for i, combo in enumerate(combos):
        params = dict(zip(grid, combo))
        label = ", ".join(f"{k}={v}" for k, v in params.items())
        for rep in range(2):
            for turn, clip, warm in ((0, "clip-a", True), (1, "clip-a", False), (2, "clip-b", False)):
                row = {"point": label, "point_id": IDS[i], "repetition": rep, "run_id": f"{IDS[i]}/rep-{rep}",
                       "turn": turn, "clip": clip, "variant": "default", "warmup": warm, **params}
                for col in LATENCY_COLUMNS + EXTRA_COLUMNS:
                    row[col] = ABSURD
                row.update(stt_wer=9.0, tts_roundtrip_wer=9.0, tts_requests=999, chunks=999,
                           mean_chunk_words=999.0, response_words=999, transcript="<b>hi</b>",
                           response_text="hello & bye")
                if not warm:
                    c = turn - 1
                    row.update(voice_to_voice_latency_ms=_v2v(i, rep, c),
                               first_word_latency_ms=100.0 + 10 * i + 5 * (2 * rep + c),
                               word_to_audio_latency_ms=200.0 + 10 * i + 5 * (2 * rep + c),
                               tts_ttfb_ms=150.0, endpoint_delay_ms=500.0,
                               playback_stall_ms=100.0 * i * rep,
                               stt_wer=0.1, tts_roundtrip_wer=0.05 * (i + 1), tts_requests=2,
                               chunks=2, mean_chunk_words=3.0, response_words=6)
                rows.append(row)
    df = pd.DataFrame(rows)
    if not with_roundtrip:
        df["tts_roundtrip_wer"] = math.nan
    return df


def make_meta(grid=GRID, combos=COMBOS, name="demo <sweep> & co") -> dict:
    return {
        "name": name,
        "grid": grid,
        "repetitions": 2,
        "points": [{"point_id": IDS[i], "label": ", ".join(f"{k}={v}" for k, v in zip(grid, c)),
                    "overrides": dict(zip(grid, c))} for i, c in enumerate(combos)],
        "environment": {
            "created": "2025-01-02T03:04:05+00:00",
            "machine": {"platform": "Linux-test", "cpu_count": 2, "python": "3.11.9"},
            "threads": {"llm_torch_threads": 1, "tts_onnxruntime_intra_op_threads": 2},
            "versions": {"python": "3.11.9", "onnxruntime": "1.31.1"},
            "models": {"stt": {"path": "tiny.en", "load_ms": 10.0, "warmup_ms": 5.0}},
            "config_hash": "cafe1234",
            "peak_rss_mib": 900.0,
        },
        "wall_s": 123.4,
    }


def _turn(trace: Trace, turn: int, warmup: bool, clip: str, o: float, v2v: float) -> None:
    """speech 300..1300 after ``o``; words-2 chunk; first audio played ``v2v`` after speech end."""
    end = o + 1300
    trace.append(TurnPlanned(o, turn, clip, "default", warmup, 1600.0, o + 300, end, "hello agent"))
    trace.append(SpeechEnded(end + 500, turn, end + 100, end + 500))
    trace.append(STTStarted(end + 500, turn, end + 100))
    trace.append(TranscriptFinal(end + 700, turn, "hello agent"))
    trace.append(LLMStarted(end + 700, turn))
    for i, w in enumerate(["Hello", "there"]):
        trace.append(LLMToken(end + 750 + 50 * i, turn, i, (" " if i else "") + w))
        trace.append(WordEmitted(end + 800 + 50 * i, turn, i, w))
    trace.append(LLMFinished(end + 850, turn, 2, False, "Hello there"))
    trace.append(ChunkTriggered(end + 850, turn, 0, "Hello there", 0, 1))
    trace.append(TTSStarted(end + 850, turn, 0, (0,), "Hello there"))
    trace.append(TTSAudio(end + v2v - 10, turn, 0, int(0.4 * RATE), RATE))
    trace.append(PlaybackStarted(end + v2v, turn, 0, 0))
    trace.append(PlaybackStopped(end + v2v + 400, turn, int(0.4 * RATE)))


def make_sweep(tmp_path, results=None, meta=None, with_trace=True):
    d = tmp_path / "sweep"
    (d / "runs").mkdir(parents=True)
    (results if results is not None else make_results()).to_parquet(d / "results.parquet", index=False)
    (d / "sweep.json").write_text(json.dumps(meta if meta is not None else make_meta()))
    if with_trace:
        trace = Trace()
        _turn(trace, 0, True, "clip-a", 0.0, 3000.0)
        _turn(trace, 1, False, "clip-a", 5000.0, 1250.0)
        _turn(trace, 2, False, "clip-b", 10000.0, 900.0)
        run = d / "runs" / IDS[0] / "rep-1"
        run.mkdir(parents=True)
        trace.save_jsonl(run / "events.jsonl")
    return d


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    d = make_sweep(tmp_path_factory.mktemp("s"))
    html_path, md_path = write_sweep_report(d)
    return d, html_path, md_path


def test_fixture_trace_matches_the_table(tmp_path):
    d = make_sweep(tmp_path)
    turns = turns_table(Trace.load_jsonl(d / "runs" / IDS[0] / "rep-1" / "events.jsonl"), 200.0)
    assert turns.loc[turns["turn"] == 1, "voice_to_voice_latency_ms"].item() == 1250.0


def test_both_files_written_and_html_self_contained(sweep):
    d, html_path, md_path = sweep
    assert (html_path, md_path) == (d / "report.html", d / "report.md")
    assert html_path.is_file() and md_path.is_file()
    doc = html_path.read_text(encoding="utf-8")
    srcs = embedded_pngs(doc)  # self-contained; every <img> an embedded PNG
    # CDF + one box figure per swept parameter (2) + trade-off + timeline
    assert len(srcs) == 5
    for alt in ("latency CDF per config point", "latency by trigger.words", "latency by vad.kind",
                "latency vs quality trade-off", "timeline of turn 1"):
        assert f'alt="{alt}"' in doc


def test_html_escapes_and_states_environment(sweep):
    doc = sweep[1].read_text(encoding="utf-8")
    assert "demo &lt;sweep&gt; &amp; co" in doc and "<sweep>" not in doc
    for text in ("Linux-test", "cpu_count", "llm_torch_threads", "onnxruntime", "1.31.1", "tiny.en",
                 "cafe1234", "2025-01-02T03:04:05+00:00", "123.4 s", "trigger.words", "silero, energy"):
        assert text in doc
    for label in LABELS:
        assert label in doc


def test_markdown_has_headline_table_and_existing_figures(sweep):
    d, _, md_path = sweep
    md = md_path.read_text(encoding="utf-8")
    assert md.startswith("# demo &lt;sweep&gt; &amp; co")
    table = [line for line in md.splitlines() if line.startswith("| trigger.words=")]
    assert [line.split(" | ")[0][2:] for line in table] == LABELS
    header = next(line for line in md.splitlines() if line.startswith("| point |"))
    for h in ("voice-to-voice p50", "first word (LLM) p90", "word-to-audio p99", "mean TTS round-trip WER",
              "mean STT WER", "median playback stall (ms)", "mean TTS requests", "n turns"):
        assert h in header
    # exact percentiles with their bootstrap intervals, resampled by clip (two clips: a resample
    # is {a, a} with p 1/4, {a, b} with p 1/2 or {b, b} with p 1/4, so the 95 % interval runs
    # from the {a, a} median to the {b, b} median). p0: clip-a 1000, 1250; clip-b 1400 (and NaN):
    # {a, a} -> 1125, {b, b} -> 1400. p1: clip-a 1300, 1500; clip-b 1400, 1600: 1400 and 1500.
    assert "| 1250 [1125, 1400] |" in table[0]
    assert "| 1450 [1400, 1500] |" in table[1]
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) == 5 and all(link.startswith("figures/") for link in links)
    for link in links:
        assert (d / link).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "cafe1234" in md and "123.4 s" in md


def test_warmup_rows_do_not_influence_numbers(sweep):
    d, html_path, md_path = sweep
    html_text = re.sub(r"base64,[^\"]*", "", html_path.read_text())   # random digits in the PNGs
    for doc in (html_text, md_path.read_text()):
        assert "1000000" not in doc and "999" not in doc and "9.000" not in doc
    head = headline_table(make_results())
    assert list(head.index) == LABELS
    assert head["n_turns"].tolist() == [4, 4, 4, 4]
    assert head["voice_to_voice_latency_ms_n"].tolist() == [3, 4, 4, 4]
    assert head["voice_to_voice_latency_ms_p50"].tolist() == [1250.0, 1450.0, 1750.0, 2050.0]
    assert head["voice_to_voice_latency_ms_p99"].iloc[1] == pytest.approx(1597.0)
    assert head["voice_to_voice_latency_ms_p99_hi"].max() <= 2300.0
    assert head["stt_wer_mean"].tolist() == pytest.approx([0.1] * 4)
    assert head["tts_roundtrip_wer_mean"].tolist() == pytest.approx([0.05, 0.1, 0.15, 0.2])
    assert head["playback_stall_ms_median"].tolist() == [0.0, 50.0, 100.0, 150.0]
    assert head["tts_requests_mean"].tolist() == [2.0] * 4
    assert head["mean_chunk_words_mean"].tolist() == [3.0] * 4
    md = md_path.read_text()
    assert "| 0.100 |" in md and "| 2.00 |" in md


def test_representative_turn_is_closest_to_the_median_of_the_first_point(sweep):
    rep = representative_turn(make_results())
    assert (rep["point"], rep["repetition"], rep["turn"], rep["clip"]) == (LABELS[0], 1, 1, "clip-a")
    # with the warm-up rows counted it would be a different turn (module docstring)
    everything = make_results().assign(warmup=False)
    assert (representative_turn(everything)["repetition"], representative_turn(everything)["turn"]) == (0, 2)
    # p1 has 1300, 1400, 1500, 1600: 1400 and 1500 tie with the median, the first row wins
    assert representative_turn(make_results(), point=LABELS[1])["voice_to_voice_latency_ms"] == 1400.0
    doc = sweep[1].read_text()
    assert "repetition 1, clip “clip-a”, turn 1" in doc and "voice-to-voice 1250 ms" in doc


def test_box_figures_use_grid_order_and_pool_other_parameters():
    meta = make_meta()
    figs = box_figures(make_results(), GRID, points=meta["points"])
    assert list(figs) == ["trigger.words", "vad.kind"]
    ax = figs["vad.kind"].axes[0]                                # first panel: voice-to-voice
    assert [t.get_text() for t in ax.get_xticklabels()] == ["silero", "energy"]
    assert [len(c.get_offsets()) for c in ax.collections] == [3 + 4, 4 + 4]   # p0+p2, p1+p3
    assert max(max(c.get_offsets()[:, 1]) for c in ax.collections) < ABSURD
    assert sorted(ax.collections[0].get_offsets()[:, 1]) == [1000, 1250, 1400, 1600, 1700, 1800, 1900]
    assert figs["vad.kind"].get_suptitle() == "Latency by vad.kind (non-warm-up turns; pooled over trigger.words)"
    assert [t.get_text() for t in figs["trigger.words"].axes[0].get_xticklabels()] == ["1", "2"]
    assert len([a for a in figs["vad.kind"].axes if a.get_visible()]) == 6
    # without sweep.json points, rows are matched through the parameter columns
    figs = box_figures(make_results(), {"vad.kind": ["energy", "silero"]})
    assert [len(c.get_offsets()) for c in figs["vad.kind"].axes[0].collections] == [8, 7]


def test_figure_builders_for_notebooks():
    res = make_results()
    fig = cdf_figure(res)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    lines = fig.axes[0].get_lines()
    x0 = lines[0].get_xdata()
    assert list(x0) == [1000.0, 1000.0, 1250.0, 1400.0]             # step starts at F = 0
    assert list(lines[0].get_ydata()) == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert [list(ln.get_xdata()) for ln in lines[1:4]] == [
        [b, b, b + 100, b + 200, b + 300] for b in (1300, 1600, 1900)]
    assert [ln.get_ydata()[0] for ln in lines[4:]] == [0.5, 0.9]    # the p50 and p90 levels
    assert [list(ln.get_xdata()) for ln in fig.axes[1].get_lines()[:4]] == [
        [b, b, b + 5, b + 10, b + 15] for b in (100, 110, 120, 130)]  # first word
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes] == [
        ("voice-to-voice (ms)", "fraction of turns ≤ x"), ("first word (LLM) (ms)", "fraction of turns ≤ x")]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [f"{p} (n={n})" for p, n in zip(LABELS, [3, 4, 4, 4])]
    fig = tradeoff_figure(res)
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.legends[0].get_texts()] == LABELS  # one legend entry per point
    # one marker per point at (p50 voice-to-voice, the panel's quality)
    assert [ax.get_ylabel() for ax in fig.axes] == ["mean TTS round-trip WER", "median playback stall (ms)"]
    assert {ax.get_xlabel() for ax in fig.axes} == {"p50 voice-to-voice (ms), 95% bootstrap CI"}
    xy = [[(c.lines[0].get_xdata()[0], c.lines[0].get_ydata()[0]) for c in ax.containers] for ax in fig.axes]
    assert [x for x, _ in xy[0]] == [x for x, _ in xy[1]] == [1250.0, 1450.0, 1750.0, 2050.0]
    assert [y for _, y in xy[0]] == pytest.approx([0.05, 0.1, 0.15, 0.2]) and [y for _, y in xy[1]] == [0, 50, 100, 150]
    empty = res.iloc[0:0]
    for f in (cdf_figure(empty), tradeoff_figure(empty)):
        assert isinstance(f, Figure)
    assert [t.get_text() for t in cdf_figure(empty).axes[0].texts] == ["no latency values to plot"]
    assert [t.get_text() for t in tradeoff_figure(empty).axes[0].texts] == ["no voice-to-voice latency to plot"]


def test_one_parameter_without_roundtrip_wer_or_trace_still_renders(tmp_path):
    grid = {"trigger.words": [1, 2, 3, 4]}
    combos = [(1,), (2,), (3,), (4,)]
    d = make_sweep(tmp_path, make_results(grid, combos, with_roundtrip=False),
                   {k: v for k, v in make_meta(grid, combos).items() if k not in ("environment", "wall_s")},
                   with_trace=False)
    html_path, md_path = write_sweep_report(d, n_boot=200)
    doc, md = html_path.read_text(), md_path.read_text()
    assert doc.count("<img") == 3                     # CDF, one box figure, trade-off (stall panel)
    assert "mean TTS round-trip WER" not in md.split("## Latency distributions")[0].split("| point |")[1]
    assert "no tts_roundtrip_wer values in this sweep" in md
    assert "is missing: no timeline" in doc
    assert len(list((d / "figures").glob("*.png"))) == 3
    assert len(tradeoff_figure(make_results(grid, combos, with_roundtrip=False)).axes) == 1


def test_load_sweep_orders_points_as_in_sweep_json(tmp_path):
    res = make_results()
    shuffled = res.iloc[np.r_[12:24, 0:12]]                      # p2, p3 rows first
    d = make_sweep(tmp_path, shuffled, with_trace=False)
    data = load_sweep(d)
    assert data.points == LABELS and data.grid == GRID


def test_whole_section_values_are_matched_through_the_points():
    # voicelab.lab.sweep stores a swept section formatted (a trigger label); the grid holds dicts
    grid = {"trigger": [{"kind": "words", "words": 2}, {"kind": "whole"}]}
    res = make_results({"trigger": None}, [("words-2",), ("whole",)])
    points = [{"point_id": IDS[i], "label": f"trigger={v}", "overrides": {"trigger": g}}
              for i, (v, g) in enumerate(zip(["words-2", "whole"], grid["trigger"]))]
    labels, index = parameter_groups(res, "trigger", grid["trigger"], points)
    assert labels == ["words-2", "whole"]
    assert index.tolist() == [0] * 6 + [1] * 6
    fig = box_figures(res, grid, points=points)["trigger"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["words-2", "whole"]


def test_point_styles_stay_distinct_past_the_palette():
    from voicelab.reports.style import point_styles as _point_styles

    points = [f"p{i}" for i in range(40)]
    styles = _point_styles(points)
    assert len({(st.color, st.marker, st.linestyle) for st in styles.values()}) == 40

