"""The session: one full-duplex voice-agent conversation on one session clock.

The orchestrator owns concurrency and cancellation, nothing else; its parts are split
by responsibility (see each module's docstring). Public names:

- :class:`VoiceAgent` runs scripted user turns through the stages and returns a
  :class:`SessionResult` (the trace and both audio timelines);
- :class:`TurnSpec` (one user turn), :class:`Stages` (the loaded model stages);
- :func:`played_text` (what of a reply was actually played before a barge-in);
- :class:`BargeInDetector` (is the user taking the turn while the agent speaks?).
"""

from voicelab.session.agent import VoiceAgent
from voicelab.session.barge_in import BargeInDetector
from voicelab.session.played import played_text
from voicelab.session.turns import SessionResult, Stages, TurnSpec

__all__ = ["VoiceAgent", "SessionResult", "Stages", "TurnSpec", "played_text", "BargeInDetector"]
