"""Which system prompt makes SmolLM2-135M answer a spoken request instead of echoing it?

Usage::

    .venv/bin/python benchmarks/system_prompt.py --out docs/results/system_prompt          # round 1
    .venv/bin/python benchmarks/system_prompt.py --out docs/results/system_prompt/full_length \
        --max-new-tokens 250 --candidates old,helpful,helpful-examples,helpful-rp1.2,...   # round 2

The default chat model (SmolLM2-135M-Instruct, the only chat model voicelab ships from a
registry) answered the old quickstart's audiobook lines by repeating them or by talking
about spelling ("The word 'amiable' is a spelling error..."). This measures, on a fixed set of
user turns, the share of replies that

- **echo** the user: at least :data:`ECHO_COVER` of the user's words (lower-cased,
  punctuation dropped) come back in order (:class:`difflib.SequenceMatcher` matching blocks;
  users of at least :data:`ECHO_MIN_WORDS` words), or, for a shorter turn, the reply's first
  sentence is the user's words and nothing else;
- **talk about spelling**: the reply matches :data:`SPELLING` (spelling, typos, grammar);
- **apologise for nothing**: the reply matches :data:`APOLOGY` ("I'm sorry for any
  confusion", "I'm sorry for your loss": SmolLM2's tics when it does not understand);
- **loop**: one sentence of the reply comes back :data:`LOOP_REPEATS` times or more;

for each candidate :data:`CANDIDATES` (the old default first; a candidate is a system prompt,
example exchanges and sampling overrides such as ``repetition_penalty``), through the stage class
(:class:`voicelab.llm.transformers_llm.TransformersLLM`) with the agent's sampling settings
(temperature 0.3, top-p 0.9, seed 0 re-seeded per turn as the agent does, float32,
prefix cache off) and at most :data:`MAX_NEW_TOKENS` new tokens (``--max-new-tokens``: round 1
used 60, since an echo or a spelling remark shows in the first sentence; round 2 the agent's
full 250, since a loop shows later). Turns: the six bundled clips' texts (the old quickstart), the
new quickstart's corpus prompts, and every :data:`STRIDE`-th Asterisk prompt of 3-12 words
(sorted by id): the same list on every machine with the corpus built (``make assets``).

Writes ``replies.csv`` (every reply with its flags) and ``summary.json`` (the shares by candidate
and by set, each overall share with its 95 % Wilson interval (``scipy.stats.binomtest``; replies
are independent draws here, one per turn), the mean reply length in tokens and the share of replies
cut at the token cap (a ramble: seconds of speech), the machine). ``--rescore DIR`` recomputes the
flags of ``DIR/replies.csv`` without the model (after a change to a rule).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import string
import sys
import time
from difflib import SequenceMatcher
from pathlib import Path

import pandas as pd
import torch
from scipy.stats import binomtest

from voicelab.audio.clips import bundled_clip_names, resolve_clip
from voicelab.config import LLMConfig
from voicelab.corpus.cache import corpus_dir
from voicelab.lab.node import node_info
from voicelab.llm.transformers_llm import TransformersLLM

MAX_NEW_TOKENS = 60
STRIDE = 8
ECHO_COVER = 0.8
ECHO_MIN_WORDS = 4
APOLOGY = re.compile(r"\bsorry for (any|the|your) (confusion|misunderstanding|mistakes?|inconvenience|loss)", re.I)
LOOP_REPEATS = 3
SPELLING = re.compile(r"\b(spell\w*|misspel\w*|typos?|grammar\w*|grammatical\w*|punctuation)\b", re.I)
QUICKSTART = ["pocketsphinx/goforward", "asterisk/vm-savefolder", "asterisk/info-about-last-call",
              "asterisk/do-not-disturb", "asterisk/please-try-again", "asterisk/vm-changeto"]
"""Corpus prompts that read as something said to an assistant (a request or a question)."""

EXAMPLES = [("What time does the pharmacy close?",
             "Most pharmacies close around nine in the evening. Shall I look up the one nearest you?"),
            ("Book a table for two tonight.", "Sure. What time would you like the table for two?"),
            ("My train is late again.", "Sorry to hear that. Do you want me to tell the people you are meeting?")]
DIRECT = ("You are a voice assistant on a phone call. The user's words come from speech recognition. Answer "
          "their request or question directly, in one short sentence, in your own words.")
OLD = "You are a friendly voice assistant. Answer in one or two short, plain sentences."
HELPFUL = ("You are a helpful voice assistant talking with a user on the phone. Reply to what the user "
           "wants in one or two short sentences.")
CANDIDATES: dict[str, tuple[str, list[tuple[str, str]], dict]] = {
    "old": (OLD, [], {}),
    "helpful": (HELPFUL, [], {}),
    "helpful-examples": (HELPFUL, EXAMPLES, {}),
    "direct": (DIRECT, [], {}),
    "direct-examples": (DIRECT, EXAMPLES, {}),
    "helpful-rp1.2": (HELPFUL, [], {"repetition_penalty": 1.2}),
    "helpful-examples-rp1.1": (HELPFUL, EXAMPLES, {"repetition_penalty": 1.1}),
    "helpful-examples-rp1.2": (HELPFUL, EXAMPLES, {"repetition_penalty": 1.2}),
    "helpful-examples-rp1.3": (HELPFUL, EXAMPLES, {"repetition_penalty": 1.3}),
    "helpful-examples-ng4": (HELPFUL, EXAMPLES, {"no_repeat_ngram_size": 4}),
}
"""name -> (system prompt, example exchanges placed after it as user/assistant turns,
:class:`voicelab.config.LLMConfig` overrides)."""
ROUND_1 = ["old", "helpful", "helpful-examples", "direct", "direct-examples"]
"""The candidates run by default (the first round)."""


FLAGS = ("echo", "spelling", "apology", "loop", "any")


def _words(text: str) -> list[str]:
    return text.lower().translate(str.maketrans("", "", string.punctuation.replace("'", ""))).split()


def echoes(user: str, reply: str) -> bool:
    """True when ``reply`` repeats ``user`` (see the module docstring)."""
    u, r = _words(user), _words(reply)
    if not u or not r:
        return False
    if len(u) >= ECHO_MIN_WORDS:
        blocks = SequenceMatcher(None, u, r, autojunk=False).get_matching_blocks()
        return sum(b.size for b in blocks) >= ECHO_COVER * len(u)
    first = re.split(r"(?<=[.!?])\s", reply.strip(), maxsplit=1)[0]
    return _words(first) == u


def talks_spelling(reply: str) -> bool:
    return SPELLING.search(reply) is not None


def apologises(reply: str) -> bool:
    return APOLOGY.search(reply) is not None


def loops(reply: str) -> bool:
    sentences = [" ".join(_words(s)) for s in re.split(r"(?<=[.!?])\s+", reply) if _words(s)]
    return any(sentences.count(s) >= LOOP_REPEATS for s in set(sentences))


def user_turns() -> list[tuple[str, str, str]]:
    """``(set, id, text)``: the bundled clips, the quickstart prompts, the stride sample."""
    index = json.loads((corpus_dir() / "index.json").read_text())
    eot = {i["id"]: i["transcript"] for i in index["items"] if i["kind"] == "eot"}
    turns = [("bundled", n, resolve_clip(n).reference_text) for n in bundled_clip_names()]
    turns += [("quickstart", i, eot[i]) for i in QUICKSTART]
    sample = sorted(i for i, t in eot.items() if i.startswith("asterisk/") and 3 <= len(t.split()) <= 12
                    and i not in QUICKSTART)
    turns += [("asterisk", i, eot[i]) for i in sample[::STRIDE]]
    return turns


def generate_replies(candidates: list[str], max_new_tokens: int) -> pd.DataFrame:
    """Each named candidate's reply to every turn of :func:`user_turns` (columns ``candidate``,
    ``set``, ``item``, ``user``, ``reply``, ``tokens``: new tokens generated)."""
    base = LLMConfig(prefix_cache=False, nice=0)
    llm = TransformersLLM(base)
    turns = user_turns()
    rows = []
    for name in candidates:
        system, examples, overrides = CANDIDATES[name]
        llm.config = base.model_copy(update=overrides)
        shots = [m for u, a in examples for m in ({"role": "user", "content": u}, {"role": "assistant", "content": a})]
        for k, (group, item, text) in enumerate(turns):
            messages = [{"role": "system", "content": system}, *shots, {"role": "user", "content": text}]
            inputs = llm.encode(messages)
            torch.manual_seed(llm.config.seed)
            out = llm.generate(inputs, None, max_new_tokens=max_new_tokens)
            new = out[0, inputs["input_ids"].shape[1]:]
            reply = llm.tokenizer.decode(new, skip_special_tokens=True).strip()
            rows.append({"candidate": name, "set": group, "item": item, "user": text, "reply": reply,
                         "tokens": int(new.shape[0])})
            print(f"{name} {k + 1}/{len(turns)}: {reply[:90]!r}", file=sys.stderr)
    return pd.DataFrame(rows)


def score(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with one bool column per flag of :data:`FLAGS` (``any``: any of the others)."""
    df = df[["candidate", "set", "item", "user", "reply", *(["tokens"] if "tokens" in df else [])]].copy()
    df["reply"] = df["reply"].fillna("")
    df["echo"] = [echoes(u, r) for u, r in zip(df["user"], df["reply"])]
    df["spelling"] = df["reply"].map(talks_spelling)
    df["apology"] = df["reply"].map(apologises)
    df["loop"] = df["reply"].map(loops)
    df["any"] = df[list(FLAGS[:-1])].any(axis=1)
    return df


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--rescore", action="store_true", help="re-score OUT/replies.csv; no model")
    ap.add_argument("--candidates", default=",".join(ROUND_1), help=f"comma-separated, of {', '.join(CANDIDATES)}")
    ap.add_argument("--max-new-tokens", type=int, default=MAX_NEW_TOKENS)
    args = ap.parse_args()
    names = [c for c in args.candidates.split(",") if c]
    unknown = [c for c in names if c not in CANDIDATES]
    if unknown:
        ap.error(f"unknown candidates {unknown}; known: {', '.join(CANDIDATES)}")
    t0 = time.monotonic()
    if args.rescore:
        previous = json.loads((args.out / "summary.json").read_text())
        df = score(pd.read_csv(args.out / "replies.csv"))
        machine = {k: previous[k] for k in ("cpu", "flags", "python", "torch", "wall_s", "max_new_tokens")
                   if k in previous}
    else:
        df = score(generate_replies(names, args.max_new_tokens))
        info = node_info()
        machine = {"cpu": info["cpu_model"], "flags": info["flags"], "python": platform.python_version(),
                   "torch": torch.__version__, "wall_s": round(time.monotonic() - t0, 1),
                   "max_new_tokens": args.max_new_tokens}
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "replies.csv", index=False)
    if "tokens" in df:
        df["capped"] = df["tokens"] >= machine.get("max_new_tokens", args.max_new_tokens)
    shares = {"n": ("reply", "size"), **{f: (f, "mean") for f in FLAGS},
              **({"tokens_mean": ("tokens", "mean"), "capped": ("capped", "mean")} if "tokens" in df else {})}
    by_set = df.groupby(["candidate", "set"], sort=False).agg(**shares).reset_index()
    overall = df.groupby("candidate", sort=False).agg(**shares).reset_index()
    for flag in FLAGS:
        counts = df.groupby("candidate", sort=False)[flag].agg(["sum", "size"])
        cis = [binomtest(int(k), int(n)).proportion_ci(method="wilson") for k, n in counts.itertuples(index=False)]
        overall[f"{flag}_ci"] = [[round(c.low, 4), round(c.high, 4)] for c in cis]
    (args.out / "summary.json").write_text(json.dumps(
        {"overall": overall.to_dict("records"), "by_set": by_set.to_dict("records"), **machine}, indent=1))
    print(overall.to_string(index=False))
    print(by_set.to_string(index=False))


if __name__ == "__main__":
    main()
