"""``python -m voicelab.assets build|verify|path`` (see :mod:`voicelab.assets.cli`)."""

import sys

from voicelab.assets.cli import main

if __name__ == "__main__":
    sys.exit(main())
