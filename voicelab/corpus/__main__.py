"""``python -m voicelab.corpus build [--force] | plan | verify [--full] | summary``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from voicelab.assets.cache import AssetError
from voicelab.corpus.build import build_corpus
from voicelab.corpus.cache import corpus_dir, load_corpus, summary, verify_corpus
from voicelab.corpus.sources import CorpusError


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit code (1 with a message on a corpus error)."""
    parser = argparse.ArgumentParser(prog="python -m voicelab.corpus",
                                     description=f"The speech corpus in {corpus_dir()}.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="fetch, check and build the corpus (skipped when intact)")
    p_build.add_argument("--force", action="store_true", help="rebuild even an intact corpus")
    sub.add_parser("plan", help="plan the items again from each recording's reference (Whisper) and write "
                   "the committed plan voicelab/data/corpus/plan.json.gz (a maintainer's step), then build")
    p_verify = sub.add_parser("verify", help="check the built corpus against its sha256 manifest")
    p_verify.add_argument("--full", action="store_true", help="re-hash every file")
    sub.add_parser("summary", help="items by source and kind")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            print(build_corpus(force=args.force))
        elif args.command == "plan":
            print(build_corpus(replan=True))
        elif args.command == "verify":
            print(f"ok       {len(verify_corpus(full=args.full))} files in {corpus_dir()}")
        else:
            items = summary(load_corpus())
            print(items.to_string(index=False))
            print(f"total: {int(items['items'].sum())} items")
    except (CorpusError, AssetError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
