// voicelab microphone widget (anywidget ES module). The widget's module is this file with the reply
// player (voicelab/live/static/player.js: createReplyPlayer) inlined ahead of it
// (voicelab.lab.widgets.MIC_ESM): the kernel cannot serve it a relative import.
//
// Records from the browser's audio capture, taps the samples with an AudioWorklet
// (ScriptProcessor where AudioWorklet is missing) and sends them to the kernel as custom messages:
//   {type: "start", rate}                       recording started, `rate` = AudioContext rate (Hz)
//   {type: "chunk", rate, seq} + [Float32Array]  mono float32 PCM at `rate`, ~85 ms per message
//   {type: "stop", rate, frames}                recording stopped (`frames` samples sent in all)
// Two modes (synced trait `mode`):
//   "push-to-talk": capture without echo cancellation / noise suppression / AGC; the kernel side
//     (voicelab.audio.browser.MicBuffer) collects the recording and resamples it to 16 kHz.
//   "hands-free": "live" streams continuously, with the browser's echo cancellation on (it keeps
//     the agent's own voice, played here, out of the kernel's barge-in detector). The kernel
//     (voicelab.lab.live) sends the reply as it is generated:
//       {type: "audio", rate, turn, request, start_sample} + [float32 PCM at `rate`]  scheduled at
//         its start sample on the capture AudioContext (WebAudio; the shared reply player);
//       {type: "flush", turn, sample_index}  barge-in: every scheduled source stops at once.
//     Counters for tests and the status line: data-reply-seconds, data-flushes on the widget element.
// Other synced traits read here: `recording` (bool, kernel may set it to start/stop), `message`
// (text shown under the button), `max_seconds` (push-to-talk auto-stop).

const WORKLET = `
class VoicelabTap extends AudioWorkletProcessor {
  constructor() { super(); this.buf = new Float32Array(4096); this.n = 0; }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) {
      for (let i = 0; i < ch.length; i++) {
        this.buf[this.n++] = ch[i];
        if (this.n === this.buf.length) { this.port.postMessage(this.buf.slice(0)); this.n = 0; }
      }
    }
    return true;
  }
}
registerProcessor("voicelab-tap", VoicelabTap);
`;

async function openTap(ctx, source, onChunk) {
  if (ctx.audioWorklet) {
    const url = URL.createObjectURL(new Blob([WORKLET], { type: "application/javascript" }));
    await ctx.audioWorklet.addModule(url);
    const node = new AudioWorkletNode(ctx, "voicelab-tap", { numberOfInputs: 1, numberOfOutputs: 1 });
    node.port.onmessage = (e) => onChunk(e.data);
    // pulled through a muted gain into the destination, so it runs on every browser
    const mute = ctx.createGain();
    mute.gain.value = 0;
    source.connect(node).connect(mute).connect(ctx.destination);
    return node;
  }
  const node = ctx.createScriptProcessor(4096, 1, 1);
  node.onaudioprocess = (e) => onChunk(new Float32Array(e.inputBuffer.getChannelData(0)));
  const mute = ctx.createGain();
  mute.gain.value = 0;
  source.connect(node).connect(mute).connect(ctx.destination);
  return node;
}

function render({ model, el }) {
  el.classList.add("voicelab-mic");
  const button = document.createElement("button");
  const meter = document.createElement("div");
  const bar = document.createElement("div");
  const status = document.createElement("span");
  const message = document.createElement("div");
  meter.className = "voicelab-meter"; bar.className = "voicelab-bar"; meter.appendChild(bar);
  status.className = "voicelab-status"; message.className = "voicelab-message";
  const row = document.createElement("div"); row.className = "voicelab-row";
  row.append(button, meter, status);
  el.append(row, message);

  let ctx = null, stream = null, node = null, seq = 0, frames = 0, t0 = 0, busy = false;
  const handsFree = () => model.get("mode") === "hands-free";

  // hands-free playback of the reply (player.js), its counters on the element
  const counters = () => {
    el.dataset.replySeconds = player.seconds.toFixed(3);
    el.dataset.flushes = String(player.flushes);
  };
  const player = createReplyPlayer(counters);

  const show = () => {
    const rec = model.get("recording"), hf = handsFree();
    el.classList.toggle("hands-free", hf);
    el.classList.toggle("push-to-talk", !hf);
    button.textContent = hf ? (rec ? "■ End live" : "● Go live") : (rec ? "■ Stop" : "● Record");
    button.classList.toggle("recording", rec);
    message.textContent = model.get("message") || "";
  };

  function playReply(msg, buffers) {
    if (!ctx || !buffers || !buffers.length) return;
    const b = buffers[0];
    const bytes = b instanceof ArrayBuffer ? b : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    player.play(ctx, new Float32Array(bytes), msg.rate, msg.start_sample);
  }

  const onCustom = (msg, buffers) => {
    if (msg.type === "audio") playReply(msg, buffers);
    else if (msg.type === "flush") player.flush();
  };

  async function start() {
    if (busy || ctx) return;
    busy = true;
    const hf = handsFree();
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: hf, noiseSuppression: false, autoGainControl: false },
      });
      ctx = new AudioContext();
      const source = ctx.createMediaStreamSource(stream);
      seq = 0; frames = 0; t0 = performance.now(); player.reset();
      model.send({ type: "start", rate: ctx.sampleRate });
      node = await openTap(ctx, source, (pcm) => {
        if (!ctx) return;
        frames += pcm.length;
        let peak = 0;
        for (let i = 0; i < pcm.length; i++) peak = Math.max(peak, Math.abs(pcm[i]));
        bar.style.width = `${Math.min(100, Math.round(peak * 100))}%`;
        status.textContent = `${(frames / ctx.sampleRate).toFixed(1)} s @ ${ctx.sampleRate} Hz` +
          (hf ? ` · live · reply ${player.seconds.toFixed(1)} s` : "");
        model.send({ type: "chunk", rate: ctx.sampleRate, seq: seq++ }, undefined, [pcm.buffer]);
        const max = model.get("max_seconds") || 0;
        if (!hf && max > 0 && frames / ctx.sampleRate >= max) stop();
      });
      if (!model.get("recording")) { model.set("recording", true); model.save_changes(); }
    } catch (err) {
      status.textContent = `microphone error: ${err.name || err}`;
      model.send({ type: "error", error: String(err) });
      await teardown();
      if (model.get("recording")) { model.set("recording", false); model.save_changes(); }
    } finally {
      busy = false;
    }
  }

  async function teardown() {
    const c = ctx; ctx = null;
    player.reset();  // closing the context silences what it scheduled
    if (node) { try { node.disconnect(); } catch (e) {} node = null; }
    if (stream) { stream.getTracks().forEach((t) => t.stop()); stream = null; }
    if (c) { try { await c.close(); } catch (e) {} return c.sampleRate; }
    return 0;
  }

  async function stop() {
    if (!ctx) return;
    const rate = await teardown();
    bar.style.width = "0%";
    model.send({ type: "stop", rate, frames });
    if (model.get("recording")) { model.set("recording", false); model.save_changes(); }
  }

  button.addEventListener("click", () => (model.get("recording") || ctx ? stop() : start()));
  const onRecording = () => { show(); if (model.get("recording")) start(); else stop(); };
  const onMessage = () => show();
  model.on("change:recording", onRecording);
  model.on("change:message", onMessage);
  model.on("change:mode", onMessage);
  model.on("msg:custom", onCustom);
  show();
  counters();
  return () => {
    model.off("change:recording", onRecording);
    model.off("change:message", onMessage);
    model.off("change:mode", onMessage);
    model.off("msg:custom", onCustom);
    teardown();
  };
}

export default { render };
