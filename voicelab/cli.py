"""The ``voicelab`` command line."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from voicelab.assets import AssetError
from voicelab.audio.load import AudioError
from voicelab.config import ConfigError, load_config, parse_config
from voicelab.lab.outputs import OutputError

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
    input: list[str] | None = typer.Option(None, "--input", "-i",
                                           help="audio file or bundled clip name (repeatable); "
                                                "default: the config's clips"),
    out: Path | None = typer.Option(None, "--out", "-o", help="output directory (default results/<name>)"),
) -> None:
    """Run the agent on real speech and write turns.csv, events.jsonl, agent.wav, summary.json, report.html."""
    from voicelab.lab.runner import run_experiment
    from voicelab.peers import PeerUnavailable

    try:
        cfg = load_config(config)
        out_dir = out or Path("results") / cfg.name
        result = run_experiment(cfg, out_dir, inputs=input or None,
                                log=lambda m: typer.echo(m, err=True), progress=True)
    except (ConfigError, AudioError, AssetError, PeerUnavailable, OutputError) as err:
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


@app.command()
def serve(
    config: Path = typer.Argument(..., help="experiment YAML: the models and default settings of every session"),
    host: str = typer.Option("127.0.0.1", "--host", help="interface to bind (loopback by default)"),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="TCP port (0: any free port)"),
    max_sessions: int = typer.Option(8, "--max-sessions", min=1, help="concurrent sessions; more get close code 1013"),
    max_frame_bytes: int = typer.Option(1 << 20, "--max-frame-bytes", min=1024,
                                        help="largest WebSocket frame; larger ones close with 1009"),
    db: str | None = typer.Option(None, "--db", help="database URL for the conversations (sqlite:///file.db, "
                                  "postgresql://user@host/db); default: SQLite in $VOICELAB_HOME/voicelab.db"),
) -> None:
    """Serve the streaming agent over WebSocket (protocol: docs/protocol.md) until Ctrl-C or SIGTERM."""
    import asyncio

    from voicelab.serve.app import VoiceServer
    from voicelab.serve.models import ModelManager
    from voicelab.store import ConversationStore, StoreError

    log = lambda m: typer.echo(m, err=True)  # noqa: E731
    try:
        cfg = load_config(config)
        store = ConversationStore(db, log=log)  # before the models: a bad URL fails at once
        manager = ModelManager(cfg, log=log)
    except (ConfigError, AssetError, StoreError) as err:
        _fail(err)
    server = VoiceServer(manager, max_sessions, max_frame_bytes, log=log, store=store)
    asyncio.run(server.run(host, port))


@app.command()
def bench(
    url: str = typer.Argument(..., help="the agent's WebSocket URL, e.g. ws://127.0.0.1:8765"),
    clients: int = typer.Option(1, "--clients", "-n", min=1, help="concurrent scripted clients"),
    clip: list[str] | None = typer.Option(None, "--clips", "-c", help="bundled clip name or audio file "
                                          "(repeatable); default: every bundled clip"),
    out: Path = typer.Option(Path("results/bench"), "--out", "-o", help="output directory"),
    warmup: int = typer.Option(1, "--warmup", min=0, help="warm-up turns per client (the first clip), "
                               "in a session of their own before the measured one"),
) -> None:
    """Measure any agent that speaks docs/protocol.md from the client's side of the wire."""
    from voicelab.audio.clips import bundled_clip_names
    from voicelab.bench.run import run_bench

    try:
        table = run_bench(url, clip or bundled_clip_names(), out, clients=clients, warmup_turns=warmup,
                          log=lambda m: typer.echo(m, err=True), progress=True)
    except (AudioError, OSError, RuntimeError, ValueError) as err:
        _fail(err)
    v2v = table.loc[~table["warmup"].astype(bool), "voice_to_voice_latency_ms"].dropna()
    typer.echo(f"{len(table)} turns (+{warmup * clients} warm-up), {len(v2v)} answered; "
               f"voice-to-voice p50 {v2v.median():.0f} ms (client-measured); results in {out}/")


@app.command()
def sweep(
    config: Path = typer.Argument(..., help="experiment YAML with a `sweep:` section"),
    out: Path | None = typer.Option(None, "--out", "-o", help="sweep directory (default results/<name>)"),
    ray: str | None = typer.Option(None, "--ray", help="run on Ray: 'local' (start an instance here), 'auto' "
                                   "(the cluster this machine joined) or a head address (host:port)"),
    sessions_per_node: int = typer.Option(1, "--sessions-per-node", min=1, help="with --ray local: concurrent "
                                          "sessions (more than 1 only to measure contention)"),
    retries: int = typer.Option(2, "--retries", min=0, help="with --ray: retries of a failed run"),
) -> None:
    """Run a grid of config points on every clip, N repetitions each; resumable; then report."""
    from voicelab.lab.cluster import ClusterError, RayExecutor
    from voicelab.lab.sweep import run_sweep
    from voicelab.peers import PeerUnavailable
    from voicelab.reports.sweep_report import write_sweep_report

    try:
        cfg = load_config(config)
        out_dir = out or Path("results") / cfg.name
        executor = RayExecutor(ray, sessions_per_node, retries) if ray is not None else None
        table = run_sweep(cfg, out_dir, log=lambda m: typer.echo(m, err=True), executor=executor)
    except (ConfigError, AudioError, AssetError, ClusterError, PeerUnavailable, OutputError) as err:
        _fail(err)
    html, md = write_sweep_report(out_dir)
    typer.echo(f"{len(table)} turn rows in {out_dir / 'results.parquet'}; report: {html} and {md}")


@app.command()
def truth(
    clips: list[str] | None = typer.Argument(None, help="bundled clip names or audio files"),
    out: Path = typer.Option(Path("results/truth"), "--out", "-o", help="where the figures (and tables) go"),
    write: bool = typer.Option(False, "--write", help="save the computed reference as the sidecar <clip>.json"),
    force: bool = typer.Option(False, "--force", help="with --write: replace an existing sidecar"),
    evaluate: bool = typer.Option(False, "--evaluate", help="instead: measure the reference's error on the "
                                  "annotated bundled clips and degraded versions of every bundled clip"),
) -> None:
    """Compute each clip's reference speech boundaries, print them and draw them.

    The reference is the consensus of an offline Silero pass, band energy and Whisper's
    word timestamps (a sidecar, if any, is shown beside it). Check the figure by eye;
    `--write` saves the reference as the sidecar that later runs use.
    """
    from voicelab.lab.truth_command import check_clip, write_evaluation

    if evaluate:
        table = write_evaluation(out)
        typer.echo(table.round(1).to_string())
        typer.echo(f"written: {out / 'evaluation.md'} and {out / 'evaluation.csv'}")
        return
    if not clips:
        _fail(ValueError("name at least one clip (or pass --evaluate)"))
    for name in clips:
        try:
            result = check_clip(name, out, write=write, force=force)
        except (AudioError, AssetError, ValueError, FileExistsError) as err:
            _fail(err)
        typer.echo(result.describe())


@app.command()
def endpoints(
    out: Path = typer.Option(Path("results/eot"), "--out", "-o", help="where the page and tables go"),
    pause_set: bool = typer.Option(False, "--pause-set", help="instead: the older 36-item pause set of the bundled "
                                   "clips (premature endpoints and endpoint delay per setting)"),
    limit: int = typer.Option(0, "--limit", help="evaluate only the first N corpus items (0: all)", min=0),
    n_boot: int = typer.Option(2000, "--n-boot", help="bootstrap resamples per confidence interval", min=1),
) -> None:
    """End-of-turn detection on the corpus, scored with LiveKit eot-bench's metrics: false-cutoff
    rate at 300/600 ms latency budgets and mean latency at 5/10 % cutoff budgets, with 95 % CIs,
    for silence-only endpointing (labelled, Silero, energy, WebRTC), Smart Turn v3.2 and voicelab's
    endpointer. Resumable: per-item signals are cached under $VOICELAB_HOME/eot/."""
    from voicelab.corpus import CorpusError

    if pause_set:
        from voicelab.lab.turn_taking import write_endpointing_table

        try:
            summary = write_endpointing_table(out)
        except (AudioError, AssetError) as err:
            _fail(err)
        typer.echo(summary.round(2).to_string(index=False))
        typer.echo(f"written: {out / 'endpointing.md'} and {out / 'endpointing.csv'}")
        return
    from voicelab.lab.eot_run import run_eot_evaluation
    from voicelab.reports.eot_report import budget_cells

    command = f"voicelab endpoints --out {out}" + (f" --limit {limit}" if limit else "")
    try:
        budgets = run_eot_evaluation(out, n_boot=n_boot, limit=limit or None, command=command)
    except (AudioError, AssetError, CorpusError) as err:
        _fail(err)
    header, rows = budget_cells(budgets)
    typer.echo(" | ".join(header))
    for r in rows:
        typer.echo(" | ".join(r))
    typer.echo(f"written: {out / 'README.md'}")


@app.command()
def report(
    directory: Path = typer.Argument(..., help="a sweep directory or a `voicelab run` output"),
    rescore: bool = typer.Option(False, "--rescore", help="first recompute every run's metrics from its "
                                 "saved trace (after a metric definition changed); no model runs"),
) -> None:
    """Rebuild the report of a finished sweep (report.html + report.md) or run (report.html)."""
    from voicelab.lab.rescore import rescore_run

    if (directory / "sweep.json").is_file():
        from voicelab.lab.sweep import build_results, expand_grid, is_finished
        from voicelab.reports.sweep_report import write_sweep_report

        meta = json.loads((directory / "sweep.json").read_text())
        cfg = parse_config(meta["base_config"], str(directory / "sweep.json"))
        if rescore:
            for run in sorted((directory / "runs").glob("*/rep-*")):
                if is_finished(run):
                    rescore_run(run)
        if (directory / "runs").is_dir():  # a copied report (e.g. docs/results) has no runs: keep its table
            build_results(directory, expand_grid(cfg), cfg.sweep.repetitions)
        html, md = write_sweep_report(directory)
        typer.echo(f"report: {html} and {md}")
    elif (directory / "events.jsonl").is_file():
        import pandas as pd

        from voicelab.events import Trace
        from voicelab.reports.run_report import write_report

        if rescore:
            rescore_run(directory)
        summary = json.loads((directory / "summary.json").read_text())
        turns = pd.read_csv(directory / "turns.csv")
        path = write_report(directory / "report.html", Trace.load_jsonl(directory / "events.jsonl"), turns, summary)
        typer.echo(f"report: {path}")
    else:
        _fail(FileNotFoundError(f"{directory} holds neither a sweep (sweep.json) nor a run (events.jsonl)"))


duplex_app = typer.Typer(no_args_is_help=True, help="Full-Duplex-Bench scenarios from the corpus: generate, score.")
app.add_typer(duplex_app, name="duplex")


@duplex_app.command("generate")
def duplex_generate(
    out: Path = typer.Option(Path("experiments"), "--out", "-o", help="where duplex_<agent>.yaml go"),
    seed: int | None = typer.Option(None, "--seed", help="generator seed (default: the committed files' seed)"),
) -> None:
    """Write experiments/duplex_{default,barge_in,pipecat}.yaml from the built corpus (seeded)."""
    from voicelab.corpus import CorpusError
    from voicelab.lab.duplex_clips import corpus_items
    from voicelab.lab.duplex_experiments import SEED, write_experiments

    try:
        items, sha = corpus_items()
    except CorpusError as err:
        _fail(err)
    out.mkdir(parents=True, exist_ok=True)
    for path in write_experiments(out, list(items.values()), sha, SEED if seed is None else seed):
        typer.echo(f"written: {path}")


@duplex_app.command("score")
def duplex_score(
    directory: Path = typer.Argument(..., help="a duplex sweep directory (finished or not) or one run"),
    out: Path | None = typer.Option(None, "--out", "-o", help="page directory (default DIRECTORY/duplex)"),
    title: str | None = typer.Option(None, "--title", help="page title (default: from the directory name)"),
    n_boot: int = typer.Option(2000, "--n-boot", min=1, help="bootstrap resamples per confidence interval"),
) -> None:
    """Score a duplex sweep with Full-Duplex-Bench's metrics: items.csv, aggregate.csv, README.md, duplex.png."""
    from voicelab.corpus import CorpusError
    from voicelab.lab.duplex_report import markdown_table, write_page
    from voicelab.lab.duplex_score import score_runs

    out = out or directory / "duplex"
    try:
        rows, agg = score_runs(directory, n_boot=n_boot)
    except (CorpusError, ValueError, OSError) as err:
        _fail(err)
    write_page(out, rows, agg, title=title or f"Full-Duplex-Bench: {directory.name}", sweep_dir=directory,
               command=f"voicelab duplex score {directory} --out {out}")
    typer.echo(markdown_table(agg))
    typer.echo(f"written: {out / 'README.md'}")


if __name__ == "__main__":
    app()
