"""Per-turn progress: the bar advances once per finished turn and shows that turn's
voice-to-voice, the same figure turns.csv gets (scripted stages, virtual time)."""

from voicelab.config import BargeInConfig
from voicelab.lab.progress import TurnProgress
from voicelab.measure.metrics import turns_table

from test_agent_metrics import _session


class _Recorder(TurnProgress):
    """Keeps the bar's text each time it advances."""

    def __init__(self, total):
        # the session's config (test_agent_metrics._session) keeps barge_in's default
        super().__init__(total, "turns", BargeInConfig().min_barge_in_ms, disable=True)
        self.shown = []

    def __call__(self, e):
        n = self.turns_done
        super().__call__(e)
        if self.turns_done != n:
            self.shown.append(self.text)


def test_bar_advances_per_turn_with_its_voice_to_voice():
    bar = _Recorder(2)
    result, _, _ = _session([{"name": "words-2", "trigger": {"policy": "words", "words": 2}},
                             {"name": "whole", "trigger": {"policy": "whole"}}], [bar])
    v2v = turns_table(result.trace, 200.0)["voice_to_voice_latency_ms"].tolist()
    assert bar.turns_done == 2 and bar.answered == 2 and len(v2v) == 2
    assert bar.shown == [f"last V2V {v2v[0]:.0f} ms, answered 1/1", f"last V2V {v2v[1]:.0f} ms, answered 2/2"]
