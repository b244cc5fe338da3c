"""Echo cancellation: CPU cost per microphone frame, ERLE over time, and the user's speech in double talk.

Usage::

    .venv/bin/python benchmarks/aec_cost.py --out docs/results/aec

No models: the Speex canceller (:mod:`voicelab.aec.speex`) alone, on real speech. The
"agent" is three bundled LibriVox clips (17.4 s) scaled to an RMS of 0.1 (about Kokoro's
level), played through the echo path the barge-in study uses (:class:`~voicelab.config.RoomConfig`
defaults: 5 x 4 x 2.8 m, RT60 0.35 s, 0.54 m apart; echo -20 dB, 20 ms delay) plus white
noise at 20 dB below the user's speech (a bundled CMU Arctic clip's speech RMS), as in
``experiments/barge_in_aec.yaml``. Optionally 1 s of calibration noise (RMS 0.1, as
``aec.calibration_ms``) is played first, followed by 1 s of silence.

* ``cost``: thread CPU time of :meth:`~voicelab.aec.EchoCanceller.process` per 32 ms frame
  (512 samples, as :class:`~voicelab.session.echo_cancel.AECFrontEnd` calls it), over
  every frame of ``--repeats`` passes, per variant (tail 100 / 300 / 500 ms; suppressor
  on / off): mean, p50, p95, p99, max ms, and the mean as a share of real time.
* ``erle``: ERLE (10 log10 of microphone over output energy) per 0.5 s of the agent's
  speech, echo only, with and without calibration, suppressor on and off (figure
  ``erle_over_time.png``).
* ``double_talk``: the user clip added at 0 dB (its own level) 10 s into the agent's
  speech, after calibration: correlation of the output with the clean user signal (at the
  canceller's latency) and the output's level re the user's, vs the raw microphone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from voicelab.aec import make_echo_canceller
from voicelab.audio.clips import resolve_clip
from voicelab.audio.degrade import speech_rms
from voicelab.audio.echo_path import make_echo_path, played_from_array
from voicelab.config import AECConfig, EchoConfig, RoomConfig

RATE, FRAME = 16_000, 512
AGENT = ["librivox_sense_and_sensibility_0870", "librivox_sense_and_sensibility_0880",
         "librivox_sense_and_sensibility_0890"]
USER = "cmu_arctic_a0007"
COST_VARIANTS = {f"tail {t} ms{'' if s else ', no suppressor'}": {"tail_ms": t, "suppressor": s}
                 for t in (100, 300, 500) for s in (True, False)}


def scene(calibration: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``(played, echo, noise, speech_start)``: the played reference, its echo in the mic and the
    mic noise (float32, 16 kHz, frame-aligned lengths), and where the agent's speech starts."""
    rng = np.random.default_rng(seed)
    speech = np.concatenate([resolve_clip(n).audio for n in AGENT]).astype(np.float64)
    speech *= 0.1 / np.sqrt(np.mean(speech ** 2))
    lead = np.concatenate([0.1 * rng.standard_normal(RATE), np.zeros(RATE)]) if calibration else np.zeros(0)
    played = np.concatenate([lead, speech]).astype(np.float32)
    played = np.pad(played, (0, -len(played) % FRAME))
    path, _ = make_echo_path(EchoConfig(gain_db=-20, delay_ms=20, room=RoomConfig()), played_from_array(played))
    echo = np.concatenate([path(k * FRAME * 1000.0 / RATE, FRAME) for k in range(len(played) // FRAME)])
    user = resolve_clip(USER)
    noise_rms = speech_rms(user.audio, user.speech_bounds_ms or (0.0, len(user.audio) / 16.0)) * 10 ** (-20 / 20)
    noise = (noise_rms * rng.standard_normal(len(played))).astype(np.float32)
    return played, echo, noise, len(lead)


def run_canceller(cfg: AECConfig, near: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The output and the CPU ms of every 32 ms frame."""
    aec = make_echo_canceller(cfg)
    out, cost = [], []
    for k in range(0, len(near), FRAME):
        t0 = time.thread_time()
        out.append(aec.process(near[k: k + FRAME], reference[k: k + FRAME]))
        cost.append((time.thread_time() - t0) * 1000.0)
    aec.close()
    return np.concatenate(out), np.array(cost)


def cost_table(repeats: int) -> dict:
    played, echo, noise, _ = scene(calibration=True)
    near = echo + noise
    out = {}
    for name, kw in COST_VARIANTS.items():
        costs = np.concatenate([run_canceller(AECConfig(kind="speex", **kw), near, played)[1]
                                for _ in range(repeats)])
        out[name] = {"frames": int(len(costs)), "mean_ms": float(costs.mean()),
                     **{f"p{p}_ms": float(np.percentile(costs, p)) for p in (50, 95, 99)},
                     "max_ms": float(costs.max()), "share_of_real_time": float(costs.mean() / 32.0)}
    return out


def erle_curves() -> dict:
    curves = {}
    for calibration in (False, True):
        played, echo, noise, start = scene(calibration)
        near = echo + noise
        for suppressor in (True, False):
            y, _ = run_canceller(AECConfig(kind="speex", suppressor=suppressor), near, played)
            half = RATE // 2
            erle = [10 * np.log10(np.sum(near[a: a + half] ** 2) / np.sum(y[a: a + half] ** 2))
                    for a in range(start, len(near) - half + 1, half)]
            curves[f"{'1 s calibration' if calibration else 'no calibration'}, "
                   f"{'suppressor' if suppressor else 'no suppressor'}"] = [float(e) for e in erle]
    enr = 10 * np.log10(np.sum(echo[start:] ** 2) / np.sum(noise[start:] ** 2))
    return {"window_s": 0.5, "echo_to_noise_db": float(enr), "curves": curves}


def double_talk() -> dict:
    played, echo, noise, start = scene(calibration=True)
    user = resolve_clip(USER).audio.astype(np.float32)
    at = start + 10 * RATE
    near = echo + noise
    near[at: at + len(user)] += user
    out = {}
    for suppressor in (True, False):
        cfg = AECConfig(kind="speex", suppressor=suppressor)
        y, _ = run_canceller(cfg, near, played)
        lag = make_echo_canceller(cfg).latency_samples
        seg = y[at + lag: at + lag + len(user)]
        out["suppressor" if suppressor else "no suppressor"] = {
            "correlation": float(np.corrcoef(seg, user)[0, 1]),
            "level_db": float(10 * np.log10(np.sum(seg ** 2) / np.sum(user ** 2)))}
    raw = near[at: at + len(user)]
    out["raw microphone"] = {"correlation": float(np.corrcoef(raw, user)[0, 1]),
                             "level_db": float(10 * np.log10(np.sum(raw ** 2) / np.sum(user ** 2)))}
    return out


def figure(erle: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.6), dpi=120)
    for name, values in erle["curves"].items():
        t = np.arange(len(values)) * erle["window_s"] + erle["window_s"] / 2
        ax.plot(t, values, marker="o", ms=3, lw=1.4, label=name, ls="--" if "no suppressor" in name else "-")
    ax.axhline(erle["echo_to_noise_db"], color="0.5", lw=0.8, ls=":")
    ax.text(0.2, erle["echo_to_noise_db"] + 0.6, f"echo-to-noise ratio {erle['echo_to_noise_db']:.1f} dB",
            fontsize=8, color="0.35")
    ax.set_xlabel("seconds into the agent's speech")
    ax.set_ylabel("ERLE per 0.5 s (dB)")
    ax.set_title("Speex AEC through the default room (echo -20 dB, noise 20 dB below the user)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("docs/results/aec"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "")
    results = {"machine": {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform()},
               "cost": cost_table(args.repeats), "erle": erle_curves(), "double_talk": double_talk()}
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    figure(results["erle"], args.out / "erle_over_time.png")
    print(json.dumps({k: results[k] for k in ("cost", "double_talk")}, indent=1))
    for name, values in results["erle"]["curves"].items():
        print(f"{name:36s}", " ".join(f"{v:5.1f}" for v in values[:12]))


if __name__ == "__main__":
    main()
