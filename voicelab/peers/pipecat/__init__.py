"""A stock Pipecat pipeline as a peer engine (``engine: pipecat``; needs ``voicelab[pipecat]``).

- :mod:`~voicelab.peers.pipecat.engine`: :class:`PipecatEngine`, the peer and its turn bookkeeping;
- :mod:`~voicelab.peers.pipecat.pipeline`: the pipeline and the observers on it;
- :mod:`~voicelab.peers.pipecat.transports`: microphone in, speaker out, the session clock;
- :mod:`~voicelab.peers.pipecat.llm`: the LLM service over voicelab's transformers model;
- :mod:`~voicelab.peers.pipecat.services`: Pipecat's Whisper and Kokoro services on voicelab's assets;
- :mod:`~voicelab.peers.pipecat.observer`: frames -> trace events.
"""

from voicelab.peers.pipecat.engine import PipecatEngine

__all__ = ["PipecatEngine"]
