"""The duplex experiment files: generated scenario sets written into sweep YAMLs.

``voicelab duplex generate`` writes ``experiments/duplex_<agent>.yaml`` for each of
:data:`AGENTS` from the built corpus and a fixed seed (:data:`SEED`). The scenario lists are
written out (not generated at load time) so an experiment file says exactly what runs, stays
valid if the generator changes, and diffs show any change; ``tests/test_duplex_scenarios.py``
checks that the committed files equal the generator's output on the built corpus.

Each file is a sweep (:mod:`voicelab.lab.sweep`) with one ``preset`` per chunk of at most
:data:`~voicelab.lab.duplex_scenarios.CHUNK_TURNS` turns (the preset sets ``scenario``),
``repetitions: 1``: every chunk is one run, written atomically, and ``voicelab sweep``
started again skips the finished ones.
"""

from __future__ import annotations

import copy
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from voicelab.lab.duplex_scenarios import CATEGORIES, CHUNK_TURNS, chunk, generate_items

SEED = 20260
"""The generator seed of the committed experiment files."""

_COMMON: dict[str, Any] = {
    "warmup_turns": 1,
    # SmolLM2 copies a cut-off reply into later turns: each item is its own conversation
    # (FDB scores items independently), as in experiments/barge_in_aec.yaml
    "llm": {"history": False},
}

AGENTS: dict[str, dict[str, Any]] = {
    "default": {
        "per_category": 100,
        "about": "voicelab's default streaming agent (every setting at its default; barge-in off, as by default)",
        "config": {"name": "duplex_default", **_COMMON},
    },
    "barge_in": {
        "per_category": 40,
        "about": ("voicelab's best barge-in setting (README 'Barge-in that survives the echo'): pause after one "
                  "32 ms frame of Silero speech then confirm or resume, Speex AEC, through the room echo path "
                  "of experiments/barge_in_aec.yaml"),
        "config": {
            "name": "duplex_barge_in", **_COMMON,
            "trigger": {"policy": "words", "words": 2},
            "barge_in": {"enabled": True, "mode": "pause_confirm", "min_barge_in_ms": 32, "threshold": 0.5,
                         "vad_kind": "silero"},
            "echo": {"gain_db": -20, "delay_ms": 20, "noise_snr_db": 20,
                     "room": {"size_m": [5.0, 4.0, 2.8], "rt60_s": 0.35, "speaker_m": [2.0, 2.0, 1.0],
                              "mic_m": [2.5, 2.2, 1.0]}},
            "aec": {"kind": "speex", "tail_ms": 300, "suppressor": True, "calibration_ms": 1000},
        },
    },
    "pipecat": {
        "per_category": 40,
        "about": "a stock Pipecat pipeline with Pipecat's defaults (the `pipecat-default` peer of "
                 "experiments/vs_pipecat.yaml), same models, microphone, speaker and clock",
        "config": {"name": "duplex_pipecat", **_COMMON},
        "grid": {"variants": [[{"name": "pipecat-default", "engine": "pipecat"}]]},
    },
}
"""Per agent: items per category, a description, the base config (scenario set by the
presets) and any sweep grid (the Pipecat peer is a one-variant grid: a sweep's base config
cannot hold ``variants``)."""


class _Flow(dict):
    """A mapping dumped in flow style (one scenario turn per line)."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Flow, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True))


def experiment_data(agent: str, items: Sequence[Any], seed: int = SEED,
                    per_category: int | None = None) -> tuple[dict, list[list]]:
    """The experiment dict of ``agent`` (one of :data:`AGENTS`) and its chunks of generated items.

    Raises:
        KeyError: unknown agent. ValueError: see :func:`~voicelab.lab.duplex_scenarios.generate_items`.
    """
    spec = AGENTS[agent]
    scen = generate_items(items, per_category or spec["per_category"], seed)
    chunks = chunk(scen, CHUNK_TURNS)
    data = copy.deepcopy(spec["config"])
    data["sweep"] = {"repetitions": 1, "keep_audio": True,
                     "presets": {f"chunk-{i:03d}": {"scenario": [_Flow(t) for it in c for t in it.turns]}
                                 for i, c in enumerate(chunks)},
                     **({"grid": copy.deepcopy(spec["grid"])} if "grid" in spec else {})}
    return data, chunks


def experiment_yaml(agent: str, items: Sequence[Any], index_sha: str, seed: int = SEED,
                    per_category: int | None = None) -> str:
    """The text of ``experiments/duplex_<agent>.yaml``: a comment header (what, how generated,
    how to run and score) and the sweep."""
    data, chunks = experiment_data(agent, items, seed, per_category)
    n = per_category or AGENTS[agent]["per_category"]
    turns = sum(len(it.turns) for c in chunks for it in c)
    about = (f"Full-Duplex-Bench scenarios ({', '.join(CATEGORIES)}): {n} items per category, for "
             f"{AGENTS[agent]['about']}. {len(chunks)} runs (sweep presets chunk-NNN) of at most {CHUNK_TURNS} "
             f"turns, {turns} turns in all. GENERATED by `voicelab duplex generate` "
             f"(voicelab/lab/duplex_experiments.py) from the corpus (index.json sha256 {index_sha}) with seed "
             f"{seed}: do not edit. Clip names: voicelab/lab/duplex_clips.py.")
    head = [
        *(f"# {line}" for line in textwrap.wrap(about, 98, break_on_hyphens=False)),
        "# Hours of real-time sessions: never in CI. Resumable (finished runs are kept):",
        f"#   .venv/bin/voicelab sweep experiments/duplex_{agent}.yaml --out results/duplex_{agent}",
        f"#   .venv/bin/voicelab duplex score results/duplex_{agent} --out docs/results/duplex/{agent}",
    ]
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=200, default_flow_style=False)
    return "\n".join(head) + "\n" + body


def write_experiments(out_dir: Path, items: Sequence[Any], index_sha: str, seed: int = SEED) -> list[Path]:
    """Write every agent's file into ``out_dir``; returns the paths."""
    paths = []
    for agent in AGENTS:
        path = out_dir / f"duplex_{agent}.yaml"
        path.write_text(experiment_yaml(agent, items, index_sha, seed))
        paths.append(path)
    return paths
