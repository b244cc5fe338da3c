"""The text trigger policies by name.

:data:`TRIGGER_POLICIES` wraps :data:`voicelab.trigger.TRIGGERS`, the table
:func:`voicelab.trigger.make_trigger` reads: a policy is not loaded with the models, the
session (below this package) builds a fresh one for each reply. Adding a policy: its class
in that table (or ``TRIGGER_POLICIES.register(name, cls)``), its name in
``TriggerConfig.policy``'s ``Literal`` and its arguments in ``TriggerConfig.params``
(:mod:`voicelab.config.stages`).
"""

from __future__ import annotations

from voicelab.stages.registry import Registry
from voicelab.trigger import TRIGGERS, TriggerPolicy

TRIGGER_POLICIES: Registry[type[TriggerPolicy]] = Registry("trigger policy", TRIGGERS)
"""Trigger policy classes by ``trigger.policy`` (the same dict as :data:`voicelab.trigger.TRIGGERS`)."""

