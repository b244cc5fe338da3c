"""Notebook helpers: quick mode, running sessions from a kernel, audio players, tables.

The notebooks in ``notebooks/`` stay thin and call these. Three concerns:

1. **Quick mode** (:func:`quick_mode`, :func:`quick_config`): with the environment
   variable ``VOICELAB_QUICK=1`` (set by ``make test``, which runs every notebook under
   nbval) a config is cut down to one clip, no warm-up turn, the first two scenario
   turns and two values per sweep parameter, so each notebook runs in about a minute
   on 2 cores. Trigger variants are kept.
2. **Running from a kernel** (:func:`run_sync`, :func:`run_clip`): a Jupyter kernel runs
   an asyncio event loop in its main thread, so ``asyncio.run`` (which
   :func:`voicelab.lab.runner.run_experiment` and the agent use) must run in a worker
   thread. :func:`run_clip` runs one user turn on audio already in memory (a recording
   from the microphone widget, or a bundled clip).
3. **Display** (:func:`wav_bytes`, :func:`audio_player`, :func:`side_by_side`,
   :func:`figure_image`, :func:`latency_table`): ipywidgets audio players built from
   in-memory WAV bytes, matplotlib figures as PNG images, the per-turn latency table.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import soundfile as sf

from voicelab.audio.clips import Clip
from voicelab.config import ExperimentConfig, load_config, parse_config
from voicelab.measure.metrics import turns_table
from voicelab.measure.quality import played_reply
from voicelab.session import SessionResult, Stages, VoiceAgent
from voicelab.units import INPUT_RATE

QUICK_ENV = "VOICELAB_QUICK"
"""Environment variable that turns quick mode on (``1``, ``true`` or ``yes``)."""

TABLE_COLUMNS = ["turn", "clip", "variant", "transcript", "response_text",
                 "voice_to_voice_latency_ms", "endpoint_delay_ms", "stt_latency_ms",
                 "first_word_latency_ms", "trigger_wait_ms", "tts_ttfb_ms", "playback_stall_ms"]
"""Columns of :func:`latency_table`, in order (``*_ms`` in milliseconds)."""

T = TypeVar("T")


def quick_mode() -> bool:
    """True when ``$VOICELAB_QUICK`` is ``1``, ``true`` or ``yes`` (case-insensitive)."""
    return os.environ.get(QUICK_ENV, "").strip().lower() in {"1", "true", "yes"}


def quick_config(config: ExperimentConfig, *, scenario_turns: int = 2,
                 grid_values: int = 2) -> ExperimentConfig:
    """``config`` cut down for quick mode (CI): the first clip, no warm-up turn, the
    first ``scenario_turns`` scenario turns, one repetition and the first
    ``grid_values`` values of each sweep parameter. Trigger ``variants`` are kept.

    Raises:
        voicelab.config.ConfigError: the result does not validate.
    """
    data = config.model_dump(mode="json")
    data["clips"] = data["clips"][:1]
    data["warmup_turns"] = 0
    if data.get("scenario"):
        data["scenario"] = data["scenario"][:scenario_turns]
    if data.get("sweep"):
        data["sweep"]["repetitions"] = 1
        data["sweep"]["grid"] = {k: v[:grid_values] for k, v in data["sweep"]["grid"].items()}
    return parse_config(data, f"(quick mode of {config.name})")


def notebook_config(path: str | Path, quick: bool | None = None) -> ExperimentConfig:
    """Load a YAML config; in quick mode (``quick`` None = :func:`quick_mode`) cut it down
    with :func:`quick_config`."""
    config = load_config(path)
    return quick_config(config) if (quick_mode() if quick is None else quick) else config


def with_overrides(config: ExperimentConfig, **sections: dict[str, Any] | Any) -> ExperimentConfig:
    """A validated copy of ``config`` with top-level fields replaced and sections updated,
    e.g. ``with_overrides(cfg, trigger={"policy": "words", "words": 3}, warmup_turns=0)``
    (a dict value updates that section's fields; anything else replaces the field)."""
    data = config.model_dump(mode="json")
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return parse_config(data, f"(overrides of {config.name})")


def repo_root(start: str | Path | None = None) -> Path:
    """The voicelab checkout holding ``experiments/``: ``start`` (default: the current
    directory, where Jupyter starts a notebook's kernel) or its nearest parent that has one.

    Raises:
        FileNotFoundError: no such directory up to the file-system root.
    """
    here = Path(start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "experiments").is_dir():
            return d
    raise FileNotFoundError(f"no experiments/ directory in {here} or its parents")


def experiment_path(name: str) -> Path:
    """``experiments/NAME`` of the checkout (see :func:`repo_root`)."""
    return repo_root() / "experiments" / name


def output_dir(name: str, quick: bool | None = None) -> Path:
    """Where a notebook writes its run: a fresh temporary directory in quick mode (CI),
    else ``results/NAME`` of the checkout (created)."""
    import tempfile

    if quick_mode() if quick is None else quick:
        return Path(tempfile.mkdtemp(prefix=f"voicelab-{name}-"))
    out = repo_root() / "results" / name
    out.mkdir(parents=True, exist_ok=True)
    return out


def run_sync(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``fn(*args, **kwargs)`` in a fresh worker thread and wait for its result.

    Needed for anything that calls ``asyncio.run`` (the agent, :func:`run_experiment
    <voicelab.lab.runner.run_experiment>`) from a Jupyter kernel, whose main thread already
    runs an event loop. Exceptions propagate.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="voicelab-nb") as ex:
        return ex.submit(fn, *args, **kwargs).result()


@dataclass
class ClipTurn:
    """One user turn run by :func:`run_clip`.

    Attributes:
        turns: the turns table (one row, see :func:`voicelab.measure.metrics.turns_table`).
        session: the session (trace and both audio timelines).
        reply_audio: the agent audio played for the turn, 16 kHz mono float32.
    """

    turns: pd.DataFrame
    session: SessionResult
    reply_audio: np.ndarray

    @property
    def row(self) -> pd.Series:
        return self.turns.iloc[0]

    @property
    def voice_to_voice_ms(self) -> float:
        return float(self.row["voice_to_voice_latency_ms"])


def run_clip(config: ExperimentConfig, stages: Stages, clip: Clip) -> ClipTurn:
    """Run one user turn on ``clip`` with ``config``'s trigger and VAD settings.

    Warm-up turns, ``variants``, ``scenario`` and sweeps of ``config`` are ignored: one
    clip, one reply. True speech boundaries come from the clip's sidecar or the reference
    consensus (:mod:`voicelab.truth`, as in :func:`voicelab.lab.runner.plan_turns`; for a
    new recording its Whisper pass adds about a second before the session starts). Runs in a worker
    thread (safe to call from a kernel). The session is real time: it lasts the lead-in,
    the clip, the reply and ``audio.turn_gap_ms``.
    """
    from voicelab.lab.runner import plan_turns

    cfg = with_overrides(config, warmup_turns=0, variants=[], scenario=None, sweep=None)
    plan = plan_turns(cfg, [clip])

    def _run() -> SessionResult:
        return asyncio.run(VoiceAgent(cfg, stages).run(plan))

    session = run_sync(_run)
    turns = turns_table(session.trace, cfg.barge_in.min_barge_in_ms)
    reply = played_reply(session, turns, 0) if len(turns) else np.zeros(0, np.float32)
    return ClipTurn(turns, session, reply)


# --- display ---------------------------------------------------------------------------------


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """Mono float32 audio in [-1, 1] as the bytes of a 16-bit PCM WAV file."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0), sample_rate,
             format="WAV", subtype="PCM_16")
    return buf.getvalue()


def audio_player(audio: np.ndarray, sample_rate: int, title: str = ""):
    """An ``ipywidgets.Audio`` player (with a title above it) for mono float32 audio.

    Empty audio gives a label saying so instead of a player.
    """
    import ipywidgets as w

    seconds = len(audio) / sample_rate if sample_rate else 0.0
    head = w.HTML(f"<b>{title}</b> ({seconds:.1f} s)" if title else f"({seconds:.1f} s)")
    if not len(audio):
        return w.VBox([head, w.Label("(nothing played)")])
    player = w.Audio(value=wav_bytes(audio, sample_rate), format="wav", autoplay=False, loop=False)
    return w.VBox([head, player])


def side_by_side(user_audio: np.ndarray, reply_audio: np.ndarray, *, user_title: str = "you said",
                 reply_title: str = "agent replied", user_rate: int = INPUT_RATE, reply_rate: int = INPUT_RATE):
    """Two audio players in a row: the user's input and the agent's played reply."""
    import ipywidgets as w

    return w.HBox([audio_player(user_audio, user_rate, user_title),
                   audio_player(reply_audio, reply_rate, reply_title)],
                  layout=w.Layout(gap="2em"))


def reply_players(run) -> Any:
    """For every non-warm-up turn of a :class:`voicelab.lab.runner.RunOutput`: the user's clip
    and the agent reply played for it (cut from the session's agent audio, the samples
    of ``agent.wav``, with :func:`voicelab.measure.quality.played_reply`), side by side."""
    import ipywidgets as w

    rows = []
    for _, r in run.turns.iterrows():
        if bool(r.get("warmup", False)):
            continue
        turn = int(r["turn"])
        spec = run.session.turns[turn]
        rows.append(w.VBox([
            w.HTML(f"<b>turn {turn}</b>: {r['clip']} / {r['variant']}"),
            side_by_side(spec.clip.audio, played_reply(run.session, run.turns, turn),
                         reply_title=f"agent replied ({r['variant']})"),
        ]))
    return w.VBox(rows)


def figure_image(fig, dpi: int = 90):
    """A matplotlib ``Figure`` as an ``IPython.display.Image`` (PNG), for ``display``."""
    import base64

    from IPython.display import Image

    from voicelab.reports.style import figure_to_png_base64

    return Image(data=base64.b64decode(figure_to_png_base64(fig, dpi=dpi)), format="png")


def latency_table(turns: pd.DataFrame, *, live_only: bool = True) -> pd.DataFrame:
    """The per-turn latency table: :data:`TABLE_COLUMNS` present in ``turns``, ``*_ms``
    rounded to whole milliseconds, warm-up turns dropped when ``live_only``."""
    df = turns
    if live_only and "warmup" in df:
        df = df[~df["warmup"].astype(bool)]
    cols = [c for c in TABLE_COLUMNS if c in df]
    out = df[cols].copy()
    for c in cols:
        if c.endswith("_ms"):
            out[c] = out[c].astype(float).round(0)
    return out.reset_index(drop=True)


def latency_readout(turn: ClipTurn) -> str:
    """One line for a live readout: voice-to-voice and its main parts, in ms."""
    r = turn.row

    def f(col: str) -> str:
        v = r.get(col, math.nan)
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{float(v):.0f}"

    return (f"voice-to-voice {f('voice_to_voice_latency_ms')} ms = endpoint {f('endpoint_delay_ms')}"
            f" + STT {f('stt_latency_ms')} + first word {f('first_word_latency_ms')}"
            f" + trigger {f('trigger_wait_ms')} + TTS {f('tts_ttfb_ms')} (ms, + overhead)")


__all__ = ["QUICK_ENV", "TABLE_COLUMNS", "ClipTurn", "audio_player", "experiment_path", "figure_image",
           "latency_readout", "latency_table", "notebook_config", "output_dir", "quick_config",
           "quick_mode", "reply_players", "repo_root", "run_clip", "run_sync", "side_by_side",
           "wav_bytes", "with_overrides"]
