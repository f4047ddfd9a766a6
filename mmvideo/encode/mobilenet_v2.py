"""torchvision's MobileNetV2 (width 1.0) rebuilt in Keras 3, with the ImageNet preprocessing inside.

Architecture as torchvision ``mobilenet_v2``: a 3x3/2 stem (32), 17 inverted-residual blocks (expand 1x1,
depthwise 3x3, project 1x1 linear; ReLU6; residual when stride 1 and in == out), a 1x1 head to 1280,
global average pool, dropout 0.2 and a 1280 -> 1000 linear classifier. Channels-last throughout.

Weight port from the torch state dict: conv OIHW -> HWIO, depthwise (C,1,3,3) -> (3,3,C,1), linear
(out,in) -> (in,out). Each BatchNorm (eps 1e-5, inference statistics) is folded into the conv before it
(w' = w*g/sqrt(v+eps), b' = beta - m*g/sqrt(v+eps), computed in float64), which is what TFLite would do
anyway and saves a pass per layer on the Keras backend. Strided 3x3 convs pad 1 pixel on every side, as
torch does, instead of TF's asymmetric "same" padding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mmvideo.errors import ParameterError

#: (expand ratio t, output channels c, repeats n, first stride s), torchvision's table
INVERTED_RESIDUAL_SETTING: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BN_EPS = 1e-5
EMBEDDING_SIZE = 1280
NUM_CLASSES = 1000
INPUT_SIZE = 224
#: names of the model's outputs (a dict-output Keras model; the TFLite signature keeps them)
OUTPUTS = ("embedding", "logits", "probabilities")


def _fold_bn(sd: Mapping[str, np.ndarray], conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    """Conv weight (torch layout) scaled by its BatchNorm, and the bias the BN leaves, in float64."""
    w = sd[f"{conv}.weight"].astype(np.float64)
    gamma = sd[f"{bn}.weight"].astype(np.float64)
    beta = sd[f"{bn}.bias"].astype(np.float64)
    mean = sd[f"{bn}.running_mean"].astype(np.float64)
    var = sd[f"{bn}.running_var"].astype(np.float64)
    scale = gamma / np.sqrt(var + BN_EPS)
    return w * scale[:, None, None, None], beta - mean * scale


def _conv_weights(sd: Mapping[str, np.ndarray], conv: str, bn: str, depthwise: bool) -> list[np.ndarray]:
    w, b = _fold_bn(sd, conv, bn)
    kernel = w.transpose(2, 3, 0, 1) if depthwise else w.transpose(2, 3, 1, 0)  # -> HW C 1 / HW I O
    return [kernel.astype(np.float32), b.astype(np.float32)]


def _plan() -> list[dict[str, Any]]:
    """One entry per conv layer: keras name, torch conv/bn prefixes, kind, filters, stride, relu6."""
    layers: list[dict[str, Any]] = [
        dict(name="stem_conv", conv="features.0.0", bn="features.0.1", kind="conv", filters=32, kernel=3,
             stride=2, relu=True),
    ]
    in_ch = 32
    idx = 1
    for t, c, n, s in INVERTED_RESIDUAL_SETTING:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = in_ch * t
            p = f"features.{idx}.conv"
            block: list[dict[str, Any]] = []
            j = 0
            if t != 1:
                block.append(dict(name=f"block{idx}_expand", conv=f"{p}.0.0", bn=f"{p}.0.1", kind="conv",
                                  filters=hidden, kernel=1, stride=1, relu=True))
                j = 1
            block.append(dict(name=f"block{idx}_depthwise", conv=f"{p}.{j}.0", bn=f"{p}.{j}.1", kind="dw",
                              filters=hidden, kernel=3, stride=stride, relu=True))
            block.append(dict(name=f"block{idx}_project", conv=f"{p}.{j + 1}", bn=f"{p}.{j + 2}", kind="conv",
                              filters=c, kernel=1, stride=1, relu=False))
            layers.append(dict(block=block, residual=(stride == 1 and in_ch == c), name=f"block{idx}"))
            in_ch = c
            idx += 1
    layers.append(dict(name="head_conv", conv=f"features.{idx}.0", bn=f"features.{idx}.1", kind="conv",
                       filters=EMBEDDING_SIZE, kernel=1, stride=1, relu=True))
    return layers


def build_mobilenet_v2(state_dict: Mapping[str, np.ndarray] | None = None) -> Any:
    """The Keras model: float32 RGB (N, H, W, 3) in [0, 255] -> dict of ``embedding`` (N, 1280),
    ``logits`` (N, 1000) and ``probabilities`` (N, 1000, softmax). Trained for H = W = 224.

    With ``state_dict`` (torchvision's keys, numpy arrays, e.g. from ``torch_legacy.load_state_dict``) the
    weights are loaded; without it the model is randomly initialised (for shape tests).
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=(None, None, 3), dtype="float32", name="image")
    # x/255 then (x - mean)/std  ==  (x - 255*mean) / (255*std)
    x = layers.Normalization(axis=-1, mean=[255.0 * m for m in IMAGENET_MEAN],
                             variance=[(255.0 * s) ** 2 for s in IMAGENET_STD], name="imagenet_norm")(inputs)
    weights: dict[str, list[np.ndarray]] = {}

    def conv(x: Any, spec: dict[str, Any]) -> Any:
        if spec["stride"] == 2:  # torch pads 1 on all sides; TF "same" would pad bottom/right only
            x = layers.ZeroPadding2D(1, name=f"{spec['name']}_pad")(x)
            padding = "valid"
        else:
            padding = "same"
        if spec["kind"] == "dw":
            x = layers.DepthwiseConv2D(spec["kernel"], strides=spec["stride"], padding=padding,
                                       use_bias=True, name=spec["name"])(x)
        else:
            x = layers.Conv2D(spec["filters"], spec["kernel"], strides=spec["stride"], padding=padding,
                              use_bias=True, name=spec["name"])(x)
        if state_dict is not None:
            weights[spec["name"]] = _conv_weights(state_dict, spec["conv"], spec["bn"], spec["kind"] == "dw")
        if spec["relu"]:
            x = layers.ReLU(max_value=6.0, name=f"{spec['name']}_relu6")(x)
        return x

    for entry in _plan():
        if "block" in entry:
            y = x
            for spec in entry["block"]:
                y = conv(y, spec)
            x = layers.Add(name=f"{entry['name']}_add")([x, y]) if entry["residual"] else y
        else:
            x = conv(x, entry)

    embedding = layers.GlobalAveragePooling2D(name="embedding")(x)
    h = layers.Dropout(0.2, name="classifier_dropout")(embedding)
    logits = layers.Dense(NUM_CLASSES, name="logits")(h)
    probabilities = layers.Softmax(name="probabilities")(logits)
    model = keras.Model(inputs, {"embedding": embedding, "logits": logits, "probabilities": probabilities},
                        name="mobilenet_v2")

    if state_dict is not None:
        for name, ws in weights.items():
            _set(model.get_layer(name), ws)
        _set(model.get_layer("logits"), [state_dict["classifier.1.weight"].T.astype(np.float32),
                                         state_dict["classifier.1.bias"].astype(np.float32)])
    return model


def _set(layer: Any, ws: list[np.ndarray]) -> None:
    have = [tuple(w.shape) for w in layer.get_weights()]
    got = [tuple(w.shape) for w in ws]
    if have != got:
        raise ParameterError(f"layer {layer.name}: weight shapes {got} do not fit {have}")
    layer.set_weights(ws)
