"""The critical path per turn: its six columns, exactly, and both reports' views of it.

A session on scripted fake stages in virtual time (as in tests/test_agent_metrics.py):
oracle VAD (min silence 500 ms), STT 250 ms, LLM first token 100 ms then 50 ms a token
(7 tokens, end 50 ms later), TTS 230 ms, speaker frames of 10 ms. Two clips:

- "fake": speech 320..1320 ms of the clip, true end 1320.
- "pause": speech 320..1320 and 1920..2220, true end 2220. The 600 ms pause ends the
  utterance at clip time 1320 + 536 = 1856 (16 silent 32 ms frames after the last
  speech frame, as in tests/test_agent_metrics.py): STT starts 364 ms *before* the
  true end, so cp_endpoint_ms = -364 (a premature endpoint; the second part is ignored).

Per turn, from the true speech end: endpoint 536 (fake) or -364 (pause); STT 250; LLM
first word 150 (first token + the next one that completes it); first chunk 100
(words-2: "there," completes at the 4th token) or 300 (whole: at the end of the stream,
100 + 7 x 50 + 50 = 500 after the transcript); TTS 230; playout = the wait for the next
10 ms speaker frame. The clips start (TurnPlanned) at 480, 4416, 8352, 12288, 16320 ms,
so the first audio is ready at start + 1856 + 250 + 150 + trigger + 230:

  turn variant  clip   warm  audio ready -> played  playout  voice-to-voice
  0    words-2  pause  yes   3066  -> 3070          4        -364+250+150+100+230+4 = 370
  1    words-2  fake         7002  -> 7010          8        536+250+150+100+230+8 = 1274
  2    words-2  pause        10938 -> 10940         2        368
  3    whole    fake         15074 -> 15080         6        536+250+150+300+230+6 = 1472
  4    whole    pause        19106 -> 19110         4        570

Medians over the non-warm-up turns: words-2 endpoint (536 - 364) / 2 = 86, STT 250,
LLM 150, trigger 100, TTS 230, playout 5, voice-to-voice (1274 + 368) / 2 = 821 (the
largest segment: STT); whole 86, 250, 150, 300, 230, 5, (1472 + 570) / 2 = 1021 (the
largest: first word -> first chunk). With the warm-up turn counted words-2 would have
endpoint -364 and voice-to-voice 370.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from voicelab.audio.clips import Clip
from voicelab.clock import run_virtual
from voicelab.config import ExperimentConfig
from voicelab.events import TurnPlanned
from voicelab.measure.metrics import CRITICAL_PATH_COLUMNS, CRITICAL_PATH_LABELS, summarize, turns_table
from voicelab.reports.critical_path import (
    MISSING_NOTE,
    SEGMENT_COLORS,
    critical_path_points_figure,
    critical_path_table,
    critical_path_turns_figure,
)
from voicelab.reports.html import escape, md_text
from voicelab.reports.run_report import write_report
from voicelab.reports.sweep_report import write_sweep_report
from voicelab.session import TurnSpec, VoiceAgent

from html_checks import embedded_pngs  # tests/html_checks.py
from scripted_stages import scripted_stages

ROOT = Path(__file__).resolve().parents[1]
V2V = "voice_to_voice_latency_ms"

# (endpoint, STT, LLM, trigger, TTS, playout) per turn: the module docstring
EXPECTED = {
    0: (-364, 250, 150, 100, 230, 4),
    1: (536, 250, 150, 100, 230, 8),
    2: (-364, 250, 150, 100, 230, 2),
    3: (536, 250, 150, 300, 230, 6),
    4: (-364, 250, 150, 300, 230, 4),
}
MEDIANS = {"words-2": (86, 250, 150, 100, 230, 5, 821), "whole": (86, 250, 150, 300, 230, 5, 1021)}


def _clip(name: str, spans) -> Clip:
    audio = np.zeros(int(2.54 * 16000), dtype=np.float32)
    for a, b in spans:
        audio[int(a * 16): int(b * 16)] = 0.1
    return Clip.from_array(name, audio, "hello agent")


@pytest.fixture(scope="module")
def turns() -> pd.DataFrame:
    cfg = ExperimentConfig.model_validate({
        "clips": ["fake"], "warmup_turns": 0,
        "variants": [{"name": "words-2", "trigger": {"policy": "words", "words": 2}},
                     {"name": "whole", "trigger": {"policy": "whole"}}],
        "vad": {"threshold": 0.5, "min_speech_ms": 250, "min_silence_ms": 500, "speech_pad_ms": 100,
                "turn_detector": "none"},
        "speculate": {"enabled": False},
        "audio": {"lead_in_ms": 500, "turn_gap_ms": 1000, "speaker_frame_ms": 10},
        "tts": {"coalesce": True},
    })
    stages = scripted_stages(stt_ms=250)
    fake = _clip("fake", [(320, 1320)])
    pause = _clip("pause", [(320, 1320), (1920, 2220)])
    words, whole = cfg.resolved_variants()
    specs = [TurnSpec(pause, words, True, (320.0, 2220.0)), TurnSpec(fake, words, False, (320.0, 1320.0)),
             TurnSpec(pause, words, False, (320.0, 2220.0)), TurnSpec(fake, whole, False, (320.0, 1320.0)),
             TurnSpec(pause, whole, False, (320.0, 2220.0))]
    result = run_virtual(VoiceAgent(cfg, stages).run(specs))
    assert [p.t_ms for p in result.trace.of(TurnPlanned)] == [480, 4416, 8352, 12288, 16320]
    return turns_table(result.trace, 200.0)


def _cp(df: pd.DataFrame) -> pd.DataFrame:
    return df[CRITICAL_PATH_COLUMNS]


# --- the columns ----------------------------------------------------------------------------------


def test_critical_path_columns_exact_and_sum_to_voice_to_voice(turns):
    assert turns["variant"].tolist() == ["words-2"] * 3 + ["whole"] * 2
    for turn, expected in EXPECTED.items():
        row = turns[turns["turn"] == turn].iloc[0]
        assert tuple(row[CRITICAL_PATH_COLUMNS]) == pytest.approx(expected, abs=1e-6)
        assert row[V2V] == pytest.approx(sum(expected), abs=1e-6)
        assert row[CRITICAL_PATH_COLUMNS].sum() == pytest.approx(row[V2V], abs=1e-9)
    assert turns.loc[turns["turn"] == 2, "premature_endpoint"].item()


def test_table_holds_the_medians_of_the_live_turns(turns):
    table = critical_path_table(turns, "variant")
    assert list(table.index) == ["words-2", "whole"]
    summary = summarize(turns)
    for v, expected in MEDIANS.items():
        assert tuple(table.loc[v, CRITICAL_PATH_COLUMNS + [V2V]]) == pytest.approx(expected, abs=1e-6)
        for c in CRITICAL_PATH_COLUMNS + [V2V]:                  # the same numbers as the run summary
            assert table.loc[v, c] == pytest.approx(summary[v][c]["p50"], abs=1e-9)
        assert (table.loc[v, "n"], table.loc[v, "n_v2v"]) == (2, 2)
    assert table["largest"].tolist() == ["cp_stt_ms", "cp_trigger_ms"]
    everything = critical_path_table(turns.assign(warmup=False), "variant")
    assert everything.loc["words-2", "cp_endpoint_ms"] == pytest.approx(-364)
    assert everything.loc["words-2", V2V] == pytest.approx(370)


# --- the run report -------------------------------------------------------------------------------


def _row_html(name: str, values) -> str:
    cells = "".join(f"<td class=num>{v}</td>" for v in values)
    return f"<tr><td>{name}</td>{cells}</tr>"


def test_run_report_has_the_section_with_the_medians(tmp_path, turns):
    from voicelab.events import Trace  # the figures need no trace: an empty one draws no timelines

    doc = write_report(tmp_path / "r.html", Trace(), turns, {"metrics": summarize(turns)}).read_text()
    section = doc.split("<h2>Voice-to-voice and its critical path</h2>")[1].split("<h2>")[0]
    for c in CRITICAL_PATH_COLUMNS:
        assert f"<th class=num>{escape(CRITICAL_PATH_LABELS[c])}</th>" in section
    assert _row_html("words-2", ["86.0", "250", "150", "100", "230", "5.0", "821", "2"]) in section
    assert _row_html("whole", ["86.0", "250", "150", "300", "230", "5.0", "1021", "2"]) in section
    assert escape("The largest median segment: “STT” for words-2 (250 of 821 ms); “first word -> first "
                  "chunk” for whole (300 of 1021 ms).") in section
    embedded_pngs(doc)
    assert section.count("<img") == 1 and 'alt="critical path per turn"' in section
    # the critical path leads; the stage table follows, saying which columns are signed and why
    assert doc.index("<h2>Voice-to-voice and its critical path</h2>") < doc.index("<h2>Stage latencies</h2>")
    stages = doc.split("<h2>Stage latencies</h2>")[1].split("<h2>")[0]
    assert "do not add up to voice-to-voice" in stages
    assert escape("stt_latency_ms: the transcript was ready before the endpoint was decided") in stages
    assert "<code>voice_to_voice_latency_ms</code>" in stages


def test_turns_figure_stacks_each_turn_and_draws_negative_segments_left_of_zero(turns):
    fig = critical_path_turns_figure(turns)
    words, whole = fig.axes[:2]
    assert [t.get_text() for t in words.get_yticklabels()] == ["median", "turn 1 · fake", "turn 2 · pause"]
    assert [t.get_text() for t in whole.get_yticklabels()] == ["median", "turn 3 · fake", "turn 4 · pause"]

    def bars(ax, col):
        return [(round(p.get_x(), 6), round(p.get_width(), 6)) for p in ax.patches
                if to_hex(p.get_facecolor()) == SEGMENT_COLORS[col].lower()]

    # median 86, turn 1 536, turn 2 -364 drawn from 0 leftwards; the next segment starts
    # at the right end of what is right of zero
    assert bars(words, "cp_endpoint_ms") == [(0, 86), (0, 536), (0, -364)]
    assert bars(words, "cp_stt_ms") == [(86, 250), (536, 250), (0, 250)]
    assert bars(whole, "cp_playout_ms") == [(1016, 5), (1466, 6), (930, 4)]
    ticks = [round(line.get_xdata()[0], 6) for line in words.get_lines() if line.get_marker() == "|"]
    assert ticks == [821, 1274, 368]
    assert words.get_xlim()[0] < -364 and whole.get_xlim()[1] > 1472
    assert [ax.get_title(loc="left") for ax in (words, whole)] == [
        "words-2: 2 turns; median stack on top", "whole: 2 turns; median stack on top"]
    assert whole.get_xlabel() == "ms from the true speech end"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        CRITICAL_PATH_LABELS[c] for c in CRITICAL_PATH_COLUMNS] + ["voice-to-voice"]


def test_turns_figure_caps_the_bars_per_variant(turns):
    ax = critical_path_turns_figure(turns, max_turns=1).axes[0]
    assert len(ax.get_yticklabels()) == 2 and "first 1 shown" in ax.get_title(loc="left")


def test_run_report_without_critical_path_columns_says_so(tmp_path, turns):
    from voicelab.events import Trace

    old = turns.drop(columns=CRITICAL_PATH_COLUMNS)      # an old turns.csv; its summary.json has metrics
    metrics = {"words-2": {V2V: {"p50": 821.0, "p90": 1201.0, "n": 2}}}
    doc = write_report(tmp_path / "r.html", Trace(), old, {"metrics": metrics}).read_text()
    section = doc.split("<h2>Voice-to-voice and its critical path</h2>")[1].split("<h2>")[0]
    assert escape(MISSING_NOTE) in section and "<img" not in section
    # present but never complete (e.g. no reply was played): a dash table and an empty figure
    blank = turns.assign(**{c: np.nan for c in CRITICAL_PATH_COLUMNS})
    doc = write_report(tmp_path / "b.html", Trace(), blank, {}).read_text()
    section = doc.split("<h2>Voice-to-voice and its critical path</h2>")[1].split("<h2>")[0]
    assert _row_html("words-2", ["–"] * 6 + ["821", "0"]) in section
    assert "No variant has a turn with a complete critical path." in section
    assert isinstance(critical_path_turns_figure(blank), Figure)
    assert [t.get_text() for t in critical_path_turns_figure(blank).axes[0].texts] == [
        "no non-warm-up turn with a complete critical path"]


# --- the sweep report -----------------------------------------------------------------------------

POINTS = ["trigger=whole", "trigger=words-2"]      # sweep.json order: not the table's


def _sweep(tmp_path, turns, drop_cp=False):
    d = tmp_path / "sweep"
    d.mkdir()
    res = turns.assign(point="trigger=" + turns["variant"], point_id=turns["variant"].map(
        {"words-2": "p01-b", "whole": "p00-a"}), repetition=0, trigger=turns["variant"])
    res["run_id"] = res["point_id"] + "/rep-0"
    if drop_cp:
        res = res.drop(columns=CRITICAL_PATH_COLUMNS)
    res.to_parquet(d / "results.parquet", index=False)
    meta = {"name": "cp", "grid": {"trigger": ["whole", "words-2"]}, "repetitions": 1,
            "points": [{"point_id": f"p0{i}-{'ab'[i]}", "label": p, "overrides": {"trigger": p.split("=")[1]}}
                       for i, p in enumerate(POINTS)]}
    (d / "sweep.json").write_text(json.dumps(meta))
    return d


def test_sweep_report_has_the_section_in_point_order(tmp_path, turns):
    d = _sweep(tmp_path, turns)
    html_path, md_path = write_sweep_report(d, n_boot=100)
    md, doc = md_path.read_text(), html_path.read_text()
    section = md.split("## Critical path")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| trigger=")]
    assert rows == ["| trigger=whole | 86.0 | 250 | 150 | 300 | 230 | 5.0 | 1021 | 2 |",
                    "| trigger=words-2 | 86.0 | 250 | 150 | 100 | 230 | 5.0 | 821 | 2 |"]
    header = next(line for line in section.splitlines() if line.startswith("| point |"))
    assert header == "| point | " + " | ".join(md_text(CRITICAL_PATH_LABELS[c]) for c in CRITICAL_PATH_COLUMNS) \
        + " | voice-to-voice p50 | n |"
    assert md_text("The largest median segment: “first word -> first chunk” for trigger=whole (300 of 1021 "
                   "ms); “STT” for trigger=words-2 (250 of 821 ms).") in section
    assert "![median critical path per config point](figures/critical-path.png)" in section
    assert (d / "figures" / "critical-path.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html_section = doc.split("<h2>Critical path</h2>")[1].split("<h2>")[0]
    assert "<tr><td>trigger=whole</td><td class=num>86.0</td>" in html_section
    embedded_pngs(doc)
    assert html_section.count("<img") == 1


def test_points_figure_follows_the_point_order_and_stacks_the_medians(tmp_path, turns):
    res = pd.read_parquet(_sweep(tmp_path, turns) / "results.parquet")
    fig = critical_path_points_figure(res, POINTS)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == POINTS
    tts = [(round(p.get_x(), 6), round(p.get_width(), 6), round(p.get_y() + p.get_height() / 2, 6))
           for p in ax.patches if to_hex(p.get_facecolor()) == SEGMENT_COLORS["cp_tts_ms"].lower()]
    assert tts == [(86 + 250 + 150 + 300, 230, 0), (86 + 250 + 150 + 100, 230, 1)]
    assert [round(line.get_xdata()[0], 6) for line in ax.get_lines() if line.get_marker() == "|"] == [1021, 821]
    texts = [t.get_text() for t in ax.texts]
    assert "  1021 ms" in texts and "300" in texts
    assert ax.get_title(loc="left") == "Median critical path per config point"
    assert ax.get_xlabel() == "ms from the true speech end (medians over non-warm-up turns)"
    assert [t.get_text() for t in critical_path_points_figure(res).axes[0].get_yticklabels()] == POINTS[::-1]


def test_sweep_report_without_critical_path_columns_says_so(tmp_path, turns):
    d = _sweep(tmp_path, turns, drop_cp=True)
    html_path, md_path = write_sweep_report(d, n_boot=100)
    section = md_path.read_text().split("## Critical path")[1].split("\n## ")[0]
    assert md_text(MISSING_NOTE) in section and "|" not in section and "![" not in section
    assert escape(MISSING_NOTE) in html_path.read_text()
    assert not (d / "figures" / "critical-path.png").exists()


def test_a_stored_sweep_report_still_renders(tmp_path):
    # docs/results/fast_path: a results.parquet from before the cp_ columns (if it is ever
    # regenerated with them, the section must hold its table instead)
    d = tmp_path / "fast_path"
    shutil.copytree(ROOT / "docs" / "results" / "fast_path", d)
    has_cp = all(c in pd.read_parquet(d / "results.parquet") for c in CRITICAL_PATH_COLUMNS)
    _, md_path = write_sweep_report(d, n_boot=100)
    section = md_path.read_text().split("## Critical path")[1].split("\n## ")[0]
    assert (md_text(MISSING_NOTE) in section) is not has_cp
    assert (d / "figures" / "critical-path.png").exists() is has_cp
