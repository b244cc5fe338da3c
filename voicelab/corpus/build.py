"""Building the corpus: fetch, check, extract, render the committed plan (or plan anew), write.

:func:`build_corpus` is idempotent: a corpus already built from the same pins and still
intact (``MANIFEST.sha256`` + ``.verified`` stamp, as the model assets have) is left as
it is. Otherwise it is built in a temporary directory beside its place and moved there
with one ``os.replace``, so a failed build never leaves a partial corpus. The items come from
the committed plan (:mod:`voicelab.corpus.plan`), so set-up runs no model and every machine gets
the same corpus; planning anew (``python -m voicelab.corpus plan``, or a non-default package set
as in the tests) computes each recording's reference (Silero + band energy + Whisper tiny.en
words, :class:`voicelab.truth.ReferenceFinder`, cached by the sha256 of the samples in
``<home>/truth/``).

Layout of ``<home>/corpus/``: ``sources/<source>/...`` (the recordings, as published),
``index.json`` (every item: id, source, licence, transcript, recording, cut, pause,
labelled silences, flags), ``NOTICE``, ``MANIFEST.sha256``, ``.verified``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from voicelab.assets.building import _lock
from voicelab.assets.cache import MANIFEST, _format_manifest, _list_files, _sha256_file, _write_stamp
from voicelab.audio.clips import SPEECH_DIR
from voicelab.audio.load import load_audio
from voicelab.corpus.cache import INDEX, builder_version, corpus_dir, is_current, verify_corpus
from voicelab.corpus.items import plan_items
from voicelab.corpus.plan import read_plan, write_plan
from voicelab.corpus.recordings import (
    LICENCES,
    SKIPPED,
    Recording,
    collect_asterisk,
    collect_bundled,
    collect_pocketsphinx,
    samples_sha256,
)
from voicelab.corpus.sources import PACKAGES, CorpusError, Package, extract, fetch
from voicelab.truth.consensus import SpeechReference

SHORT_MAX_WORDS = 2
"""An utterance of at most this many words is ``short``: a short answer or backchannel."""
BACKCHANNELS = frozenset({"yes", "no", "okay", "ok", "yeah", "right", "thank you", "thanks", "goodbye",
                          "sure", "good", "uh huh", "mm hmm", "hello"})
"""Normalised transcripts flagged ``backchannel``: material for the user backchannels
("okay", "yes") of Full-Duplex-Bench v1.5 (arXiv 2507.23159; see
:mod:`voicelab.measure.duplex_bench`). The corpus's own: "Thank you.", "Goodbye", "Hello.", "no"."""

Finder = Callable[[np.ndarray], SpeechReference]


def normalise(text: str) -> str:
    """Lower case, letters/digits/apostrophes and single spaces only."""
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9' ]+", " ", text.lower())).strip()


def flags_for(transcript: str) -> tuple[str, ...]:
    """``("short",)`` for at most :data:`SHORT_MAX_WORDS` words, plus ``"backchannel"``
    for a transcript in :data:`BACKCHANNELS`."""
    words = normalise(transcript)
    flags = ("short",) if len(words.split()) <= SHORT_MAX_WORDS else ()
    return flags + (("backchannel",) if words in BACKCHANNELS else ())


def build_corpus(packages: Sequence[Package] = PACKAGES, force: bool = False, finder: Finder | None = None,
                 speech_dir: Path | None = SPEECH_DIR, progress: bool = True, replan: bool = False) -> Path:
    """Build the corpus in ``<home>/corpus/`` (skipped when already built and intact).

    With the default packages, bundled clips and finder the items come from the committed plan
    (:mod:`voicelab.corpus.plan`: the same items on every machine, no Whisper run); otherwise, or
    with ``replan``, each recording's reference is computed and the items planned from it
    (``replan`` then writes the new plan to :data:`voicelab.corpus.plan.PLAN`).

    Args:
        packages: the pinned packages, by :attr:`Package.key`: ``asterisk-wav`` and
            ``asterisk-text`` (both or neither), ``pocketsphinx``.
        force: rebuild even an intact corpus (cached downloads and references are re-used).
        finder: reference of a 16 kHz float32 recording; default
            :meth:`voicelab.truth.ReferenceFinder.find` (needs the Whisper asset).
        speech_dir: the bundled clips to add (``None``: none).
        progress: a tqdm bar on stderr.
        replan: plan the items again and write the committed plan (a maintainer's step).

    Returns:
        The corpus directory.

    Raises:
        CorpusError: a package is missing (client failed) or does not match its pin, an
            archive lacks the expected files, no item could be made, or the recordings are not
            those the committed plan was made from.
    """
    root = corpus_dir()
    root.parent.mkdir(parents=True, exist_ok=True)
    committed = finder is None and tuple(packages) == tuple(PACKAGES) and speech_dir == SPEECH_DIR
    with _lock(root.parent / ".corpus.lock"):
        if not force and not replan and is_current(root, packages):
            _say(f"already built and verified in {root}, skipping")
            return root
        t0 = time.perf_counter()
        for stale in root.parent.glob(".build-corpus-*"):
            shutil.rmtree(stale, ignore_errors=True)
        files = {p.key: fetch(p) for p in packages}
        work = Path(tempfile.mkdtemp(prefix=".build-corpus-", dir=root.parent))
        try:
            out = work / "corpus"
            recordings = _collect(packages, files, work, out, speech_dir)
            if committed and not replan:
                items, skipped, truth_version = read_plan(recordings, out)
            else:
                items, skipped = _plan(recordings, out, finder, progress)
                truth_version = _truth_version(finder)
                if committed:
                    _say(f"plan written to {write_plan(recordings, out, items, skipped, truth_version)}")
            if not items:
                raise CorpusError("the corpus has no items: no recording gave a speech reference")
            index = {"builder_version": builder_version(), "truth_version": truth_version,
                     "packages": [_package_dict(p) for p in packages], "skipped": skipped, "items": items}
            (out / INDEX).write_text(json.dumps(index, indent=0) + "\n")
            (out / "NOTICE").write_text(notice(packages, items, skipped))
            manifest = {rel: _sha256_file(out / rel) for rel in _list_files(out)}
            (out / MANIFEST).write_text(_format_manifest(manifest))
            _write_stamp(out, "corpus", manifest)
            if root.exists():
                os.replace(root, work / "old")
            os.replace(out, root)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        verify_corpus(root)
        _say(f"built {len(items)} items in {root} in {time.perf_counter() - t0:.0f} s")
    return root


def _truth_version(finder: Finder | None) -> str | None:
    """:func:`voicelab.truth.reference.algorithm_version` of the default finder (provenance
    only: a new truth algorithm does not rebuild the corpus; ``--force`` does)."""
    if finder is not None:
        return None
    from voicelab.truth.reference import algorithm_version

    return algorithm_version()


def _say(message: str) -> None:
    print(f"voicelab.corpus: {message}", file=sys.stderr, flush=True)


def _package_dict(p: Package) -> dict:
    return {"key": p.key, "registry": p.registry, "requirement": p.requirement, "filename": p.filename,
            "sha256": p.sha256, "licence": p.licence}


def _collect(packages: Sequence[Package], files: dict[str, Path], work: Path, out: Path,
             speech_dir: Path | None) -> list[Recording]:
    by_key = {p.key: p for p in packages}
    trees = {key: extract(by_key[key], path, work / "x" / key) for key, path in files.items()}
    recordings: list[Recording] = []
    try:
        if "asterisk-wav" in trees or "asterisk-text" in trees:
            recordings += collect_asterisk(trees["asterisk-wav"], trees["asterisk-text"], out,
                                           by_key["asterisk-wav"].licence)
        if "pocketsphinx" in trees:
            recordings += collect_pocketsphinx(trees["pocketsphinx"], out, by_key["pocketsphinx"].licence)
    except (FileNotFoundError, KeyError) as err:
        raise CorpusError(f"a corpus package lacks what the corpus needs: {err}") from None
    shutil.rmtree(work / "x", ignore_errors=True)
    if speech_dir is not None:
        taken = {samples_sha256(out / r.path) for r in recordings}
        recordings += collect_bundled(out, taken, speech_dir)
    return recordings


def _plan(recordings: Sequence[Recording], out: Path, finder: Finder | None,
          progress: bool) -> tuple[list[dict], list[dict]]:
    if finder is None:
        from voicelab.truth.reference import ReferenceFinder

        finder = ReferenceFinder().find
    items, skipped = [], []
    for rec in tqdm(recordings, desc="corpus references", unit="rec", disable=not progress, file=sys.stderr):
        audio = load_audio(out / rec.path)
        try:
            ref = finder(audio)
        except ValueError as err:
            skipped.append({"recording": rec.id, "reason": f"no speech reference: {err}"})
            continue
        # a one-word transcript is never split (Whisper may hear "goodbye" as two words)
        multi = len(normalise(rec.transcript).split()) > 1
        words = [(w.start_ms, w.end_ms) for w in ref.words] if multi else []
        ends = [w.text.strip().endswith((".", "?", "!")) for w in ref.words] if multi else []
        flags = flags_for(rec.transcript)
        for item_id, plan in plan_items(rec.id, audio, ref.bounds_ms, words, ends):
            items.append({"id": item_id, "source": rec.source, "licence": rec.licence,
                          "transcript": rec.transcript, "recording": rec.path, "kind": plan.kind,
                          "flags": list(flags) if plan.kind == "eot" else [],
                          "speech_ms": [round(x, 1) for x in plan.speech_ms],
                          "cut_ms": plan.cut_ms, "pause_ms": plan.pause_ms, "tone_ms": plan.tone_ms,
                          "silences": [[round(a, 1), round(b, 1), lab] for a, b, lab in plan.silences],
                          "duration_ms": plan.duration_ms})
    return items, skipped


def notice(packages: Sequence[Package], items: Sequence[dict], skipped: Sequence[dict]) -> str:
    """The corpus NOTICE: sources, versions, sha256, licences, item counts."""
    lines = ["voicelab speech corpus: real recorded speech (nothing synthesized), built from registry",
             "packages by `python -m voicelab.corpus build` (see docs/corpus.md).", "", "Packages:"]
    for p in packages:
        lines.append(f"  {p.registry} {p.requirement}  {p.filename}  sha256 {p.sha256}  licence {p.licence}")
    lines += ["", "Sources and licences:",
              "  asterisk: Asterisk core sounds (English), recorded by Allison Smith, Copyright 2003-2010;",
              "            licence CC-BY-SA-3.0 (see sources/asterisk/copyright). Audio unchanged (8 kHz);",
              "            items add pauses of the prompt's own room tone and silence (adaptations, same licence).",
              "  pocketsphinx: test recordings of the pocketsphinx 5.1.1 sdist: LibriVox 'Sense and",
              "            Sensibility' (public domain), 'cards' and 'goforward' (Copyright 1999-2016",
              "            Carnegie Mellon University, BSD licence: sources/pocketsphinx/LICENSE).",
              f"  bundled: voicelab/data/speech ({LICENCES['bundled']}).", "", "Left out:"]
    lines += [f"  {what}: {why}" for what, why in SKIPPED.items()]
    lines += [f"  {s['recording']}: {s['reason']}" for s in skipped]
    counts: dict[tuple[str, str], int] = {}
    for it in items:
        counts[(it["source"], it["kind"])] = counts.get((it["source"], it["kind"]), 0) + 1
    lines += ["", "Items (source, kind: count):"]
    lines += [f"  {src}, {kind}: {n}" for (src, kind), n in sorted(counts.items())]
    lines.append(f"  total: {len(items)}")
    return "\n".join(lines) + "\n"
