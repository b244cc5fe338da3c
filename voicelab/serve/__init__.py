"""``voicelab serve``: the streaming agent over WebSocket, many clients on one model set.

- :mod:`~voicelab.serve.protocol`: messages, error codes, PCM framing (``docs/protocol.md``);
- :mod:`~voicelab.serve.models`: the model manager (loaded once, shared by every session);
- :mod:`~voicelab.serve.session`: one connection's live session (frames in, agent, frames out);
- :mod:`~voicelab.serve.publish`: trace events -> protocol messages;
- :mod:`~voicelab.serve.app`: the ``websockets`` server (health, limits, clean shutdown).
"""
