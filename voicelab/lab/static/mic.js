// voicelab microphone widget (anywidget ES module; also loaded by the standalone test page).
//
// Records from the browser's audio capture (getUserMedia, no echo cancellation / noise
// suppression / AGC), taps the samples with an AudioWorklet (ScriptProcessor where
// AudioWorklet is missing) and sends them to the kernel as custom messages:
//   {type: "start", rate}                       recording started, `rate` = AudioContext rate (Hz)
//   {type: "chunk", rate, seq} + [Float32Array]  mono float32 PCM at `rate`, ~85 ms per message
//   {type: "stop", rate, frames}                recording stopped (`frames` samples sent in all)
// The kernel side (voicelab.widgets.MicBuffer) resamples to 16 kHz. Synced traits read here:
// `recording` (bool, kernel may set it to start/stop), `message` (text shown under the button),
// `max_seconds` (auto-stop).

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

  const show = () => {
    const rec = model.get("recording");
    button.textContent = rec ? "■ Stop" : "● Record";
    button.classList.toggle("recording", rec);
    message.textContent = model.get("message") || "";
  };

  async function start() {
    if (busy || ctx) return;
    busy = true;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
      ctx = new AudioContext();
      const source = ctx.createMediaStreamSource(stream);
      seq = 0; frames = 0; t0 = performance.now();
      model.send({ type: "start", rate: ctx.sampleRate });
      node = await openTap(ctx, source, (pcm) => {
        if (!ctx) return;
        frames += pcm.length;
        let peak = 0;
        for (let i = 0; i < pcm.length; i++) peak = Math.max(peak, Math.abs(pcm[i]));
        bar.style.width = `${Math.min(100, Math.round(peak * 100))}%`;
        status.textContent = `${(frames / ctx.sampleRate).toFixed(1)} s @ ${ctx.sampleRate} Hz`;
        model.send({ type: "chunk", rate: ctx.sampleRate, seq: seq++ }, undefined, [pcm.buffer]);
        const max = model.get("max_seconds") || 0;
        if (max > 0 && frames / ctx.sampleRate >= max) stop();
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
  show();
  return () => {
    model.off("change:recording", onRecording);
    model.off("change:message", onMessage);
    teardown();
  };
}

export default { render };
