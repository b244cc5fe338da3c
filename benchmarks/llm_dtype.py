"""LLM stage in float32 vs bfloat16 on this CPU: latency and greedy-output identity.

Usage::

    .venv/bin/python benchmarks/llm_dtype.py --repeats 7 --out docs/results/llm_dtype/results.json

Variants (all through the stage class :class:`voicelab.llm.transformers_llm.TransformersLLM`,
greedy: ``temperature=0``, 48 new tokens, prefix cache off so every turn pays its full prefill):

* ``float32``  - ``llm.dtype: float32`` (the shipped weights);
* ``bfloat16`` - ``llm.dtype: bfloat16`` (weights, activations and KV cache in bf16);
* ``autocast`` - float32 weights, ``generate`` run under ``torch.autocast("cpu", bfloat16)``
  (benchmark only: matmuls in bf16, weights cast on the fly).

each with 1 and 2 torch threads. Prompts: the default system prompt plus each bundled
clip's reference text as the user turn, and ``history6``: the six clip texts as six user
turns with five fixed assistant replies in between (prefill with history).

Timings come from the stage's own token stream (what the agent sees), relative to
``stream.started()`` (generation thread started; includes chat templating and
tokenisation): ``ttft`` = first text delta, ``two_words`` = the second word completed
(:class:`voicelab.trigger.words.WordTracker`, as the ``words-2`` trigger counts),
``ms_per_token`` = (last delta - first delta) / (deltas - 1) (a delta is one token, except
for tokens ending in an incomplete UTF-8 sequence, which are merged with the next).
Variants and prompts are interleaved within each repeat so load drift hits all alike;
the generation thread runs at nice 0 (the agent uses ``llm.nice`` 10, which matters only
when something else wants the cores). Identity: ``TransformersLLM.generate`` token ids
of each variant vs float32 at 1 thread (the default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from voicelab.audio.clips import bundled_clip_names, resolve_clip
from voicelab.clock import SessionClock
from voicelab.config import LLMConfig
from voicelab.llm.transformers_llm import TransformersLLM
from voicelab.trigger.words import WordTracker

NEW_TOKENS = 48
REPLIES = [  # fixed assistant turns of the history prompt (the same for every variant)
    "That sounds like a strong feeling about something you care about.",
    "It seems he had a generous thought about his family.",
    "Good to hear that he meant well.",
    "That is a fair point about selfishness.",
    "A kinder partner might have changed him for the better.",
]


class AutocastLLM(TransformersLLM):
    """The float32 stage with ``generate`` under bf16 CPU autocast (benchmark only)."""

    def generate(self, *args, **kwargs):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return super().generate(*args, **kwargs)


def prompts() -> dict[str, list[dict[str, str]]]:
    system = {"role": "system", "content": LLMConfig().system_prompt}
    texts = {n: resolve_clip(n).reference_text for n in bundled_clip_names()}
    out = {n: [system, {"role": "user", "content": t}] for n, t in texts.items()}
    history = [system]
    for i, t in enumerate(texts.values()):
        history.append({"role": "user", "content": t})
        if i < len(REPLIES):
            history.append({"role": "assistant", "content": REPLIES[i]})
    out["history6"] = history
    return out


async def timed_stream(llm: TransformersLLM, messages) -> dict[str, float]:
    clock = SessionClock()
    stream = llm.stream(messages, seed=0, clock=clock)
    t0 = await stream.started()
    words, times, two_words, n_words = WordTracker(), [], None, 0
    async for tok in stream:
        times.append(tok.t_ms)
        n_words += len(words.push(tok.text))
        if two_words is None and n_words >= 2:
            two_words = tok.t_ms
    await stream.join()
    if two_words is None:  # a one-word reply: the second word never completes
        two_words = stream.finished_ms
    per_tok = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else float("nan")
    return {"ttft": times[0] - t0, "two_words": two_words - t0, "ms_per_token": per_tok,
            "deltas": len(times)}


def greedy_ids(llm: TransformersLLM, messages) -> list[int]:
    inputs = llm.encode(messages)
    seq = llm.generate(inputs, None, max_new_tokens=NEW_TOKENS)
    return seq[0, inputs["input_ids"].shape[1]:].tolist()


def fp32_margin(llm: TransformersLLM, messages, ref: list[int], i: int, other: int | None) -> float | None:
    """float32 logit of its own token ``ref[i]`` minus that of ``other`` (what the variant
    chose) after ``ref[:i]``: how near a tie the flipped choice was."""
    if other is None or i >= len(ref):
        return None
    ids = torch.cat([llm.encode(messages)["input_ids"], torch.tensor([ref[:i]], dtype=torch.long)], 1)
    with torch.inference_mode():
        logits = llm.model(input_ids=ids).logits[0, -1].float()
    return float(logits[ref[i]] - logits[other])


def first_diff(a: list[int], b: list[int]) -> int | None:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


async def run(repeats: int, threads_list: list[int]) -> dict:
    cfg = dict(temperature=0.0, max_new_tokens=NEW_TOKENS, nice=0, prefix_cache=False)
    llms = {"float32": TransformersLLM(LLMConfig(dtype="float32", **cfg)),
            "bfloat16": TransformersLLM(LLMConfig(dtype="bfloat16", **cfg)),
            "autocast": AutocastLLM(LLMConfig(dtype="float32", **cfg))}
    ps = prompts()
    n_prompt = {p: int(llms["float32"].encode(m)["input_ids"].shape[1]) for p, m in ps.items()}
    rows: dict[tuple[str, int, str], dict] = {}
    for threads in threads_list:
        torch.set_num_threads(threads)
        for name, llm in llms.items():  # warm-up: one greedy pass over every prompt
            for p, m in ps.items():
                ids = greedy_ids(llm, m)
                rows[(name, threads, p)] = {"ids": ids, "samples": []}
        for r in range(repeats):
            for p, m in ps.items():
                for name, llm in llms.items():
                    rows[(name, threads, p)]["samples"].append(await timed_stream(llm, m))
            print(f"threads {threads}: repeat {r + 1}/{repeats} done "
                  f"(load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
    ref = {p: rows[("float32", threads_list[0], p)]["ids"] for p in ps}
    out = []
    torch.set_num_threads(threads_list[0])
    for (name, threads, p), row in rows.items():
        s = row["samples"]
        i = first_diff(row["ids"], ref[p])
        margin = None if i is None else fp32_margin(
            llms["float32"], ps[p], ref[p], i, row["ids"][i] if i < len(row["ids"]) else None)
        stats = {k: {"min": min(x[k] for x in s), "median": statistics.median(x[k] for x in s)}
                 for k in ("ttft", "two_words", "ms_per_token")}
        out.append({"variant": name, "threads": threads, "prompt": p, "prompt_tokens": n_prompt[p],
                    "new_tokens": len(row["ids"]), "identical": row["ids"] == ref[p],
                    "first_diff": i, "fp32_margin": margin,
                    "reply": llms[name].tokenizer.decode(row["ids"], skip_special_tokens=True),
                    **stats, "samples": s})
    return {"rows": out}


def summary(rows: list[dict]) -> str:
    """Markdown: per variant x threads, single-turn prompts pooled (median of per-prompt
    medians, min of mins) and the history prompt on its own."""
    lines = ["| dtype | threads | TTFT ms single (min / med) | TTFT ms history6 (min / med) "
             "| ms/token (min / med) | 2 words ms single (min / med) | identical to fp32@1 |",
             "|---|---|---|---|---|---|---|"]
    keys = sorted({(r["variant"], r["threads"]) for r in rows}, key=lambda k: (k[1], k[0] != "float32", k[0]))
    for v, t in keys:
        rs = [r for r in rows if r["variant"] == v and r["threads"] == t]
        single = [r for r in rs if r["prompt"] != "history6"]
        hist = next(r for r in rs if r["prompt"] == "history6")

        def pooled(k: str, group=single) -> str:
            return (f"{min(r[k]['min'] for r in group):.0f} / "
                    f"{statistics.median(r[k]['median'] for r in group):.0f}")
        ident = sum(r["identical"] for r in rs)
        lines.append(f"| {v} | {t} | {pooled('ttft')} | {pooled('ttft', [hist])} | "
                     f"{min(r['ms_per_token']['min'] for r in rs):.1f} / "
                     f"{statistics.median(r['ms_per_token']['median'] for r in rs):.1f} | "
                     f"{pooled('two_words')} | {ident}/{len(rs)} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", type=Path, default=None, help="write all rows as JSON here")
    a = ap.parse_args()
    t = time.time()
    load0 = os.getloadavg()
    res = asyncio.run(run(a.repeats, a.threads))
    res["meta"] = {"repeats": a.repeats, "new_tokens": NEW_TOKENS, "torch": torch.__version__,
                   "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                   "mkldnn_bf16": bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()),
                   "loadavg_start": load0, "loadavg_end": os.getloadavg(),
                   "wall_s": round(time.time() - t, 1)}
    print(summary(res["rows"]))
    for r in res["rows"]:
        if not r["identical"]:
            print(f"  {r['variant']}@{r['threads']} {r['prompt']}: first differing token "
                  f"{r['first_diff']} (fp32 logit margin {r['fp32_margin']}): {r['reply']!r}")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
