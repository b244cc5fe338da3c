"""The command line of the asset cache::

    python -m voicelab.assets build [NAME ...] [--force]
    python -m voicelab.assets verify [NAME ...] [--full]
    python -m voicelab.assets path NAME
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from voicelab.assets.building import build
from voicelab.assets.cache import AssetError, asset_path, verify, voicelab_home
from voicelab.assets.catalog import ASSETS


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m voicelab.assets build|verify|path``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m voicelab.assets",
                                     description=f"Model assets in {voicelab_home() / 'assets'}.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="download, build and verify assets (default: all)")
    p_build.add_argument("names", nargs="*", metavar="NAME", help=f"one of: {', '.join(ASSETS)}")
    p_build.add_argument("--force", action="store_true", help="rebuild even verified assets")
    p_verify = sub.add_parser("verify", help="check assets against their sha256 (default: all)")
    p_verify.add_argument("names", nargs="*", metavar="NAME")
    p_verify.add_argument("--full", action="store_true", help="re-hash every file (no stamp fast path)")
    p_path = sub.add_parser("path", help="print the path of a verified asset")
    p_path.add_argument("name", metavar="NAME")
    args = parser.parse_args(argv)

    try:
        if args.command == "build":
            for r in build(args.names or None, force=args.force):
                print(r.path)
        elif args.command == "verify":
            failed = 0
            for name in args.names or list(ASSETS):
                try:
                    verify(name, full=args.full)
                    print(f"ok       {name}")
                except AssetError as e:
                    failed += 1
                    print(f"FAILED   {name}: {e}")
            return 1 if failed else 0
        else:
            print(asset_path(args.name))
    except AssetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
