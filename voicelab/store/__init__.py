"""Persistence of served conversations (SQLAlchemy 2; SQLite by default, PostgreSQL by URL).

:mod:`~voicelab.store.schema` (tables), :mod:`~voicelab.store.database` (URL -> engine with
the schema), :mod:`~voicelab.store.writer` (the thread that writes off the audio path),
:mod:`~voicelab.store.conversations` (what a session persists, and resuming one).
"""

from voicelab.store.conversations import ConversationStore, Resumed, UnknownSession
from voicelab.store.database import StoreError, default_url

__all__ = ["ConversationStore", "Resumed", "StoreError", "UnknownSession", "default_url"]
