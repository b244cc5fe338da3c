"""Notebook widgets: a browser microphone and a panel that runs one agent turn.

1. :class:`MicrophoneWidget` (anywidget): renders ``voicelab/lab/static/mic.js`` (with the
   live reply player, ``voicelab/live/static/player.js``, inlined ahead of it), which
   records with ``getUserMedia`` and an AudioWorklet and sends ~85 ms chunks at the
   browser's native rate (usually 48 kHz) to the kernel. In push-to-talk mode (the default)
   a :class:`voicelab.audio.browser.MicBuffer` collects them and converts them to 16 kHz; in
   hands-free mode they stream to a live agent (:class:`voicelab.lab.live.HandsFreeAgent`),
   whose reply audio streams back and plays in the browser.
2. :class:`TurnPanel`: controls for the trigger policy, its threshold (words) and the
   VAD, a "reply" button that runs one agent turn (:func:`voicelab.lab.notebook.run_clip`)
   on the current audio, then plays the reply and shows a latency readout.
3. :func:`sound_card_controls`: where the kernel's machine has a local sound card, a
   record toggle that fills the same buffer from it (:mod:`voicelab.audio.sound_card`) and
   plays replies on it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anywidget
import traitlets

from voicelab.audio.browser import MicBuffer
from voicelab.audio.clips import Clip
from voicelab.audio.load import AudioError
from voicelab.live import PLAYER_JS
from voicelab.units import INPUT_RATE

STATIC_DIR = Path(__file__).parent / "static"
MIC_JS = STATIC_DIR / "mic.js"
"""The microphone widget's own script (the body of its ES module, :data:`MIC_ESM`)."""
MIC_CSS = STATIC_DIR / "mic.css"
MIC_ESM = PLAYER_JS.read_text(encoding="utf-8") + "\n" + MIC_JS.read_text(encoding="utf-8")
"""The widget's ES module (anywidget ``_esm``): the reply player of :mod:`voicelab.live`
inlined ahead of ``mic.js``, which calls its ``createReplyPlayer`` (a module the kernel hands
the browser as source cannot import a relative URL)."""


class MicrophoneWidget(anywidget.AnyWidget):
    """Browser microphone (see the module docstring).

    Traits (synced): ``mode`` (``"push-to-talk"``: record, then ``buffer`` holds the
    recording; ``"hands-free"``: while live, every message goes to the callbacks in
    ``on_stream`` and the browser plays the reply audio the kernel sends, see
    :mod:`voicelab.lab.live`), ``recording`` (capturing, i.e. live in hands-free mode; set
    True/False to start/stop from the kernel), ``message`` (text shown under the button),
    ``max_seconds`` (push-to-talk auto-stop, 0 = none).
    """

    _esm = MIC_ESM
    _css = MIC_CSS
    mode = traitlets.Enum(["push-to-talk", "hands-free"], "push-to-talk").tag(sync=True)
    recording = traitlets.Bool(False).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    max_seconds = traitlets.Float(30.0).tag(sync=True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.buffer = MicBuffer()
        self.on_stream: list[Callable[[dict, list | None], None]] = []
        """Hands-free mode: called as ``f(content, buffers)`` with every message of ``mic.js``."""
        self.on_msg(self._on_custom_msg)

    def _on_custom_msg(self, _widget, content, buffers) -> None:
        self.receive(content, buffers)

    def receive(self, content: dict, buffers: list | None = None) -> None:
        """Apply one message of ``mic.js`` (from the browser, or a stand-in for it):
        ``start`` / ``chunk`` + float32 PCM buffers / ``stop`` / ``error``, to ``buffer`` in
        push-to-talk mode, to the ``on_stream`` callbacks in hands-free mode."""
        if self.mode == "hands-free":
            for callback in list(self.on_stream):
                callback(content, buffers)
        else:
            self.buffer.handle_message(content, buffers)


class TurnPanel:
    """Controls + "reply" button: run one agent turn on ``source()`` and show the result.

    Args:
        config: base experiment config (its trigger and VAD are the controls' defaults).
        stages: loaded model stages (:func:`voicelab.stages.load_stages`).
        source: returns the user's audio as a :class:`Clip` (the microphone's recording,
            or a bundled clip).
        mic: optional :class:`MicrophoneWidget` shown above the controls; its ``message``
            gets the latest transcript, reply and latency.
    """

    POLICIES = ["words", "sentence", "debounce", "hybrid", "whole"]

    def __init__(self, config, stages, source: Callable[[], Clip], mic=None) -> None:
        import ipywidgets as w

        self.config, self.stages, self.source, self.mic = config, stages, source, mic
        t, v = config.trigger, config.vad
        style = {"description_width": "initial"}
        self.policy = w.Dropdown(options=self.POLICIES, value=t.policy, description="trigger", style=style)
        self.words = w.IntSlider(value=t.words, min=1, max=8, description="words", style=style)
        self.debounce = w.IntSlider(value=int(t.debounce_ms), min=50, max=800, step=50,
                                    description="debounce ms", style=style)
        self.vad_kind = w.Dropdown(options=["silero", "energy", "webrtc"], value=v.kind,
                                   description="VAD", style=style)
        self.silence = w.IntSlider(value=int(v.min_silence_ms), min=100, max=1500, step=50,
                                   description="end-of-turn silence ms", style=style)
        self.button = w.Button(description="reply", button_style="primary", icon="comment")
        self.readout = w.HTML("")
        self.output = w.Output()
        self.button.on_click(lambda _b: self.reply())
        self.auto = w.Checkbox(value=mic is not None, description="reply when recording stops",
                               indent=False, layout=w.Layout(display="" if mic is not None else "none"))
        if mic is not None:
            mic.buffer.on_stop.append(lambda _buf: self.reply() if self.auto.value else None)
        self.history: list = []
        self.play_reply: Callable | None = None
        """Optional ``f(audio, sample_rate)`` called with each reply (e.g. a local speaker)."""
        controls = w.VBox([w.HBox([self.policy, self.words, self.debounce]),
                           w.HBox([self.vad_kind, self.silence]),
                           w.HBox([self.button, self.auto, self.readout])])
        self.widget = w.VBox(([mic] if mic is not None else []) + [controls, self.output])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def turn_config(self):
        """The config of the next turn: the base config with the controls' values."""
        from voicelab.lab.notebook import with_overrides

        return with_overrides(
            self.config,
            trigger={"policy": self.policy.value, "words": int(self.words.value),
                     "debounce_ms": float(self.debounce.value)},
            vad={"kind": self.vad_kind.value, "min_silence_ms": float(self.silence.value)})

    def reply(self):
        """Run one turn on the current audio; show the players, timeline and readout.

        Returns the :class:`voicelab.lab.notebook.ClipTurn` (None if there was no audio).
        """
        from IPython.display import display

        from voicelab.lab.notebook import figure_image, latency_readout, latency_table, run_clip, side_by_side
        from voicelab.reports.timeline import timeline_figure

        try:
            clip = self.source()
        except AudioError as err:
            self.readout.value = f"<span style='color:#b91c1c'>{err}</span>"
            return None
        self.button.disabled = True
        self.readout.value = "running the agent ..."
        try:
            result = run_clip(self.turn_config(), self.stages, clip)
        finally:
            self.button.disabled = False
        self.history.append(result)
        row = result.row
        text = latency_readout(result)
        self.readout.value = f"<code>{text}</code>"
        if self.mic is not None:
            self.mic.message = (f"heard: {row.get('transcript', '')}\nagent: {row.get('response_text', '')}"
                                f"\n{text}")
        self.output.clear_output()
        with self.output:
            display(side_by_side(clip.audio, result.reply_audio))
            display(latency_table(result.turns))
            display(figure_image(timeline_figure(result.session.trace, 0)))
        if self.play_reply is not None and len(result.reply_audio):
            self.play_reply(result.reply_audio, INPUT_RATE)
        return result


def sound_card_controls(panel: TurnPanel, buffer: MicBuffer, device: int | str | None = None):
    """Record from the kernel machine's own input device into ``buffer``; play replies on it.

    Returns an ipywidgets box with a record toggle (stopping it makes ``panel`` reply, as
    the browser microphone does), or, when there is no usable sound card, an HTML line
    with the reason from :func:`voicelab.audio.sound_card.probe_sound_card`. Sets
    ``panel.play_reply`` when an output device exists.
    """
    import ipywidgets as w

    from voicelab.audio.sound_card import SoundCardError, SoundCardMicrophone, play, probe_sound_card

    reason = probe_sound_card("input", device)
    if reason is not None:
        return w.HTML(f"<i>no local sound card for the kernel: {reason}</i>")
    if probe_sound_card("output", device) is None:
        panel.play_reply = lambda audio, rate: play(audio, rate, device)
    mic = SoundCardMicrophone(buffer, device)
    toggle = w.ToggleButton(value=False, description="record (sound card)", icon="microphone")
    status = w.HTML("")

    def on_toggle(change) -> None:
        try:
            mic.start() if change["new"] else mic.stop()
            status.value = "recording ..." if change["new"] else ""
        except SoundCardError as err:
            status.value = f"<span style='color:#b91c1c'>{err}</span>"

    toggle.observe(on_toggle, names="value")
    return w.HBox([toggle, status])


__all__ = ["MIC_CSS", "MIC_ESM", "MIC_JS", "MicBuffer", "MicrophoneWidget", "TurnPanel", "sound_card_controls"]
