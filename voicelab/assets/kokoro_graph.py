"""ONNX graph edits of Kokoro-82M v1.0: dequantize the int8 graph, cap the edge pads.

Both edits take and return an ``onnx.ModelProto`` (the ``onnx`` package is imported
on use). They live in the assets layer because the ``kokoro-v1.0-fp32`` asset is
built with :func:`dequantize`; :class:`voicelab.tts.kokoro.KokoroTTS` applies
:func:`cap_edge_pads` in memory at load time (the cap is a config value).

- :func:`dequantize`: the int8 graph of ``kokoro-v1.0-int8`` was made by onnxruntime's
  dynamic quantization (``DynamicQuantizeLinear`` on the activations, int8 weights).
  Each ``MatMulInteger`` / ``ConvInteger`` chain becomes a float ``MatMul`` / ``Conv``
  on the unquantized activation and each ``DynamicQuantizeLSTM`` an ONNX ``LSTM``,
  with weights ``W = (W_q - W_zp) * W_scale`` (float32). Weights shared by several
  nodes are dequantized once. OpenVINO runs this graph in bf16 where the CPU has bf16
  (``docs/results/tts_first_chunk`` measures it), and runs the int8 one slower.
- :func:`cap_edge_pads`: kokoro-onnx feeds ``[0, *tokens, 0]``; the model predicts a
  duration in 25 ms frames (600 samples at 24 kHz) per token, rounded and clipped to
  >= 1 by the node ``/encoder/Clip``. The two pad tokens get long durations (18 and 10
  frames for "I think"), rendered by the vocoder and then trimmed by kokoro-onnx. The
  edit inserts ``d' = Min(d, [lead, inf, ..., inf, trail])`` after that node, so the
  vocoder renders less audio (``docs/results/tts_first_chunk`` measures what it saves).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx

DURATION_NODE = "/encoder/Clip"
"""The node whose output is the per-token duration (float32 ``[1, T]``, frames of
25 ms, integers >= 1), in the Kokoro v1.0 export (found by inspecting the graph)."""
FRAME_S = 0.025
"""Duration of one frame of the duration predictor: hop 600 samples at 24 kHz."""
MIN_LEAD_FRAMES = 10
"""A lead cap under 10 frames loses the first word ("hello" -> "oh", "I think the" ->
"the": round-trip WER 19.5 % at 2 frames, 12.2 % at 6, 0 % at 10; docs/results/tts_first_chunk)."""
QUANTIZED_OPS = frozenset({"MatMulInteger", "ConvInteger", "DynamicQuantizeLSTM", "DynamicQuantizeLinear"})


class GraphEditError(ValueError):
    """The graph does not have the structure an edit expects (names the node)."""


def _graph_index(graph):
    producer = {o: n for n in graph.node for o in n.output if o}
    consumers = defaultdict(list)
    for n in graph.node:
        for i in n.input:
            if i:
                consumers[i].append(n)
    return producer, consumers


def _unique(names: set[str], base: str) -> str:
    name, k = base, 1
    while name in names:
        name, k = f"{base}_{k}", k + 1
    names.add(name)
    return name


# --------------------------------------------------------------------------- dequantize


def dequantize(model: onnx.ModelProto) -> onnx.ModelProto:
    """A float32 copy of an onnxruntime dynamically quantized (int8/uint8) graph.

    Rewrites, for each integer op ``Q`` with ``x_q, x_scale, x_zp = DynamicQuantizeLinear(x)``:

    - ``MatMulInteger(x_q, W_q, x_zp, W_zp) -> Cast -> Mul(., x_scale * W_scale)`` into
      ``MatMul(x, W)``;
    - ``ConvInteger(x_q, W_q, x_zp, W_zp) [-> Add(., bias_q)] -> Cast -> Mul(., x_scale * W_scale)``
      into ``Conv(x, W[, bias])`` with ``Q``'s attributes (``bias_q`` is ``Floor(bias /
      (x_scale * W_scale))``, so the float ``bias`` initializer is used);
    - ``DynamicQuantizeLSTM(X, W_q, R_q, B, ..., W_scale, W_zp, R_scale, R_zp)`` (weights
      ``[dirs, in, 4h]``) into ``LSTM(X, W, R, B, ...)`` (weights ``[dirs, 4h, in]``);

    then drops every node and initializer no graph output depends on any more. Zero
    points and scales are per tensor or per output channel (the last axis of a MatMul
    weight, the first of a Conv weight; per direction, or per direction and gate column,
    for the LSTM). A float bias added after the scaling ``Mul`` (newer onnxruntime
    quantizers) stays as it is.

    Returns:
        A new model (the input is not modified); same inputs, outputs and opsets.

    Raises:
        GraphEditError: an integer op whose neighbourhood is not the pattern above.
    """
    import onnx
    from onnx import helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    inits = {t.name: t for t in g.initializer}
    arrays: dict[str, np.ndarray] = {}

    def arr(name: str) -> np.ndarray:
        if name not in inits:
            raise GraphEditError(f"expected an initializer, got the computed tensor {name!r}")
        if name not in arrays:
            arrays[name] = numpy_helper.to_array(inits[name])
        return arrays[name]

    names = {t.name for t in g.initializer} | {o for n in g.node for o in n.output} | {i.name for i in g.input}
    made: dict[tuple, str] = {}
    new_inits = []

    def weight(wq: str, zp: str, scale: str, axes: tuple[int, ...],
               transpose: tuple[int, ...] | None = None) -> str:
        """``(W_q - W_zp) * W_scale`` as a new float32 initializer; zero point and scale
        are scalars or span the weight's ``axes`` (per channel)."""
        key = (wq, zp, scale, axes, transpose)
        if key not in made:
            q = arr(wq).astype(np.float32)

            def spread(a: np.ndarray) -> np.ndarray:
                a = a.astype(np.float32)
                shape = [q.shape[k] if k in axes else 1 for k in range(q.ndim)]
                if a.size not in (1, int(np.prod(shape))):
                    raise GraphEditError(f"{wq}: quantization parameter of shape {a.shape} does not fit "
                                         f"weight {q.shape} along axes {axes}")
                return a.reshape(()) if a.size == 1 else a.reshape(shape)

            w = ((q - spread(arr(zp))) * spread(arr(scale))).astype(np.float32)
            if transpose:
                w = np.ascontiguousarray(w.transpose(transpose))
            base = wq[:-len("_quantized")] if wq.endswith("_quantized") else wq + "_f32"
            made[key] = _unique(names, base)
            new_inits.append(numpy_helper.from_array(w, made[key]))
        return made[key]

    producer, consumers = _graph_index(g)
    replaced: dict[int, onnx.NodeProto] = {}  # id(final node of a chain) -> replacement
    for n in list(g.node):
        if n.op_type in ("MatMulInteger", "ConvInteger"):
            dql = producer.get(n.input[0])
            if dql is None or dql.op_type != "DynamicQuantizeLinear" or dql.output[2] != n.input[2]:
                raise GraphEditError(f"{n.name}: input is not a DynamicQuantizeLinear output")
            x = dql.input[0]
            node, bias = _single_consumer(n, consumers), None
            if node.op_type == "Add":  # ConvInteger + quantized bias
                bias = _quantized_bias_source(node, n.output[0], producer)
                node = _single_consumer(node, consumers)
            if node.op_type != "Cast":
                raise GraphEditError(f"{n.name}: expected Cast after the integer op, got {node.op_type}")
            mul = _single_consumer(node, consumers)
            scales = producer.get(mul.input[1] if mul.input[0] == node.output[0] else mul.input[0])
            if mul.op_type != "Mul" or scales is None or scales.op_type != "Mul" or dql.output[1] not in scales.input:
                raise GraphEditError(f"{n.name}: expected Mul by x_scale * W_scale after the Cast")
            w_scale = next(i for i in scales.input if i != dql.output[1])
            if n.op_type == "MatMulInteger":
                w = weight(n.input[1], n.input[3], w_scale, axes=(arr(n.input[1]).ndim - 1,))
                new = helper.make_node("MatMul", [x, w], [mul.output[0]], name=n.name + "_f32")
            else:
                w = weight(n.input[1], n.input[3], w_scale, axes=(0,))
                new = helper.make_node("Conv", [x, w] + ([bias] if bias else []), [mul.output[0]],
                                       name=n.name + "_f32")
                new.attribute.extend(n.attribute)
            replaced[id(mul)] = new
        elif n.op_type == "DynamicQuantizeLSTM":
            ins = list(n.input) + [""] * (12 - len(n.input))
            # weights [dirs, in, 4h]; scale/zero point per direction, or per direction and column
            W, R = (weight(ins[w], ins[zp], ins[sc], (0,) if arr(ins[sc]).size == arr(ins[w]).shape[0] else (0, 2),
                           transpose=(0, 2, 1)) for w, sc, zp in ((1, 8, 9), (2, 10, 11)))
            lstm_in = [ins[0], W, R] + ins[3:8]
            while lstm_in and not lstm_in[-1]:
                lstm_in.pop()
            new = helper.make_node("LSTM", lstm_in, list(n.output), name=n.name + "_f32")
            new.attribute.extend(n.attribute)
            replaced[id(n)] = new
    nodes = [replaced.get(id(n), n) for n in g.node]
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(new_inits)
    _prune(g)
    left = sorted({n.op_type for n in g.node} & QUANTIZED_OPS)
    if left:
        raise GraphEditError(f"dequantized graph still has {left}")
    return out


def _single_consumer(node, consumers):
    users = consumers.get(node.output[0], [])
    if len(users) != 1:
        raise GraphEditError(f"{node.name}: expected one consumer of {node.output[0]!r}, got {len(users)}")
    return users[0]


def _quantized_bias_source(add, conv_out: str, producer) -> str:
    """The float bias initializer behind ``Reshape(Cast(Floor(Div(bias, scale))))``."""
    t = add.input[1] if add.input[0] == conv_out else add.input[0]
    for op in ("Reshape", "Cast", "Floor", "Div"):
        p = producer.get(t)
        if p is None or p.op_type != op:
            raise GraphEditError(f"{add.name}: quantized bias is not Reshape(Cast(Floor(Div(bias, s))))")
        t = p.input[0]
    return t


def _prune(graph) -> None:
    """Drop nodes and initializers no graph output depends on (in place)."""
    producer, _ = _graph_index(graph)
    needed = {o.name for o in graph.output}
    stack, keep = list(needed), set()
    while stack:
        p = producer.get(stack.pop())
        if p is None or id(p) in keep:
            continue
        keep.add(id(p))
        for i in p.input:
            if i and i not in needed:
                needed.add(i)
                stack.append(i)
    nodes = [n for n in graph.node if id(n) in keep]
    inits = [t for t in graph.initializer if t.name in needed]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(inits)


# --------------------------------------------------------------------------- edge pad cap


def cap_edge_pads(model: onnx.ModelProto, lead: int, trail: int,
                  node_name: str = DURATION_NODE) -> onnx.ModelProto:
    """A copy of ``model`` whose first / last token duration is at most ``lead`` / ``trail`` frames.

    Inserts after ``node_name`` (output: float durations ``[..., T]``, one per token
    of ``[0, *tokens, 0]``): ``idx = Range(0, T, 1)``, ``d' = Min(d, Where(idx == 0, lead,
    inf), Where(idx == T - 1, trail, inf))`` (10 nodes), and feeds ``d'`` to every former
    consumer of ``d``. Durations in between are unchanged; with ``T == 1`` the
    single token is capped at ``min(lead, trail)``.

    Args:
        lead: cap on the leading pad, frames of 25 ms (>= 1; >= :data:`MIN_LEAD_FRAMES`
            to keep the first word, which this function does not enforce).
        trail: cap on the trailing pad, frames of 25 ms (>= 1).

    Raises:
        GraphEditError: no node ``node_name``, or a cap below 1 frame.
    """
    import onnx
    from onnx import TensorProto, helper

    if lead < 1 or trail < 1:
        raise GraphEditError(f"pad caps must be >= 1 frame, got lead={lead}, trail={trail}")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    target = next((n for n in g.node if n.name == node_name), None)
    if target is None:
        raise GraphEditError(f"no node {node_name!r} in the graph: not the Kokoro v1.0 export")
    d = target.output[0]
    names = {o for n in g.node for o in n.output} | {t.name for t in g.initializer} | {i.name for i in g.input}
    p = "/voicelab/pad_cap/"
    t = {k: _unique(names, p + k) for k in ("shape", "last", "T", "zero", "one", "idx", "Tm1", "is_first",
                                          "is_last", "lead", "trail", "inf", "cap_first", "cap_last", "capped")}
    consts = [
        helper.make_tensor(t["last"], TensorProto.INT64, [], [-1]),
        helper.make_tensor(t["zero"], TensorProto.INT64, [], [0]),
        helper.make_tensor(t["one"], TensorProto.INT64, [], [1]),
        helper.make_tensor(t["lead"], TensorProto.FLOAT, [], [float(lead)]),
        helper.make_tensor(t["trail"], TensorProto.FLOAT, [], [float(trail)]),
        helper.make_tensor(t["inf"], TensorProto.FLOAT, [], [float("inf")]),
    ]
    new = [
        helper.make_node("Shape", [d], [t["shape"]], name=p + "Shape"),
        helper.make_node("Gather", [t["shape"], t["last"]], [t["T"]], name=p + "Gather", axis=0),
        helper.make_node("Range", [t["zero"], t["T"], t["one"]], [t["idx"]], name=p + "Range"),
        helper.make_node("Sub", [t["T"], t["one"]], [t["Tm1"]], name=p + "Sub"),
        helper.make_node("Equal", [t["idx"], t["zero"]], [t["is_first"]], name=p + "EqualFirst"),
        helper.make_node("Equal", [t["idx"], t["Tm1"]], [t["is_last"]], name=p + "EqualLast"),
        helper.make_node("Where", [t["is_first"], t["lead"], t["inf"]], [t["cap_first"]], name=p + "WhereFirst"),
        helper.make_node("Where", [t["is_last"], t["trail"], t["inf"]], [t["cap_last"]], name=p + "WhereLast"),
        helper.make_node("Min", [d, t["cap_first"], t["cap_last"]], [t["capped"]], name=p + "Min"),
    ]
    for n in g.node:
        for k, i in enumerate(n.input):
            if i == d:
                n.input[k] = t["capped"]
    if any(o.name == d for o in g.output):
        raise GraphEditError(f"{node_name} output {d!r} is a graph output; not supported")
    pos = list(g.node).index(target) + 1
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(nodes[:pos] + new + nodes[pos:])
    g.initializer.extend(consts)
    return out
