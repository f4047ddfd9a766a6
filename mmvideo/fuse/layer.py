"""``LabelQueryAttention``: each tag's text embedding queries a segment's modality tokens (Keras 3, keras.ops).

For tag t and modality m of segment b (tokens as in ``mmvideo.fuse.tokens``: direction = meaning, length =
confidence):

1. projections (identity at construction, so zero-shot uses the raw text space; trainable later):
   ``q = Wq x_t``, ``k = Wk y_bm``, ``v = Wv y_bm``;
2. similarity ``s = cos(q, k)`` (and ``cos(q, v)`` for the value side);
3. per-modality normalisation over the tags, so a modality's best tag scores alike whether its token is a
   crisp "speech" vector or a blurry mix of ImageNet classes and no modality crowds the others out by the
   scale of its similarities: ``normalize="peak"`` (default) ``z = (s - mean_t s) / max(max_t s - mean_t s,
   min_spread)`` (a modality's best tag gets 1, unless even its best tag is barely above its average, as for
   subtitles that name no tag: the floor keeps such a token from being inflated into a confident match),
   ``"zscore"`` ``z = (s - mean_t s) / max(std_t s, min_spread)``, ``"none"`` ``z = s``;
4. calibration ``c = scale_m * |y_bm| * z + bias_m`` (a weak token counts less);
5. attention over the present modalities ``a = softmax_m(c_key / temperature)`` (a masked modality gets exactly
   0 and cannot change any other number), fused score ``sum_m a * c_value``.

Inputs: ``queries`` (T, D) or (B, T, D); ``tokens`` (B, M, D); ``token_mask`` (B, M) bool (True = present;
default all present, or the tokens' Keras mask). Outputs: ``scores`` (B, T) (with ``"peak"``: at most the best
present token's confidence, <= 1; 0 is an average tag) and ``attention`` (B, T, M), rows summing to 1 over
present modalities (all 0 when none is present). Token lengths above 1 are clipped to 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import ops

from mmvideo.errors import ParameterError
from mmvideo.fuse.layer_numpy import DEFAULT_MIN_SPREAD, NORMALIZE, AttentionSettings

__all__ = ["DEFAULT_MIN_SPREAD", "NORMALIZE", "LabelQueryAttention"]


@keras.saving.register_keras_serializable(package="mmvideo")
class LabelQueryAttention(keras.layers.Layer):
    """Label-query attention over modality tokens, with per-modality calibration and exact masking.

    num_modalities: M, the number of token slots (fixed order, e.g. image, audio, text, faces).
    temperature: > 0, softmax temperature of the attention over modalities (a trainable weight).
    normalize: "peak", "zscore" or "none": how each modality's similarities are put on one scale over the
        tags before calibration (the first two need T >= 2 tags).
    min_spread: floor of the spread (cosine units) the similarities are divided by (see the module docstring);
        None: the default of ``normalize`` (``DEFAULT_MIN_SPREAD``: 0.5 for "peak", measured with
        all-MiniLM-L6-v2: tag-exact tokens spread 0.5-0.8 above the mean, subtitles naming no tag 0.1-0.25).
    use_projections: learn D x D query/key/value projections (identity-initialised); False: raw space.
    scale, bias: initial per-modality calibration (a number or M numbers), trainable weights.
    epsilon: guards norms and the standard deviation.
    """

    def __init__(self, num_modalities: int = 4, temperature: float = 0.2, normalize: str = "peak",
                 use_projections: bool = True, scale: float | Sequence[float] = 1.0,
                 bias: float | Sequence[float] = 0.0, min_spread: float | None = None, epsilon: float = 1e-6,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        checked = AttentionSettings(num_modalities, temperature, normalize, scale, bias, min_spread, epsilon)
        if not isinstance(use_projections, bool):
            raise ParameterError(f"use_projections must be a bool. Received: use_projections={use_projections!r}")
        self.num_modalities = num_modalities
        self.temperature = checked.temperature
        self.normalize = normalize
        self.use_projections = use_projections
        self.scale = list(checked.scale)
        self.bias = list(checked.bias)
        self.min_spread = checked.min_spread
        self.epsilon = checked.epsilon

    def build(self, queries_shape, tokens_shape, token_mask_shape=None) -> None:
        if len(tokens_shape) != 3 or tokens_shape[1] != self.num_modalities:
            raise ParameterError(f"tokens must have shape (B, {self.num_modalities}, D). "
                                 f"Received: tokens.shape={tuple(tokens_shape)}")
        if len(queries_shape) not in (2, 3) or queries_shape[-1] != tokens_shape[-1]:
            raise ParameterError(f"queries must have shape (T, D) or (B, T, D) with D={tokens_shape[-1]}. "
                                 f"Received: queries.shape={tuple(queries_shape)}")
        if token_mask_shape is not None and tuple(token_mask_shape)[-1] != self.num_modalities:
            raise ParameterError(f"token_mask must have shape (B, {self.num_modalities}). "
                                 f"Received: token_mask.shape={tuple(token_mask_shape)}")
        dim = int(tokens_shape[-1])
        if self.use_projections:
            self.query_kernel = self.add_weight(name="query_kernel", shape=(dim, dim), initializer="identity")
            self.key_kernel = self.add_weight(name="key_kernel", shape=(dim, dim), initializer="identity")
            self.value_kernel = self.add_weight(name="value_kernel", shape=(dim, dim), initializer="identity")
        self.log_temperature = self.add_weight(
            name="log_temperature", shape=(),
            initializer=keras.initializers.Constant(math.log(self.temperature)))
        self.calibration_scale = self.add_weight(name="calibration_scale", shape=(self.num_modalities,),
                                                 initializer=keras.initializers.Constant(self.scale))
        self.calibration_bias = self.add_weight(name="calibration_bias", shape=(self.num_modalities,),
                                                initializer=keras.initializers.Constant(self.bias))
        self.built = True

    def _norm(self, x, keepdims=False):
        # sqrt(|x|^2 + eps^2): finite gradients at x = 0 (masked slots are zeros), so the layer can be trained
        return ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=keepdims) + self.epsilon**2)

    def _unit(self, x):
        return x / self._norm(x, keepdims=True)

    def _calibrated(self, sim, strength):
        """sim (B, T, M) cosines -> calibrated scores (B, T, M)."""
        if self.normalize != "none":
            mean = ops.mean(sim, axis=1, keepdims=True)  # (B, 1, M): over the tags
            if self.normalize == "zscore":
                spread = ops.std(sim, axis=1, keepdims=True)  # (B, 1, M)
            else:
                spread = ops.max(sim, axis=1, keepdims=True) - mean  # (B, 1, M)
            sim = (sim - mean) / ops.maximum(spread, max(self.min_spread, self.epsilon))
        return self.calibration_scale * strength[:, None, :] * sim + self.calibration_bias

    def call(self, queries, tokens, token_mask=None):
        if token_mask is None:
            token_mask = getattr(tokens, "_keras_mask", None)
        if token_mask is None:
            token_mask = ops.ones(ops.shape(tokens)[:2], dtype="bool")
        present = ops.cast(token_mask, "bool")  # (B, M)
        weight = ops.cast(present, tokens.dtype)
        # a masked slot may hold anything (NaN included): replace it before any arithmetic touches it
        tokens = ops.where(present[:, :, None], tokens, ops.zeros_like(tokens))  # (B, M, D)
        strength = ops.minimum(self._norm(tokens), 1.0)  # (B, M): token confidence in [0, 1]
        queries = ops.cast(queries, tokens.dtype)
        batched = len(queries.shape) == 3
        q, k, v = queries, tokens, tokens
        if self.use_projections:
            q = ops.matmul(q, self.query_kernel)  # (..., T, D) @ (D, D) -> (..., T, D)
            k = ops.matmul(k, self.key_kernel)  # (B, M, D) @ (D, D) -> (B, M, D)
            v = ops.matmul(v, self.value_kernel)
        q, k, v = self._unit(q), self._unit(k), self._unit(v)
        pattern = "btd,bmd->btm" if batched else "td,bmd->btm"
        sim_key = ops.einsum(pattern, q, k)  # (B, T, M) cosine of each tag with each modality's key
        sim_value = ops.einsum(pattern, q, v)  # (B, T, M) and with its value
        key = self._calibrated(sim_key, strength)
        value = self._calibrated(sim_value, strength)
        logits = key / ops.exp(self.log_temperature)  # (B, T, M)
        # softmax over the present slots, written out so masked slots get exactly 0, a segment with no
        # present slot gets all zeros (not NaN), and M = 1 is fine
        slot = present[:, None, :]  # (B, 1, M)
        top = ops.max(ops.where(slot, logits, ops.full_like(logits, -1e9)), axis=-1, keepdims=True)  # (B, T, 1)
        shifted = ops.exp(ops.where(slot, logits - top, ops.zeros_like(logits))) * weight[:, None, :]
        attention = shifted / ops.maximum(ops.sum(shifted, axis=-1, keepdims=True), self.epsilon)
        value = ops.where(present[:, None, :], value, ops.zeros_like(value))
        scores = ops.sum(attention * value, axis=-1)  # (B, T, M) -> (B, T)
        return scores, attention

    def compute_output_shape(self, queries_shape, tokens_shape, token_mask_shape=None):
        batch, slots = tokens_shape[0], tokens_shape[1]
        tags = queries_shape[-2]
        return (batch, tags), (batch, tags, slots)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "num_modalities": self.num_modalities,
            "temperature": self.temperature,
            "normalize": self.normalize,
            "use_projections": self.use_projections,
            "scale": list(self.scale),
            "bias": list(self.bias),
            "min_spread": self.min_spread,
            "epsilon": self.epsilon,
        })
        return config
