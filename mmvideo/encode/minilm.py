"""MiniLM-L6 sentence encoder (a small BERT) in Keras 3: token ids in, unit-length sentence vectors out.

The architecture of sentence-transformers' all-MiniLM-L6-v2: BERT embeddings (word + absolute position +
token type, LayerNorm), post-LN transformer layers (multi-head self-attention with padding masked out, exact
erf GELU feed-forward), then mean pooling over the non-padding tokens and L2 normalisation. Weights load from
the model's PyTorch-layout ``model.safetensors`` with ``safetensors.numpy``: no torch needed. Only
``keras.layers`` / ``keras.ops``, so the model runs on any Keras backend. Import this module lazily (it imports
keras).
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import ops

from mmvideo.encode.bert_config import BertConfig
from mmvideo.errors import ParameterError, SetupError


def _check_positive_int(**values: Any) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ParameterError(f"{name} must be a positive int. Received: {name}={value!r}")


@keras.saving.register_keras_serializable(package="mmvideo")
class BertEmbeddings(keras.layers.Layer):
    """Word + absolute position + token-type embeddings, then LayerNorm.

    Call: ``(input_ids (B, T) int, token_type_ids (B, T) int) -> (B, T, hidden_size) float``; T must not
    exceed ``max_positions``.
    """

    def __init__(self, vocab_size: int, hidden_size: int, max_positions: int, type_vocab_size: int,
                 epsilon: float = 1e-12, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _check_positive_int(vocab_size=vocab_size, hidden_size=hidden_size, max_positions=max_positions,
                            type_vocab_size=type_vocab_size)
        if not epsilon > 0:
            raise ParameterError(f"epsilon must be > 0. Received: epsilon={epsilon!r}")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.max_positions = max_positions
        self.type_vocab_size = type_vocab_size
        self.epsilon = epsilon
        self.word_embeddings = keras.layers.Embedding(vocab_size, hidden_size, name="word_embeddings")
        self.position_embeddings = keras.layers.Embedding(max_positions, hidden_size,
                                                          name="position_embeddings")
        self.token_type_embeddings = keras.layers.Embedding(type_vocab_size, hidden_size,
                                                            name="token_type_embeddings")
        self.layer_norm = keras.layers.LayerNormalization(epsilon=epsilon, name="layer_norm")

    def build(self, input_ids_shape: tuple, token_type_ids_shape: tuple | None = None) -> None:
        self.word_embeddings.build(input_ids_shape)
        self.position_embeddings.build(input_ids_shape)
        self.token_type_embeddings.build(input_ids_shape)
        self.layer_norm.build((*input_ids_shape, self.hidden_size))

    def call(self, input_ids: Any, token_type_ids: Any) -> Any:
        length = ops.shape(input_ids)[1]
        positions = ops.expand_dims(ops.arange(length, dtype="int32"), 0)  # (1, T)
        x = (self.word_embeddings(input_ids)  # (B, T, H)
             + self.position_embeddings(positions)  # (1, T, H)
             + self.token_type_embeddings(token_type_ids))  # (B, T, H)
        return self.layer_norm(x)

    def compute_output_shape(self, input_ids_shape: tuple, token_type_ids_shape: tuple | None = None) -> tuple:
        return (*input_ids_shape, self.hidden_size)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, hidden_size=self.hidden_size,
                      max_positions=self.max_positions, type_vocab_size=self.type_vocab_size,
                      epsilon=self.epsilon)
        return config


@keras.saving.register_keras_serializable(package="mmvideo")
class BertLayer(keras.layers.Layer):
    """One post-LN transformer layer: LN(x + MHA(x)), then LN(h + W2 gelu(W1 h)).

    Call: ``(x (B, T, hidden_size) float, mask (B, T) bool/int, 1 = real token) -> (B, T, hidden_size)``.
    Padding keys get zero attention weight; outputs at padding positions are meaningless (pool them out).
    """

    def __init__(self, hidden_size: int, num_heads: int, intermediate_size: int, epsilon: float = 1e-12,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _check_positive_int(hidden_size=hidden_size, num_heads=num_heads, intermediate_size=intermediate_size)
        if hidden_size % num_heads:
            raise ParameterError("hidden_size must be a multiple of num_heads. "
                                 f"Received: hidden_size={hidden_size}, num_heads={num_heads}")
        if not epsilon > 0:
            raise ParameterError(f"epsilon must be > 0. Received: epsilon={epsilon!r}")
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.epsilon = epsilon
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=num_heads, key_dim=hidden_size // num_heads, name="attention")
        self.attention_norm = keras.layers.LayerNormalization(epsilon=epsilon, name="attention_norm")
        # keras' "gelu" is the exact erf form (approximate=False), as in BERT's "gelu".
        self.intermediate = keras.layers.Dense(intermediate_size, activation="gelu", name="intermediate")
        self.output_dense = keras.layers.Dense(hidden_size, name="output_dense")
        self.output_norm = keras.layers.LayerNormalization(epsilon=epsilon, name="output_norm")

    def build(self, x_shape: tuple, mask_shape: tuple | None = None) -> None:
        self.attention.build(x_shape, x_shape)
        self.attention_norm.build(x_shape)
        self.intermediate.build(x_shape)
        self.output_dense.build((*x_shape[:-1], self.intermediate_size))
        self.output_norm.build(x_shape)

    def call(self, x: Any, mask: Any) -> Any:
        valid = ops.cast(mask, "bool")  # (B, S): which keys may be attended to
        attended = self.attention(x, x, value_mask=valid)  # (B, T, H)
        h = self.attention_norm(x + attended)  # (B, T, H)
        return self.output_norm(h + self.output_dense(self.intermediate(h)))  # (B, T, H)

    def compute_output_shape(self, x_shape: tuple, mask_shape: tuple | None = None) -> tuple:
        return x_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, num_heads=self.num_heads,
                      intermediate_size=self.intermediate_size, epsilon=self.epsilon)
        return config


@keras.saving.register_keras_serializable(package="mmvideo")
class MaskedMeanL2(keras.layers.Layer):
    """Mean over the non-padding tokens, then L2 normalisation (sentence-transformers' Pooling + Normalize).

    Call: ``(x (B, T, D) float, mask (B, T) bool/int) -> (B, D) float`` of unit norm (a row whose mask is all
    zero gives the zero vector).
    """

    def __init__(self, epsilon: float = 1e-12, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not epsilon > 0:
            raise ParameterError(f"epsilon must be > 0. Received: epsilon={epsilon!r}")
        self.epsilon = epsilon

    def call(self, x: Any, mask: Any) -> Any:
        weights = ops.expand_dims(ops.cast(mask, x.dtype), -1)  # (B, T, 1)
        total = ops.sum(x * weights, axis=1)  # (B, D)
        count = ops.maximum(ops.sum(weights, axis=1), 1e-9)  # (B, 1), clamp as sentence-transformers does
        mean = total / count  # (B, D)
        norm = ops.sqrt(ops.sum(ops.square(mean), axis=-1, keepdims=True))  # (B, 1)
        return mean / ops.maximum(norm, self.epsilon)

    def compute_output_shape(self, x_shape: tuple, mask_shape: tuple | None = None) -> tuple:
        return (x_shape[0], x_shape[-1])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(epsilon=self.epsilon)
        return config


def build_minilm(config: BertConfig | None = None) -> keras.Model:
    """The BERT sentence encoder as a functional Keras model (random weights; see ``load_safetensors``).

    Inputs: ``input_ids``, ``attention_mask`` (1 = token, 0 = padding) and ``token_type_ids``, each (B, T)
    int32 with T <= ``max_positions``. Output: (B, hidden_size) float32 unit-norm sentence vectors.
    """
    config = config or BertConfig()
    input_ids = keras.Input(shape=(None,), dtype="int32", name="input_ids")
    attention_mask = keras.Input(shape=(None,), dtype="int32", name="attention_mask")
    token_type_ids = keras.Input(shape=(None,), dtype="int32", name="token_type_ids")
    x = BertEmbeddings(config.vocab_size, config.hidden_size, config.max_positions, config.type_vocab_size,
                       epsilon=config.layer_norm_eps, name="embeddings")(input_ids, token_type_ids)
    for i in range(config.num_layers):
        x = BertLayer(config.hidden_size, config.num_heads, config.intermediate_size,
                      epsilon=config.layer_norm_eps, name=f"layer_{i}")(x, attention_mask)
    pooled = MaskedMeanL2(name="pooling")(x, attention_mask)
    return keras.Model(inputs={"input_ids": input_ids, "attention_mask": attention_mask,
                               "token_type_ids": token_type_ids},
                       outputs=pooled, name="minilm")


def _checkpoint_map(config: BertConfig) -> dict[str, tuple[str, Any]]:
    """Keras variable path -> (checkpoint tensor name, transform from the PyTorch layout)."""
    h, n = config.hidden_size, config.num_heads
    d = h // n

    def linear(t: np.ndarray) -> np.ndarray:  # torch Linear (out, in) -> keras Dense (in, out)
        return t.T

    def qkv_kernel(t: np.ndarray) -> np.ndarray:  # (N*d, H) -> EinsumDense (H, N, d)
        return t.T.reshape(h, n, d)

    def qkv_bias(t: np.ndarray) -> np.ndarray:  # (N*d,) -> (N, d)
        return t.reshape(n, d)

    def out_kernel(t: np.ndarray) -> np.ndarray:  # (H, N*d) -> EinsumDense (N, d, H)
        return t.T.reshape(n, d, h)

    same = None
    mapping: dict[str, tuple[str, Any]] = {
        "embeddings/word_embeddings/embeddings": ("embeddings.word_embeddings.weight", same),
        "embeddings/position_embeddings/embeddings": ("embeddings.position_embeddings.weight", same),
        "embeddings/token_type_embeddings/embeddings": ("embeddings.token_type_embeddings.weight", same),
        "embeddings/layer_norm/gamma": ("embeddings.LayerNorm.weight", same),
        "embeddings/layer_norm/beta": ("embeddings.LayerNorm.bias", same),
    }
    for i in range(config.num_layers):
        src, dst = f"encoder.layer.{i}", f"layer_{i}"
        for name in ("query", "key", "value"):
            mapping[f"{dst}/attention/{name}/kernel"] = (f"{src}.attention.self.{name}.weight", qkv_kernel)
            mapping[f"{dst}/attention/{name}/bias"] = (f"{src}.attention.self.{name}.bias", qkv_bias)
        mapping.update({
            f"{dst}/attention/attention_output/kernel": (f"{src}.attention.output.dense.weight", out_kernel),
            f"{dst}/attention/attention_output/bias": (f"{src}.attention.output.dense.bias", same),
            f"{dst}/attention_norm/gamma": (f"{src}.attention.output.LayerNorm.weight", same),
            f"{dst}/attention_norm/beta": (f"{src}.attention.output.LayerNorm.bias", same),
            f"{dst}/intermediate/kernel": (f"{src}.intermediate.dense.weight", linear),
            f"{dst}/intermediate/bias": (f"{src}.intermediate.dense.bias", same),
            f"{dst}/output_dense/kernel": (f"{src}.output.dense.weight", linear),
            f"{dst}/output_dense/bias": (f"{src}.output.dense.bias", same),
            f"{dst}/output_norm/gamma": (f"{src}.output.LayerNorm.weight", same),
            f"{dst}/output_norm/beta": (f"{src}.output.LayerNorm.bias", same),
        })
    return mapping


#: checkpoint tensors the sentence encoder does not use (the CLS pooler head; a constant position index)
UNUSED_TENSORS = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")


def load_safetensors(model: keras.Model, path: os.PathLike | str, config: BertConfig | None = None) -> None:
    """Copy a BERT ``model.safetensors`` (Hugging Face / PyTorch names and layout) into ``model``'s variables.

    Every model variable must get exactly one tensor of the right shape, and every checkpoint tensor but
    ``UNUSED_TENSORS`` must be used: any mismatch is a ``SetupError`` naming the tensors.
    """
    from safetensors.numpy import load_file

    config = config or BertConfig()
    if not Path(path).is_file():
        raise SetupError(f"{path}: weights file not found")
    try:
        tensors = load_file(os.fspath(path))
    except Exception as exc:  # noqa: BLE001 - SafetensorError subclasses no builtin error
        raise SetupError(f"{path}: not a readable safetensors file ({exc})") from exc
    mapping = _checkpoint_map(config)
    variables = {v.path.split("/", 1)[1] if v.path.startswith(f"{model.name}/") else v.path: v
                 for v in model.weights}
    if set(variables) != set(mapping):
        missing, extra = sorted(set(mapping) - set(variables)), sorted(set(variables) - set(mapping))
        raise SetupError(f"model variables do not match the BERT layout: unmapped {extra}, absent {missing}")
    used = set()
    for var_path, (tensor_name, transform) in mapping.items():
        if tensor_name not in tensors:
            raise SetupError(f"{path}: tensor {tensor_name!r} is missing")
        value = tensors[tensor_name].astype("float32")
        if transform is not None:
            value = transform(value)
        variable = variables[var_path]
        if tuple(variable.shape) != value.shape:
            raise SetupError(f"{path}: tensor {tensor_name!r} has shape {tensors[tensor_name].shape}, "
                             f"which does not fit {var_path} {tuple(variable.shape)}")
        variable.assign(value)
        used.add(tensor_name)
    leftover = sorted(set(tensors) - used - set(UNUSED_TENSORS))
    if leftover:
        raise SetupError(f"{path}: unexpected tensors {leftover[:5]} (not all-MiniLM-style BERT?)")


def load_minilm(weights: os.PathLike | str, config: BertConfig | None = None) -> keras.Model:
    """Build the encoder and load its pretrained weights from ``model.safetensors``."""
    config = config or BertConfig()
    model = build_minilm(config)
    load_safetensors(model, weights, config)
    return model


def config_dict(config: BertConfig) -> dict[str, Any]:
    """The config as a plain dict (for fingerprints and logs)."""
    return asdict(config)
