"""The ``voicelab`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from voicelab.assets import AssetError
from voicelab.audio.load import AudioError
from voicelab.config import ConfigError, load_config

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Measure streaming voice agents: VAD -> STT -> LLM -> trigger -> TTS.")


@app.callback()
def _main() -> None:
    """voicelab: reproducible latency numbers for streaming voice agents."""


def _fail(err: Exception) -> None:
    typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@app.command()
def run(
    config: Path = typer.Argument(..., help="experiment YAML, e.g. experiments/quickstart.yaml"),
    input: Optional[list[str]] = typer.Option(None, "--input", "-i",
                                              help="audio file or bundled clip name (repeatable); default: the config's clips"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="output directory (default results/<name>)"),
) -> None:
    """Run the agent on real speech and write turns.csv, events.jsonl, agent.wav, summary.json, report.html."""
    from voicelab.runner import run_experiment

    try:
        cfg = load_config(config)
        out_dir = out or Path("results") / cfg.name
        result = run_experiment(cfg, out_dir, inputs=input or None,
                                log=lambda m: typer.echo(m, err=True))
    except (ConfigError, AudioError, AssetError) as err:
        _fail(err)
    s = result.summary
    typer.echo(f"\n{len(result.turns)} turns, peak RSS {s['peak_rss_mib']:.0f} MiB, results in {out_dir}/")
    for variant, m in s["metrics"].items():
        v2v = m["voice_to_voice_latency_ms"]
        typer.echo(f"  {variant:>14}: voice-to-voice p50 {v2v['p50']:.0f} ms, p90 {v2v['p90']:.0f} ms "
                   f"(n={v2v['n']}); framework overhead p50 {m['framework_overhead_ms']['p50']:.1f} ms")
    for variant, r in (s.get("streaming_vs_baseline") or {}).items():
        typer.echo(f"  {variant} starts speaking {r['speedup']:.1f}x sooner than {r['baseline']}")
    typer.echo(f"report: {out_dir / 'report.html'}")


if __name__ == "__main__":
    app()
