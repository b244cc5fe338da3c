"""The session's seams: the checked conversation state machine, the User protocol, and a
VoiceAgent's per-run session (its control methods outside a run)."""

import asyncio
import inspect
import json
from pathlib import Path

import numpy as np
import pytest

from voicelab.audio.mic import VirtualMicrophone
from voicelab.audio.speaker import VirtualSpeaker
from voicelab.audio.stream_mic import StreamMicrophone
from voicelab.clock import SessionClock, run_virtual
from voicelab.config import ExperimentConfig
from voicelab.events import StateChanged, Trace
from voicelab.session import VoiceAgent
from voicelab.session.context import ALLOWED, STATES, ConversationState, SessionContext
from voicelab.session.live_user import LiveUser
from voicelab.session.user import ScriptedUser, User

from scripted_stages import scripted_stages

DOCS_RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


def _ctx() -> SessionContext:
    """A session's shared parts (call it on a running loop)."""
    clock, trace = SessionClock(), Trace()
    return SessionContext(ExperimentConfig(), scripted_stages(), clock, trace, VirtualMicrophone(clock),
                          VirtualSpeaker(clock, trace))


def _on_loop(fn):
    """``fn(ctx)`` on a virtual-time loop (no time passes: t = 0); its result."""
    async def main():
        return fn(_ctx())
    return run_virtual(main())


def test_states_keep_their_trace_names():
    assert STATES == ("idle", "listening", "processing", "speaking", "paused", "interrupted")
    assert [s.value for s in ConversationState] == list(STATES)
    assert ConversationState.PAUSED == "paused" and ConversationState("interrupted") is ConversationState.INTERRUPTED
    assert set(ALLOWED) == set(ConversationState)


def test_allowed_transition_table():
    pairs = {(old.value, new.value) for old, news in ALLOWED.items() for new in news}
    assert pairs == {("idle", "listening"), ("listening", "processing"), ("processing", "speaking"),
                     ("processing", "idle"), ("speaking", "idle"), ("speaking", "interrupted"),
                     ("speaking", "paused"), ("paused", "speaking"), ("paused", "interrupted"),
                     ("interrupted", "idle")}


def test_an_allowed_transition_is_logged_with_plain_state_names():
    ctx, state = _on_loop(lambda ctx: (ctx, ctx.transition(3, "idle", ConversationState.LISTENING)))
    assert state is ConversationState.LISTENING
    (ev,) = ctx.trace.of(StateChanged)
    assert (ev.t_ms, ev.turn, ev.old, ev.new) == (0.0, 3, "idle", "listening")
    assert type(ev.old) is str and type(ev.new) is str  # the trace's JSON is unchanged


def test_a_forbidden_transition_raises_naming_both_states_and_logs_nothing():
    ctx = _on_loop(lambda ctx: ctx)
    with pytest.raises(ValueError, match=r"turn 2: 'idle' -> 'speaking' is not an allowed"):
        ctx.transition(2, "idle", "speaking")
    with pytest.raises(ValueError, match=r"'interrupted' -> 'speaking'"):
        ctx.transition(2, ConversationState.INTERRUPTED, ConversationState.SPEAKING)
    with pytest.raises(ValueError, match="'thinking' is not a valid ConversationState"):
        ctx.transition(2, "listening", "thinking")
    assert not ctx.trace.of(StateChanged)


def test_every_transition_in_the_published_traces_is_allowed():
    """Every StateChanged pair of the committed result traces is in the table (a forbidden pair
    raises, which would end a live session)."""
    seen: dict[tuple[str, str], int] = {}
    for path in DOCS_RESULTS.rglob("events.jsonl"):
        for line in path.read_text().splitlines():
            if '"StateChanged"' in line:
                e = json.loads(line)
                seen[e["old"], e["new"]] = seen.get((e["old"], e["new"]), 0) + 1
    if not seen:
        pytest.skip("no published traces under docs/results")
    forbidden = {p: n for p, n in seen.items() if ConversationState(p[1]) not in ALLOWED[ConversationState(p[0])]}
    assert not forbidden


def test_scripted_and_live_users_satisfy_the_user_protocol():
    users = _on_loop(lambda ctx: (ScriptedUser(ctx, [], lambda: False),
                                  LiveUser(ctx, ctx.config.resolved_variants()[0], lambda: False)))
    members = {"states", "current", "on_play", "finish", "speech_started", "speech_ended", "run", "close"}
    assert members == {n for n in vars(User) if not n.startswith("_")} | set(User.__annotations__)
    for user in users:
        assert isinstance(user, User)
        assert user.states == [] and user.current == -1
        for name in ("on_play", "finish", "speech_started", "speech_ended"):
            assert callable(getattr(user, name)) and not inspect.iscoroutinefunction(getattr(user, name))
        for name in ("run", "close"):
            assert inspect.iscoroutinefunction(getattr(user, name))
    assert not isinstance(object(), User)


def test_control_methods_before_run_raise_a_clear_error():
    agent = VoiceAgent(ExperimentConfig(), scripted_stages())
    with pytest.raises(RuntimeError, match=r"submit_text\(\) needs a running session.*before run\(\)"):
        agent.submit_text("hi")
    with pytest.raises(RuntimeError, match=r"reconfigure\(\) needs a running session.*before run\(\)"):
        agent.reconfigure(ExperimentConfig(), agent.stages)
    with pytest.raises(RuntimeError, match="no session has started"):
        agent.speaker  # noqa: B018
    assert agent.end_utterance() is False
    assert agent.context is None and agent.responding is None


def test_control_methods_after_a_live_run_raise_and_its_parts_stay_readable():
    agent = VoiceAgent(ExperimentConfig.model_validate({"vad": {"turn_detector": "none"}}), scripted_stages())

    async def main():
        mic, users = StreamMicrophone(), []
        run = asyncio.create_task(agent.run_live(mic, on_start=lambda user, ctx: users.append(user)))
        mic.push(np.zeros(512, dtype=np.float32))
        while not users:
            await asyncio.sleep(0.01)
        turn = agent.submit_text("hi there")  # a running session takes it
        users[0].end()
        mic.close()
        return turn, await run
    turn, result = run_virtual(main())
    assert turn == 0 and result.turns[0].clip.name == "live-0"
    with pytest.raises(RuntimeError, match=r"submit_text\(\) needs a running session.*after the session ended"):
        agent.submit_text("again")
    with pytest.raises(RuntimeError, match="after the session ended"):
        agent.reconfigure(agent.config, agent.stages)
    assert agent.end_utterance() is False
    assert agent.context is not None and agent.speaker is agent.context.speaker and agent.responding is None
