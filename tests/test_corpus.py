"""The speech corpus (voicelab.corpus): built here from a small FAKE package tree (two
.deb files made with dpkg-deb and an sdist tarball, holding generated "words": tone bursts
in a faint noise floor), so item counts, labels and silences are known exactly. The
reference finder is scripted: the tone bursts are the words. One integration test loads
the real corpus built by `make assets`."""

import gzip
import hashlib
import json
import shutil
import subprocess
import tarfile

import numpy as np
import pytest
import soundfile as sf

from voicelab.corpus import CorpusError, Package, build_corpus, load_corpus, summary, verify_corpus
from voicelab.corpus import build as corpus_build
from voicelab.corpus import cache as corpus_store
from voicelab.corpus import items as items_mod
from voicelab.corpus.build import flags_for
from voicelab.corpus.items import MIN_SILENCE_MS, PAUSE_RANGE_MS, gaps_ms, pause_for, plan_items, word_cuts_ms
from voicelab.corpus.recordings import asterisk_transcripts
from voicelab.corpus.sources import fetch
from voicelab.stt.whisper import WordTiming
from voicelab.truth.consensus import SpeechReference
from voicelab.truth.energy import energy_runs

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None,
                                reason="dpkg-deb (Debian's dpkg) builds and extracts the fake .deb files")


def words(rate, bursts, lead=400, tail=400, seed=0):
    """Tone bursts ``[(ms, gap_after_ms), ...]`` (1 kHz, amplitude 0.3) in noise of 1e-3."""
    rng = np.random.default_rng(seed)
    parts = [np.zeros(int(lead * rate / 1000))]
    for ms, gap in bursts:
        t = np.arange(int(ms * rate / 1000)) / rate
        parts += [0.3 * np.sin(2 * np.pi * 1000 * t), np.zeros(int(gap * rate / 1000))]
    parts.append(np.zeros(int(tail * rate / 1000)))
    x = np.concatenate(parts)
    return (x + 1e-3 * rng.standard_normal(len(x))).astype(np.float32)


def write_wav(path, audio, rate):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, rate, subtype="PCM_16")


def build_deb(tmp_path, name, files):
    root = tmp_path / f"deb-{name}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(f"Package: {name}\nVersion: 1.0\nArchitecture: all\n"
                                             "Maintainer: test <t@example.org>\nDescription: fake\n")
    for rel, write in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        write(root / rel)
    out = tmp_path / f"{name}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(out)], check=True,
                   capture_output=True)
    return out


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def package(key, path, sha256=None):
    return Package(key, "file", str(path), path.name, sha256 or sha(path), "TEST-LICENCE")


SOUNDS = "usr/share/asterisk/sounds/en_US_f_Allison"
TRANSCRIPTS = """; Core Asterisk Sounds in English

hello-world: Hello world.
digits/5: five
agent-loggedoff: Agent Logged off.
beep: [this is a simple beep tone]
confbridge-join: <beep ascending>
letters/at: at [@]
thank-you: Thank you.
"""


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """The fake packages and bundled clips, and VOICELAB_HOME in tmp_path."""
    monkeypatch.setenv("VOICELAB_HOME", str(tmp_path / "home"))
    wav = build_deb(tmp_path, "asterisk-core-sounds-en-wav", {
        f"{SOUNDS}/hello-world.wav": lambda p: write_wav(p, words(8000, [(300, 200), (300, 0)]), 8000),
        f"{SOUNDS}/digits/5.wav": lambda p: write_wav(p, words(8000, [(300, 0)]), 8000),
        f"{SOUNDS}/agent-loggedoff.wav": lambda p: write_wav(p, words(8000, [(300, 150), (300, 80), (300, 0)]), 8000),
        f"{SOUNDS}/beep.wav": lambda p: write_wav(p, words(8000, [(500, 0)]), 8000),
        f"{SOUNDS}/silence/1.wav": lambda p: write_wav(p, np.zeros(8000, np.float32), 8000),
        "usr/share/doc/asterisk-core-sounds-en-wav/copyright": lambda p: p.write_text("CC-BY-SA-3.0\n"),
    })
    text = build_deb(tmp_path, "asterisk-core-sounds-en", {
        "usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz":
            lambda p: p.write_bytes(gzip.compress(TRANSCRIPTS.encode())),
    })
    src = tmp_path / "sdist" / "pocketsphinx-5.1.1"
    data = src / "test" / "data"
    librivox = words(16000, [(400, 300), (400, 0)], seed=1)
    write_wav(data / "librivox" / "x-0001.wav", librivox, 16000)
    (data / "librivox" / "x-0001.txt").write_text("he was not\n")
    write_wav(data / "librivox" / "y-0002.wav", librivox, 16000)  # no .txt: left out
    write_wav(data / "cards" / "001.wav", words(16000, [(300, 0)], seed=2), 16000)
    write_wav(data / "cards" / "002.wav", np.zeros(16000, np.float32), 16000)  # no speech: skipped
    (data / "cards" / "cards.transcription").write_text("<s> ten of clubs  </s> (001)\n<s> five five  </s> (002)\n")
    (data / "goforward.raw").write_bytes((words(16000, [(300, 0)], seed=3) * 32767).astype("<i2").tobytes())
    (src / "LICENSE").write_text("BSD\n")
    sdist = tmp_path / "pocketsphinx-5.1.1.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        tar.add(src, arcname="pocketsphinx-5.1.1")
    speech = tmp_path / "speech"
    write_wav(speech / "dup.wav", librivox, 16000)  # the sdist's recording again: left out
    (speech / "dup.txt").write_text("he was not\n")
    write_wav(speech / "extra.wav", words(16000, [(300, 250), (300, 0)], seed=4), 16000)
    (speech / "extra.txt").write_text("and you\n")
    return {"packages": [package("asterisk-wav", wav), package("asterisk-text", text),
                         package("pocketsphinx", sdist)], "speech": speech, "tmp": tmp_path}


class BurstFinder:
    """The scripted reference: each band-energy run (a tone burst) is a word."""

    def __init__(self):
        self.calls = 0

    def __call__(self, audio):
        self.calls += 1
        runs = energy_runs(audio).runs_ms if np.abs(audio).max() > 0.01 else []
        if not runs:
            raise ValueError("no speech")
        return SpeechReference(runs[0][0], runs[-1][1], words=[WordTiming("w", a, b, 1.0) for a, b in runs])


@needs_dpkg
def test_builder_on_a_fake_tree_gives_exact_items_and_labels(tree, monkeypatch):
    finder = BurstFinder()
    root = build_corpus(tree["packages"], finder=finder, speech_dir=tree["speech"], progress=False)
    items = {it.id: it for it in load_corpus(root)}
    eots = sorted(i for i, it in items.items() if it.kind == "eot")
    assert eots == sorted(["asterisk/agent-loggedoff", "asterisk/digits/5", "asterisk/hello-world",
                           "bundled/extra", "pocketsphinx/cards/001", "pocketsphinx/goforward",
                           "pocketsphinx/librivox/x-0001"])
    holds = [it for it in items.values() if it.kind == "hold"]
    by_rec = {}
    for it in holds:
        by_rec.setdefault(it.id.split("+")[0], []).append(it)
    assert {k: len(v) for k, v in by_rec.items()} == {
        "asterisk/hello-world": 1, "asterisk/agent-loggedoff": 2, "pocketsphinx/librivox/x-0001": 1,
        "bundled/extra": 1}
    s = summary(list(items.values()))
    assert s.set_index(["source", "kind"])["items"].to_dict() == {
        ("asterisk", "eot"): 3, ("asterisk", "hold"): 3, ("bundled", "eot"): 1, ("bundled", "hold"): 1,
        ("pocketsphinx", "eot"): 3, ("pocketsphinx", "hold"): 1}

    # eot items: natural gaps >= 100 ms inside the speech are holds, the last silence the eot
    labels = {i: [lab for *_, lab in it.silences] for i, it in items.items() if it.kind == "eot"}
    assert labels["asterisk/hello-world"] == ["hold", "eot"]  # its 200 ms gap
    assert labels["asterisk/agent-loggedoff"] == ["hold", "eot"]  # 150 ms yes, 80 ms no
    assert labels["asterisk/digits/5"] == labels["pocketsphinx/cards/001"] == ["eot"]
    a, b, _ = items["asterisk/hello-world"].silences[0]
    assert 700 - 20 <= a <= 700 + 20 and 900 - 20 <= b <= 900 + 20
    for it in items.values():
        start, end, lab = it.silences[-1]
        assert lab == "eot" and start == it.speech_ms[1] and end == it.duration_ms
        assert all(y - x >= MIN_SILENCE_MS for x, y, _ in it.silences)
        assert it.duration_ms - it.speech_ms[1] >= 2000  # the trailing silence
        assert it.audio.dtype == np.float32 and it.audio.ndim == 1 and len(it.audio) == it.duration_ms * 16

    # hold items: the pause sits in the gap it was cut at, of the item's own pinned length
    for rec, its in by_rec.items():
        base = items[rec]
        for it in its:
            assert PAUSE_RANGE_MS[0] <= it.pause_ms <= PAUSE_RANGE_MS[1] and it.pause_ms % 10 == 0
            assert it.pause_ms == pause_for(f"{rec}@{it.cut_ms:.0f}")
            assert it.speech_ms == (base.speech_ms[0], base.speech_ms[1] + it.pause_ms)
            assert abs(len(it.audio) - len(base.audio) - it.pause_ms * 16) < 512  # frame padding
            inserted = [s for s in it.silences if s[2] == "hold" and s[0] <= it.cut_ms <= s[1]]
            assert len(inserted) == 1 and inserted[0][1] - inserted[0][0] > it.pause_ms
            i = int(it.cut_ms * 16)
            assert np.sqrt(np.mean(it.audio[i:i + int(it.pause_ms * 16)] ** 2)) < 0.01  # room tone
    # cut at its 150 ms gap, the 80 ms one stays too short; cut at the 80 ms gap, both are holds
    at150, at80 = sorted(by_rec["asterisk/agent-loggedoff"], key=lambda it: it.cut_ms)
    assert [lab for *_, lab in at150.silences] == ["hold", "eot"]
    assert [lab for *_, lab in at80.silences] == ["hold", "hold", "eot"]
    assert 80 - 20 <= at80.silences[1][1] - at80.silences[1][0] - at80.pause_ms <= 80 + 20

    # flags, licences, skipped recordings
    assert items["asterisk/digits/5"].flags == ("short",)
    assert items["asterisk/hello-world"].flags == ("short",) and items["asterisk/agent-loggedoff"].flags == ()
    assert items["asterisk/hello-world"].licence == "TEST-LICENCE"
    assert items["pocketsphinx/librivox/x-0001"].licence == "public domain (LibriVox)"
    assert items["pocketsphinx/cards/001"].transcript == "ten of clubs"
    index = json.loads((root / "index.json").read_text())
    assert [s["recording"] for s in index["skipped"]] == ["pocketsphinx/cards/002"]
    notice = (root / "NOTICE").read_text()
    assert "asterisk, eot: 3" in notice and "total: 12" in notice and tree["packages"][0].sha256 in notice

    # idempotent: a second build finds the corpus intact and computes nothing
    calls = finder.calls
    assert build_corpus(tree["packages"], finder=finder, speech_dir=tree["speech"], progress=False) == root
    assert finder.calls == calls == 8  # 3 asterisk + librivox + 2 cards + goforward + bundled extra
    # ... until the item-making code changes (its builder_version): then it is rebuilt
    monkeypatch.setattr(corpus_store, "builder_version", lambda: "changed")
    monkeypatch.setattr(corpus_build, "builder_version", lambda: "changed")
    build_corpus(tree["packages"], finder=finder, speech_dir=tree["speech"], progress=False)
    assert finder.calls == 16 and json.loads((root / "index.json").read_text())["builder_version"] == "changed"


@needs_dpkg
def test_a_changed_corpus_file_is_caught(tree):
    root = build_corpus(tree["packages"], finder=BurstFinder(), speech_dir=None, progress=False)
    assert len(load_corpus(root)) == 10
    path = root / "sources" / "asterisk" / "digits" / "5.wav"
    path.write_bytes(path.read_bytes()[:-2] + b"\x01\x02")
    with pytest.raises(CorpusError, match=r"5\.wav has sha256 .* expected"):
        load_corpus(root)
    with pytest.raises(CorpusError, match="python -m voicelab.corpus build"):
        verify_corpus(root, full=True)


def test_a_missing_package_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICELAB_HOME", str(tmp_path / "home"))
    gone = Package("pocketsphinx", "file", str(tmp_path / "nope.tar.gz"), "nope.tar.gz", "0" * 64, "x")
    with pytest.raises(CorpusError, match=r"package .*nope\.tar\.gz \(file\) is missing"):
        build_corpus([gone], finder=BurstFinder(), speech_dir=None, progress=False)
    assert not (tmp_path / "home" / "corpus").exists()


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs Debian's apt-get")
def test_an_unknown_apt_package_is_a_clear_error(tmp_path):
    pkg = Package("asterisk-wav", "apt", "voicelab-no-such-package=1.0", "voicelab-no-such-package_1.0_all.deb",
                  "0" * 64, "x")
    with pytest.raises(CorpusError, match=r"voicelab-no-such-package=1.0 \(apt\) is missing.*apt-get update"):
        fetch(pkg, tmp_path / "downloads")


def test_a_bad_checksum_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICELAB_HOME", str(tmp_path / "home"))
    f = tmp_path / "pocketsphinx-5.1.1.tar.gz"
    f.write_bytes(b"not the pinned bytes")
    bad = package("pocketsphinx", f, sha256="ab" * 32)
    with pytest.raises(CorpusError, match=f"has sha256 {sha(f)}, expected {'ab' * 32}"):
        build_corpus([bad], finder=BurstFinder(), speech_dir=None, progress=False)
    # a cached copy that no longer matches is fetched again, then checked again
    good = package("pocketsphinx", f)
    downloads = tmp_path / "dl"
    downloads.mkdir()
    (downloads / f.name).write_bytes(b"stale")
    assert fetch(good, downloads).read_bytes() == b"not the pinned bytes"


def connected(dip):
    """One 900 ms "utterance" with no energy gap: its level drops by ``dip`` at 520-540 ms."""
    rate = 16000
    t = np.arange(int(0.9 * rate)) / rate
    env = np.ones_like(t)
    env[int(0.52 * rate):int(0.54 * rate)] = dip
    audio = np.concatenate([np.zeros(4000), 0.3 * env * np.sin(2 * np.pi * 1000 * t), np.zeros(8000)])
    return (audio + 1e-3 * np.random.default_rng(5).standard_normal(len(audio))).astype(np.float32)


def test_cuts_in_connected_speech_go_to_the_quietest_window_near_the_word_boundary():
    audio = connected(0.05)  # -26 dB: a dip between words (MIN_DIP_DB = 15)
    bounds = (250.0, 1150.0)
    assert gaps_ms(audio, bounds) == []
    # Whisper's boundary at 740 ms (coarse): the cut goes to the dip at 770-790 ms in the clip
    cuts = word_cuts_ms(audio, bounds, [(0.0, 730.0), (750.0, 1150.0)])
    assert len(cuts) == 1 and 770 <= cuts[0][0] <= 790 and cuts[0][1] == 0.0
    plans = plan_items("x", audio, bounds, [(0.0, 730.0), (750.0, 1150.0)])
    assert [p.kind for _, p in plans] == ["eot", "hold"]
    hold = plans[1][1]
    assert hold.silences[0] == (hold.cut_ms, hold.cut_ms + hold.pause_ms, "hold")
    assert [lab for *_, lab in plans[0][1].silences] == ["eot"]
    assert plan_items("x", audio, bounds, [])[1:] == []  # no words (one-word transcript): no hold
    # a dip of 6 dB is the middle of a vowel: no cut
    assert word_cuts_ms(connected(0.5), bounds, [(0.0, 730.0), (750.0, 1150.0)]) == []
    # a boundary within 100 ms of the speech's edge is not mid-sentence
    assert word_cuts_ms(audio, bounds, [(0.0, 300.0), (310.0, 1150.0)]) == []
    # the first word ends a sentence ("Incorrect."): its boundary is not mid-sentence, no cut
    assert word_cuts_ms(audio, bounds, [(0.0, 730.0), (750.0, 1150.0)], [True, True]) == []
    assert plan_items("x", audio, bounds, [(0.0, 730.0), (750.0, 1150.0)], [True, True])[1:] == []
    with pytest.raises(ValueError, match="1 sentence-end flags for 2 words"):
        word_cuts_ms(audio, bounds, [(0.0, 730.0), (750.0, 1150.0)], [True])


def test_transcript_parsing_and_flags():
    t = asterisk_transcripts(TRANSCRIPTS)
    assert t == {"hello-world": "Hello world.", "digits/5": "five", "agent-loggedoff": "Agent Logged off.",
                 "letters/at": "at", "thank-you": "Thank you."}
    assert flags_for("Thank you.") == ("short", "backchannel")
    assert flags_for("no") == ("short", "backchannel")
    assert flags_for("Goodbye.") == ("short", "backchannel")
    assert flags_for("five") == ("short",)
    assert flags_for("Agent Logged off.") == ()


@pytest.mark.integration
def test_the_real_corpus():
    items = load_corpus()
    assert len(items) >= 1000
    assert sum(it.kind == "hold" for it in items) >= 300
    assert len({it.id for it in items}) == len(items)
    for it in items:
        assert it.kind in ("eot", "hold") and it.transcript and it.licence
        assert [lab for *_, lab in it.silences][-1] == "eot"
        assert {lab for *_, lab in it.silences[:-1]} <= {"hold"}
    assert sum("short" in it.flags for it in items) >= 50
    for it in items[::97]:
        assert it.audio.dtype == np.float32 and it.audio.ndim == 1 and len(it.audio) == round(it.duration_ms * 16)
        assert np.abs(it.audio).max() <= 1.0
    assert {"asterisk", "pocketsphinx", "bundled"} <= {it.source for it in items}


def test_the_committed_plan_round_trips_and_refuses_other_recordings(tmp_path):
    """The plan is written deterministically and read back only for the very recordings it was
    made from: a changed recording is a clear error, not a silently different corpus."""
    from voicelab.corpus.plan import read_plan, write_plan
    from voicelab.corpus.recordings import Recording

    root = tmp_path / "corpus"
    (root / "sources").mkdir(parents=True)
    recs = []
    for name in ("a", "b"):
        sf.write(root / "sources" / f"{name}.wav", np.full(800, 0.1, dtype=np.float32), 16000, subtype="PCM_16")
        recs.append(Recording(id=f"x/{name}", source="fake", licence="CC0-1.0", transcript=f"say {name}",
                              path=f"sources/{name}.wav"))
    items = [{"id": "x/a", "kind": "eot"}]
    path = write_plan(recs, root, items, [{"recording": "x/c", "reason": "none"}], "v1", tmp_path / "plan.json.gz")
    again = write_plan(recs, root, items, [{"recording": "x/c", "reason": "none"}], "v1", tmp_path / "plan2.json.gz")
    assert path.read_bytes() == again.read_bytes()                     # byte-identical: gzip mtime 0
    assert read_plan(recs, root, path) == (items, [{"recording": "x/c", "reason": "none"}], "v1")
    sf.write(root / "sources" / "b.wav", np.full(800, 0.2, dtype=np.float32), 16000, subtype="PCM_16")
    with pytest.raises(CorpusError, match="differ from those the committed plan was made from"):
        read_plan(recs, root, path)
    with pytest.raises(CorpusError, match="no committed corpus plan"):
        read_plan(recs, root, tmp_path / "none.json.gz")


def test_the_real_corpus_is_the_committed_plan():
    """Set-up renders the committed plan: the built items are exactly the plan's, on any CPU."""
    from voicelab.corpus.plan import PLAN

    plan = json.loads(gzip.decompress(PLAN.read_bytes()))
    index = json.loads((corpus_store.corpus_dir() / "index.json").read_text())
    assert index["items"] == plan["items"] and len(plan["items"]) >= 1000


def test_a_tightly_trimmed_recording_gets_comfort_noise_of_its_floor_not_a_window_of_speech():
    """A prompt with no 160 ms outside its speech (100 ms edges of a low-passed floor at -60 dBFS,
    as the Asterisk prompts are trimmed: lead 80 ms, trail 119 ms, medians):
    the quietest window holds speech, so the pause and tail are comfort noise whose level is
    the quiet frames' level and whose spectrum is the floor's (low-passed: little above 4 kHz)."""
    rate, rng = 16000, np.random.default_rng(7)
    floor = np.convolve(rng.standard_normal(rate), np.ones(8) / 8, mode="same")  # a low-passed floor
    floor *= 10 ** (-60 / 20) / np.sqrt(np.mean(floor ** 2))
    floor = np.concatenate([floor, floor])
    t = np.arange(int(1.8 * rate)) / rate
    speech = 0.3 * np.sin(2 * np.pi * 300 * t) * (0.2 + np.abs(np.sin(2 * np.pi * 3 * t)))
    audio = floor[:int(2.0 * rate)].copy()
    audio[1600:1600 + len(speech)] += speech
    audio = audio.astype(np.float32)
    bounds = (100.0, 1900.0)
    at = int(items_mod.room_tone_ms(audio, bounds) * 16)
    assert np.sqrt(np.mean(audio[at:at + 2560] ** 2)) > 30 * 10 ** (-60 / 20)  # that window holds speech (+30 dB)
    tone = items_mod.fill(audio, items_mod.room_tone_ms(audio, bounds))
    assert len(tone) == 4000 * 16 and tone.dtype == np.float32
    level = 20 * np.log10(np.sqrt(np.mean(tone.astype(np.float64) ** 2)))
    assert -66 < level < -58  # the floor's level (the quietest tenth of frames), not the speech's -13 dB
    spec = np.abs(np.fft.rfft(tone[:16000])) ** 2
    assert spec[4000:].sum() < 0.05 * spec[:4000].sum()  # the floor's low-pass shape, not white
    again = items_mod.fill(audio, items_mod.room_tone_ms(audio, bounds))
    assert np.array_equal(tone, again)  # seeded: every build renders the same
    # a recording with real room keeps its recorded window
    roomy = np.concatenate([floor[:8000], audio, floor[8000:16000]]).astype(np.float32)
    at = items_mod.room_tone_ms(roomy, (600.0, 2400.0))
    assert not 600 <= at <= 2400
    window = items_mod.fill(roomy, at)
    assert np.array_equal(window, roomy[int(at * 16):int(at * 16) + int(items_mod.TONE_MS * 16)])


def test_the_tail_is_the_tone_tiled_to_whole_frames():
    audio = np.ones(1000, dtype=np.float32)
    tone = np.arange(1, 161, dtype=np.float32)
    out = items_mod.with_tail(audio, 100.0, tone)
    assert len(out) % 512 == 0 and len(out) >= 1000 + 1600
    assert np.array_equal(out[1000:1160], tone) and np.array_equal(out[1160:1320], tone)
    silent = items_mod.with_tail(audio, 100.0)
    assert len(silent) == len(out) and not silent[1000:].any()
