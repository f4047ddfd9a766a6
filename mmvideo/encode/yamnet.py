"""YAMNet in Keras 3, with float weights read out of Qualcomm's w8a8 (QDQ) ONNX export.

The network is tensorflow/models' YAMNet: a 3x3/2 convolution, 13 depthwise-separable blocks
(MobileNetV1), global average pooling to the 1024-d embedding and a 521-way logistic layer. In the
ONNX graph batch norm is folded into each convolution's weights and bias; the weights are stored on
their int8 grid and pass through QuantizeLinear -> DequantizeLinear pairs, and every activation is
quantized to uint8 (the output logits in steps of ~0.76, hence coarse, tied scores). Here the weights
are dequantized (``(q - zero_point) * scale``, exactly the values the int8 graph computes with) and the
activations stay float, so scores are smooth.

Layout: the ONNX input is NCHW ``(1, 1, 96, 64)`` (frames x mel bands); the Keras model takes
``(N, 96, 64)`` float32 log-mel patches and returns ``{"embeddings": (N, 1024), "scores": (N, 521)}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mmvideo.errors import SetupError

if TYPE_CHECKING:
    import keras

#: (kernel, stride, filters) of YAMNet's layers: layer1 is a full convolution, 2..14 separable blocks
LAYER_DEFS: tuple[tuple[int, int, int], ...] = (
    (3, 2, 32), (3, 1, 64), (3, 2, 128), (3, 1, 128), (3, 2, 256), (3, 1, 256), (3, 2, 512),
    (3, 1, 512), (3, 1, 512), (3, 1, 512), (3, 1, 512), (3, 1, 512), (3, 2, 1024), (3, 1, 1024),
)
EMBEDDING_SIZE = 1024
NUM_CLASSES = 521
PATCH_SHAPE = (96, 64)


def build_yamnet() -> "keras.Model":
    """The YAMNet network (BN folded: every convolution has a bias), random weights.

    Input ``(N, 96, 64)`` float32 log-mel patches; outputs ``embeddings`` (N, 1024) float32 and
    ``scores`` (N, 521) float32 sigmoid probabilities. 'same' padding equals the ONNX pads (stride 2
    on even sizes pads bottom/right only).
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=PATCH_SHAPE, dtype="float32", name="patches")
    net = layers.Reshape((*PATCH_SHAPE, 1), name="to_image")(inputs)
    for i, (kernel, stride, filters) in enumerate(LAYER_DEFS, start=1):
        if i == 1:
            net = layers.Conv2D(filters, kernel, strides=stride, padding="same", activation="relu",
                                name=f"layer{i}_conv")(net)
            continue
        net = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", activation="relu",
                                     name=f"layer{i}_depthwise")(net)
        net = layers.Conv2D(filters, 1, padding="same", activation="relu", name=f"layer{i}_pointwise")(net)
    embeddings = layers.GlobalAveragePooling2D(name="embeddings")(net)  # (N, 1024)
    scores = layers.Dense(NUM_CLASSES, activation="sigmoid", name="scores")(embeddings)  # (N, 521)
    return keras.Model(inputs, {"embeddings": embeddings, "scores": scores}, name="yamnet")


def _dequantized_initializers(graph: Any) -> dict[str, np.ndarray]:
    """Every initializer as float arrays, plus the output of each weight QuantizeLinear -> DequantizeLinear
    chain (``(clip(round(w / s) + z) - z) * s``, or ``(q - z) * s`` for int8 initializers)."""
    from onnx import numpy_helper

    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear") or node.input[0] not in values:
            continue
        x, scale = values[node.input[0]], values[node.input[1]].astype(np.float64)
        zero = values[node.input[2]] if len(node.input) > 2 else np.zeros((), np.int8)
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        if scale.ndim == 1:  # per-channel along ``axis``
            shape = [1] * x.ndim
            shape[axis] = -1
            scale = scale.reshape(shape)
            zero = zero.reshape(shape)
        info = np.iinfo(zero.dtype)
        if node.op_type == "QuantizeLinear":
            q = np.clip(np.rint(x.astype(np.float64) / scale) + zero, info.min, info.max).astype(zero.dtype)
            values[node.output[0]] = q
        else:
            values[node.output[0]] = ((x.astype(np.float64) - zero) * scale).astype(np.float32)
    return values


def load_onnx_weights(onnx_path: Path) -> list[np.ndarray]:
    """Float weights of YAMNet's ONNX export, in ``build_yamnet().get_weights()`` order.

    The 27 Conv nodes (in graph order: layer1, then depthwise and pointwise of layers 2-14) and the Gemm
    give (kernel, bias) pairs; ONNX kernels (O, I/groups, kh, kw) become Keras (kh, kw, I, O) or, for
    depthwise, (kh, kw, C, 1); the Gemm's (521, 1024) ``transB`` weight becomes (1024, 521).
    """
    try:
        import onnx
    except ImportError:  # pragma: no cover - depends on the environment
        raise SetupError("reading YAMNet's ONNX weights needs the `onnx` package: pip install onnx") from None
    model = onnx.load(str(onnx_path))  # external data (model.data) is read from beside the file
    graph = model.graph
    values = _dequantized_initializers(graph)
    weights: list[np.ndarray] = []
    convs = [n for n in graph.node if n.op_type == "Conv"]
    gemms = [n for n in graph.node if n.op_type == "Gemm"]
    if len(convs) != 1 + 2 * (len(LAYER_DEFS) - 1) or len(gemms) != 1:
        raise SetupError(f"{onnx_path} is not the YAMNet graph mmvideo knows "
                         f"({len(convs)} Conv, {len(gemms)} Gemm nodes)")
    for node in convs:
        kernel, bias = values[node.input[1]], values[node.input[2]]
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        if group > 1:  # depthwise: (C, 1, kh, kw) -> (kh, kw, C, 1)
            weights.append(kernel.transpose(2, 3, 0, 1).astype(np.float32))
        else:  # (O, I, kh, kw) -> (kh, kw, I, O)
            weights.append(kernel.transpose(2, 3, 1, 0).astype(np.float32))
        weights.append(bias.astype(np.float32))
    gemm = gemms[0]
    weights.append(values[gemm.input[1]].T.astype(np.float32))  # transB=1: (521, 1024) -> (1024, 521)
    weights.append(values[gemm.input[2]].astype(np.float32))
    return weights


def yamnet_from_onnx(onnx_path: Path) -> "keras.Model":
    """The Keras YAMNet with the dequantized weights of ``onnx_path`` (checked shape by shape)."""
    model = build_yamnet()
    weights = load_onnx_weights(onnx_path)
    expected = [tuple(w.shape) for w in model.get_weights()]
    got = [tuple(w.shape) for w in weights]
    if expected != got:
        raise SetupError(f"{onnx_path}: weight shapes {got} do not fit YAMNet {expected}")
    model.set_weights(weights)
    return model


def float_activation_onnx(onnx_path: Path) -> bytes:
    """The ONNX graph with its activation QuantizeLinear/DequantizeLinear pairs removed, serialized.

    Weights keep their QDQ (so they are the same int8-grid values the Keras port uses); the input is
    float32 ``(N, 1, 96, 64)`` log-mel, the outputs float32 ``class_scores`` logits (N, 521) and
    ``embeddings`` (N, 1024). Only for checking the Keras port against onnxruntime on the same
    arithmetic: mmvideo runs the Keras/LiteRT model.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(onnx_path))
    graph = model.graph
    inits = {i.name for i in graph.initializer}
    inputs = {i.name for i in graph.input}
    alias: dict[str, str] = {}  # a quantized/dequantized activation -> the float tensor it stands for
    kept = []
    weight_q: set[str] = set()  # outputs of QuantizeLinear nodes that quantize a weight
    for node in graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            if node.input[0] in inits:
                weight_q.add(node.output[0])
            elif node.input[0] not in weight_q:  # an activation's Q or DQ: drop it
                alias[node.output[0]] = alias.get(node.input[0], node.input[0])
                continue
        kept.append(node)
    for node in kept:
        for k, name in enumerate(node.input):
            node.input[k] = alias.get(name, name)
    del graph.node[:]
    graph.node.extend(kept)
    embedding_name = None
    for node in graph.node:
        if node.op_type == "Reshape":  # [1, -1] -> [0, -1]: keep the batch axis
            shape_name = node.input[1]
            for init in graph.initializer:
                if init.name == shape_name:
                    init.CopyFrom(numpy_helper.from_array(np.array([0, -1], np.int64), shape_name))
            embedding_name = node.output[0]
    for inp in graph.input:
        if inp.name in inputs:
            inp.type.tensor_type.elem_type = TensorProto.FLOAT
            inp.type.tensor_type.shape.dim[0].dim_param = "N"
    outputs = []
    for out in graph.output:
        source = alias.get(out.name, out.name)
        if source != out.name:
            graph.node.append(helper.make_node("Identity", [source], [out.name]))
        outputs.append(helper.make_tensor_value_info(out.name, TensorProto.FLOAT, ["N", NUM_CLASSES]))
    if embedding_name is not None:
        graph.node.append(helper.make_node("Identity", [embedding_name], ["embeddings"]))
        outputs.append(helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["N", EMBEDDING_SIZE]))
    del graph.output[:]
    graph.output.extend(outputs)
    del graph.value_info[:]
    used = {name for node in graph.node for name in node.input}
    unused = [init for init in graph.initializer if init.name not in used]
    for init in unused:  # the activations' scales and zero points
        graph.initializer.remove(init)
    return model.SerializeToString()
