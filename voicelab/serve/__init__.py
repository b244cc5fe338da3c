"""Serving the agent over WebSocket (issue 14, in progress): the protocol
(:mod:`~voicelab.serve.protocol`, described in ``docs/protocol.md``)."""
