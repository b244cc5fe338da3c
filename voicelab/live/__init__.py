"""One live front end for every client of a live session: the notebook and ``voicelab serve``.

- :mod:`~voicelab.live.updates`: what a client is told (turn, transcript, reply text and
  audio, cuts, progress, the finished turn's metrics);
- :mod:`~voicelab.live.translate`: the one mapping of trace events to those updates, and the
  one rule that decides a turn is complete (:func:`~voicelab.live.translate.turn_completed`);
- ``static/player.js`` (:data:`PLAYER_JS`): the one browser player of the reply audio,
  loaded by the served page (``GET /player.js``) and inlined into the notebook's microphone
  widget.

Each client encodes the updates in its own format: protocol JSON in
:class:`voicelab.serve.publish.EventPublisher`, anywidget messages in
:class:`voicelab.lab.live.LiveLink`.
"""

from __future__ import annotations

from pathlib import Path

from voicelab.live.translate import LiveTranslator, turn_completed

PLAYER_JS = Path(__file__).parent / "static" / "player.js"
"""The reply-audio player (plain script: no ``import``/``export``, so it runs as a classic
script and inlined ahead of an ES module alike)."""

__all__ = ["PLAYER_JS", "LiveTranslator", "turn_completed"]
