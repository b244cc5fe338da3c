// voicelab reply player: the one WebAudio player of a live agent's reply, for both clients.
//
// The served page loads it as a classic script before client.js (voicelab serve: GET /player.js);
// the notebook's microphone widget has it inlined ahead of mic.js in its ES module
// (voicelab.lab.widgets.MIC_ESM). So: plain declarations only, no import/export.
//
// createReplyPlayer(onChange) -> player; onChange(player) is called after each play and flush.
//   player.play(ctx, pcm, rate, startSample) -> bool
//     Schedules mono float32 `pcm` (a Float32Array at `rate` Hz) on AudioContext `ctx`, at its
//     `startSample` on the agent's speaker timeline (samples at `rate` since the session started):
//     from idle it plays at once, and that sample is pinned to now; while earlier audio is still
//     scheduled it plays where its start sample falls (back to back when contiguous, a gap kept),
//     never before the end of what is scheduled. Without `startSample`: back to back.
//     False (nothing scheduled) without a context or samples.
//   player.flush()  barge-in: every scheduled source stops at once; the timeline is pinned anew.
//   player.reset()  forget what is scheduled (the context is closing), without counting a flush.
//   Counters (what was scheduled): player.segments, player.samples, player.seconds, player.flushes.

function createReplyPlayer(onChange) {
  const sources = new Set();
  let end = 0;         // AudioContext time where the scheduled audio ends
  let origin = null;   // AudioContext time of speaker sample 0 (null: not pinned)
  const player = { segments: 0, samples: 0, seconds: 0, flushes: 0 };
  const changed = () => { if (onChange) onChange(player); };

  player.play = (ctx, pcm, rate, startSample) => {
    if (!ctx || !pcm || !pcm.length) return false;
    const now = ctx.currentTime;
    const timed = Number.isFinite(startSample);
    const at = timed && origin !== null && end > now ? origin + startSample / rate : now;
    const when = Math.max(now, end, at);
    if (timed) origin = when - startSample / rate;
    const buffer = ctx.createBuffer(1, pcm.length, rate);
    buffer.copyToChannel(pcm, 0);
    const src = ctx.createBufferSource();
    src.buffer = buffer;
    src.connect(ctx.destination);
    src.start(when);
    end = when + buffer.duration;
    sources.add(src);
    src.onended = () => sources.delete(src);
    player.segments += 1;
    player.samples += pcm.length;
    player.seconds += buffer.duration;
    changed();
    return true;
  };

  player.reset = () => {
    sources.clear();
    end = 0;
    origin = null;
  };

  player.flush = () => {
    for (const s of sources) { try { s.stop(); } catch (e) { /* not started or ended */ } }
    player.reset();
    player.flushes += 1;
    changed();
  };

  return player;
}
