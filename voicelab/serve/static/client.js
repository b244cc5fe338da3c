// voicelab live-agent page: speaks docs/protocol.md over one WebSocket.
// Microphone (getUserMedia, echo cancellation on) -> AudioContext at 16 kHz -> AudioWorklet
// -> int16 little-endian PCM in 32 ms binary frames. Reply audio (int16 at the TTS rate,
// announced by response_audio) is scheduled at its start_sample on the same AudioContext by the
// shared reply player (player.js, loaded before this script); an `interrupted` message stops what
// is still queued. `window.voicelab` exposes counters for tests.

const WORKLET = `
class Tap extends AudioWorkletProcessor {
  constructor() { super(); this.buf = new Float32Array(512); this.n = 0; }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) for (let i = 0; i < ch.length; i++) {
      this.buf[this.n++] = ch[i];
      if (this.n === 512) { this.port.postMessage(this.buf.slice(0)); this.n = 0; }
    }
    return true;
  }
}
registerProcessor("voicelab-tap", Tap);`;

const $ = (id) => document.getElementById(id);
const state = { ws: null, ctx: null, stream: null, header: null, turns: {}, speechEnd: null };
window.voicelab = { sentFrames: 0, playedSamples: 0, messages: [], turns: state.turns };
const player = createReplyPlayer((p) => { window.voicelab.playedSamples = p.samples; });

function status(text) { $("status").textContent = text; }

function turnEl(id) {
  if (!state.turns[id]) {
    const el = document.createElement("div");
    el.className = "turn";
    el.innerHTML = '<div class="you"></div><div class="agent"></div><div class="metrics"></div>';
    $("log").prepend(el);
    state.turns[id] = { el, you: "", agent: "", heardMs: null };
  }
  return state.turns[id];
}

function toPcm16(f32) {
  const out = new Int16Array(f32.length);
  for (let i = 0; i < f32.length; i++) out[i] = Math.max(-1, Math.min(1, f32[i])) * 32767;
  return out.buffer;
}

function play(buffer) {
  const h = state.header;
  if (!h) return;
  const i16 = new Int16Array(buffer);
  const pcm = new Float32Array(i16.length);
  for (let i = 0; i < i16.length; i++) pcm[i] = i16[i] / 32768;
  if (!player.play(state.ctx, pcm, h.sample_rate, h.start_sample)) return;
  const t = turnEl(h.reply_id);
  if (t.heardMs === null && state.speechEnd !== null) t.heardMs = performance.now() - state.speechEnd;
}

function showMetrics(t, m) {
  const rows = [["voice-to-voice (server, from its VAD end)", m.voice_to_voice_latency_ms],
                ["first audio after your speech ended (this page)", t.heardMs],
                ["endpointing", m.endpoint_delay_ms], ["STT", m.stt_latency_ms], ["LLM first token", m.llm_ttft_ms],
                ["TTS first audio", m.tts_ttfb_ms], ["playback stalls", m.playback_stall_ms]];
  t.el.querySelector(".metrics").innerHTML = "<table>" + rows.map(([k, v]) =>
    `<tr><th>${k}</th><td>${v === null || v === undefined ? "–" : v.toFixed(0) + " ms"}</td></tr>`).join("") + "</table>";
}

function onMessage(msg) {
  window.voicelab.messages.push(msg);
  const d = msg.data || {};
  switch (msg.type) {
    case "session_started": status(`session ${d.session_id}: listening`); break;
    case "vad_status":
      $("vad").classList.toggle("speaking", d.speaking);
      if (!d.speaking) state.speechEnd = performance.now();
      break;
    case "state": status(d.state); break;
    case "transcription": { const t = turnEl(d.turn); t.you = d.text; t.el.querySelector(".you").textContent = "you: " + d.text; break; }
    case "response_text": { const t = turnEl(d.reply_id); t.agent += d.text; t.el.querySelector(".agent").textContent = "agent: " + t.agent.trim(); break; }
    case "response_audio": state.header = d; break;
    case "response_complete": showMetrics(turnEl(d.reply_id), d.metrics || {}); break;
    case "interrupted": player.flush(); break;
    case "error": $("error").textContent = `${d.code}: ${d.message}`; break;
    case "session_ended": status(`session ended after ${d.duration_s.toFixed(1)} s`); break;
  }
}

async function start() {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  const ws = state.ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  ws.onmessage = (e) => (typeof e.data === "string" ? onMessage(JSON.parse(e.data)) : play(e.data));
  ws.onclose = (e) => { status(`disconnected (${e.code})`); stopMic(); $("toggle").textContent = "Start"; $("toggle").classList.remove("on"); };
  await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
  ws.send(JSON.stringify({ type: "start" }));
  state.stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
  const ctx = state.ctx = new AudioContext({ sampleRate: 16000 });
  player.reset();  // a new context: nothing of a previous one is scheduled on it
  await ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([WORKLET], { type: "application/javascript" })));
  const node = new AudioWorkletNode(ctx, "voicelab-tap");
  node.port.onmessage = (e) => {
    if (ws.readyState === WebSocket.OPEN) { ws.send(toPcm16(e.data)); window.voicelab.sentFrames++; }
  };
  const mute = ctx.createGain();
  mute.gain.value = 0;
  ctx.createMediaStreamSource(state.stream).connect(node).connect(mute).connect(ctx.destination);
}

function stopMic() {
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
  state.stream = null;
}

$("toggle").onclick = async () => {
  const b = $("toggle");
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify({ type: "stop" }));
    stopMic();
    b.textContent = "Start"; b.classList.remove("on");
    return;
  }
  b.textContent = "Stop"; b.classList.add("on");
  try { await start(); } catch (e) { $("error").textContent = String(e); b.textContent = "Start"; b.classList.remove("on"); }
};
