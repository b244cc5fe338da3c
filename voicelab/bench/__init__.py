"""``voicelab bench``: a load generator and meter for any agent that speaks ``docs/protocol.md``.

- :mod:`~voicelab.bench.client`: one scripted client (real clips at real-time pace, the
  agent's audio recorded on arrival, a voicelab trace on the client's clock);
- :mod:`~voicelab.bench.run`: N concurrent clients, one run directory each, and the summary.
"""
