"""TTS time to first audio for a 2-word chunk and a sentence, RTF and round-trip WER, per TTS option.

Usage::

    .venv/bin/python benchmarks/tts_first_chunk.py --repeats 10 --out docs/results/tts_first_chunk/results.json

Variants (all through :func:`voicelab.tts.make_tts`, ``tts.threads: 2``, the stages the
agent runs):

* ``kokoro-ort``          - ``engine: kokoro, runtime: onnxruntime`` (int8; today's default);
* ``kokoro-ort-cap``      - the same with ``edge_pad_cap: [12, 4]``;
* ``kokoro-ov-bf16``      - ``runtime: openvino`` (dequantized fp32 asset, bf16 inference);
* ``kokoro-ov-bf16-cap``  - the same with ``edge_pad_cap: [12, 4]``;
* ``piper``               - ``engine: piper`` (en_US-joe-medium, resampled to 24 kHz).

Time to first audio (TTFA) = wall time of one blocking ``synthesize_sync(chunk)``: no
engine streams inside a chunk, so the chunk's first sample exists only when the call
returns (phonemize + model + trim + pause + resample). Texts: ``"I think"`` (a 2-word
chunk, what the ``words-2`` trigger sends first), ``"Hello there."`` and a 20-word
sentence, each synthesized once as warm-up and then once per round; and ``novel``: a
2-word chunk from :data:`NOVEL_CHUNKS` that the stage has never seen (a new one each
round, the same for every variant in a round). Repeating a text repeats every tensor
shape, which OpenVINO's CPU plugin caches; in a conversation nearly every chunk gives a
new number of audio frames, so ``novel`` is the figure to expect there. RTF = wall /
seconds of audio (the appended punctuation pause excluded) on the 20-word sentence.
``lead_ms``: silence at the start of the returned "I think" audio (first sample with
``|x| > 0.01``, i.e. -40 dBFS), which adds to the time until the user hears something.
``--repeats`` rounds; each round runs every variant on every text, the variant order
rotating by one per round so load drift hits all alike, with a 50 ms sleep between
calls (onnxruntime's spinning worker threads go idle). Reported: min and median ms.

Round-trip WER: every variant says :data:`WER_SENTENCES` (48 words, 2-word chunks
included) once; Whisper tiny.en (``STTConfig()`` defaults) transcribes each at 16 kHz;
WER (:func:`voicelab.measure.metrics.wer`) over the concatenation. ``first_word_lost``
counts sentences whose transcript does not start with the reference's first word.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import soxr

from voicelab.config import STTConfig, TTSConfig
from voicelab.measure.metrics import wer
from voicelab.tts import make_tts
from voicelab.tts.kokoro import trailing_pause_s

VARIANTS = {
    "kokoro-ort": {},
    "kokoro-ort-cap": {"edge_pad_cap": [12, 4]},
    "kokoro-ov-bf16": {"runtime": "openvino"},
    "kokoro-ov-bf16-cap": {"runtime": "openvino", "edge_pad_cap": [12, 4]},
    "piper": {"engine": "piper"},
}
TEXTS = {
    "i_think": "I think",
    "hello_there": "Hello there.",
    "sentence20": ("The quick brown fox jumps over the lazy dog near the quiet river, "
                   "while the old farmer walks home along the dusty road."),
}
WER_SENTENCES = [
    "I think", "Hello there.", "Sure,", "The weather is lovely today.",
    "Could you send me the report before noon?", "I would recommend the second option.",
    "Thanks for calling, have a great evening.", "My name is Alex and I can help with that.",
    "Let me check your order number first.",
]
NOVEL_CHUNKS = ["Sure thing", "Well, maybe", "Let me", "Of course", "No problem", "Right away",
                "Hold on", "Not really", "Go ahead", "Fair enough", "Good morning", "Excuse me",
                "Thanks again", "Very well", "Got it", "Why not", "See you", "Come in", "Nice try", "All right"]
"""Distinct 2-word chunks, one per round (so at most 20 rounds), never used in warm-up."""
PAUSE_BETWEEN_CALLS_S = 0.05


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _lead_ms(audio: np.ndarray, threshold: float = 0.01) -> float:
    loud = np.flatnonzero(np.abs(audio) > threshold)
    return (loud[0] if len(loud) else len(audio)) / 24.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = ap.parse_args(argv)

    load_start = os.getloadavg()
    stages, info = {}, {}
    for name in args.variants:
        t0 = time.perf_counter()
        tts = make_tts(TTSConfig(threads=args.threads, **VARIANTS[name]))
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        tts.warmup()
        for text in TEXTS.values():
            tts.synthesize_sync(text)
        stages[name] = tts
        info[name] = {**tts.info, "load_s": round(load_s, 2), "warmup_s": round(time.perf_counter() - t0, 2)}
        print(f"loaded {name}: {info[name]}", file=sys.stderr, flush=True)

    if args.repeats > len(NOVEL_CHUNKS):
        ap.error(f"--repeats at most {len(NOVEL_CHUNKS)} (one novel chunk per round)")
    wall = {n: {k: [] for k in [*TEXTS, "novel"]} for n in stages}
    seconds = {n: {} for n in stages}
    lead_ms = {n: [] for n in stages}
    names = list(stages)
    for rep in range(args.repeats):
        for i in range(len(names)):
            name = names[(i + rep) % len(names)]
            for key, text in [*TEXTS.items(), ("novel", NOVEL_CHUNKS[rep])]:
                time.sleep(PAUSE_BETWEEN_CALLS_S)
                t0 = time.perf_counter()
                audio = stages[name].synthesize_sync(text)
                wall[name][key].append(time.perf_counter() - t0)
                seconds[name][key] = len(audio) / 24_000 - trailing_pause_s(text)  # last round's
                if key == "i_think":
                    lead_ms[name].append(_lead_ms(audio))
        print(f"round {rep + 1}/{args.repeats} done (load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
    load_end = os.getloadavg()

    from voicelab.stt.whisper import WhisperSTT

    stt = WhisperSTT(STTConfig())
    quality = {}
    for name, tts in stages.items():
        heard = []
        for text in WER_SENTENCES:
            audio = tts.synthesize_sync(text)
            heard.append(stt.transcribe_sync(soxr.resample(audio, 24_000, 16_000).astype(np.float32)))
        lost = [(r, h) for r, h in zip(WER_SENTENCES, heard)
                if not h.lower().lstrip(" \"'").startswith(r.split()[0].lower().rstrip(","))]
        quality[name] = {"wer": wer(" ".join(WER_SENTENCES), " ".join(heard)), "first_word_lost": len(lost),
                         "transcripts": heard}

    rows = {}
    for name in stages:
        r = {}
        for key in wall[name]:
            ms = [w * 1e3 for w in wall[name][key]]
            r[key] = {"min_ms": round(min(ms), 1), "median_ms": round(statistics.median(ms), 1),
                      "audio_s": round(seconds[name][key], 3)}
        rtf = [w / seconds[name]["sentence20"] for w in wall[name]["sentence20"]]
        r["rtf"] = {"min": round(min(rtf), 3), "median": round(statistics.median(rtf), 3)}
        r["i_think_lead_ms"] = round(statistics.median(lead_ms[name]), 1)
        rows[name] = r
    result = {"command": " ".join(["benchmarks/tts_first_chunk.py", *(argv or sys.argv[1:])]),
              "repeats": args.repeats, "threads": args.threads, "cpu": _cpu_model(), "cpu_count": os.cpu_count(),
              "loadavg_start": load_start, "loadavg_end": load_end, "texts": TEXTS,
              "novel_chunks": NOVEL_CHUNKS[:args.repeats], "variants": VARIANTS,
              "stages": info, "timing": rows, "quality": quality,
              "wer_sentences": WER_SENTENCES}
    print(markdown_table(result))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def markdown_table(result: dict) -> str:
    """The results as a Markdown table: min / median ms per text, RTF, WER, load and precision."""
    lines = ["| variant | precision | load s | \"I think\" ms | novel 2-word ms | \"Hello there.\" ms | 20-word ms | "
             "RTF 20 w | \"I think\" lead silence ms | round-trip WER | first word lost |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in result["timing"].items():
        st, q = result["stages"][name], result["quality"][name]
        cells = [f"{r[k]['min_ms']:.0f} / {r[k]['median_ms']:.0f}"
                 for k in ("i_think", "novel", "hello_there", "sentence20")]
        lines.append(f"| {name} | {st['precision'] or 'as graph'} | {st['load_s']:.1f} | {' | '.join(cells)} | "
                     f"{r['rtf']['min']:.3f} / {r['rtf']['median']:.3f} | {r['i_think_lead_ms']:.0f} | "
                     f"{q['wer'] * 100:.1f} % | {q['first_word_lost']}/{len(result['wer_sentences'])} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
