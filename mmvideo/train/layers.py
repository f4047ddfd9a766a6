"""The trainable head's Keras layers (Keras 3 ``keras.ops`` only: TensorFlow, JAX and PyTorch backends alike).

- ``ModalityTokens``: one modality's items (B, K, F) -> tokens (B, K, W): features (log-scaled when they are
  probabilities) projected to the common width, plus a learned modality embedding and a time position
  (sines/cosines of the item's place in the segment, projected), layer-normalised.
- ``ModalityDropout``: while training, drops whole modalities per segment (their item masks set to 0, never all
  present ones at once), so a head still works on a video without audio or subtitles.
- ``LabelTokenAttention``: learned label queries (or one pooled query) over the item tokens, key mask for
  absent items: the trainable sibling of ``mmvideo.fuse.layer.LabelQueryAttention`` (that one attends over one
  token per modality in the text space; this one over every item token in the head's own space).
- ``FusionHead``: the fusion step (``"attention"``, ``"concat"`` or ``"sum"``) and the classifier: label
  scores, per-label modality weights and the head's own segment vector.

Every layer validates its arguments (``ParameterError ... Received: ...``) and ``get_config`` mirrors its
constructor, so a model saves as ``.keras`` and loads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import ops

from mmvideo.errors import ParameterError

from mmvideo.train import FUSIONS


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name} must be an int >= 1. Received: {name}={value!r}")
    return value


def _layer_norm(x, gamma, beta, epsilon: float = 1e-5):
    mean = ops.mean(x, axis=-1, keepdims=True)
    var = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) / ops.sqrt(var + epsilon) * gamma + beta


def _masked_softmax(logits, present, epsilon: float = 1e-9):
    """Softmax over the last axis of ``logits`` restricted to ``present`` (same shape, bool): absent slots get
    exactly 0, a row with none present all zeros (not NaN)."""
    top = ops.max(ops.where(present, logits, ops.full_like(logits, -1e9)), axis=-1, keepdims=True)
    shifted = ops.exp(ops.where(present, logits - top, ops.zeros_like(logits))) * ops.cast(present, logits.dtype)
    return shifted / ops.maximum(ops.sum(shifted, axis=-1, keepdims=True), epsilon)


@keras.saving.register_keras_serializable(package="mmvideo.train")
class ModalityTokens(keras.layers.Layer):
    """Items of one modality -> tokens of the common width.

    width: W, the token width. log_inputs: features are probabilities/scores in [0, 1]: use
    ``1 + log(x + 1e-4) / log(1e4)`` (in [0, 1], spreads the small probabilities a softmax leaves).
    frequencies: P, number of sine/cosine pairs encoding the item's position in [0, 1].

    Inputs: ``x`` (B, K, F) float32, ``position`` (B, K) float32 in [0, 1]. Output: (B, K, W) float32.
    """

    def __init__(self, width: int = 64, log_inputs: bool = False, frequencies: int = 4, **kwargs) -> None:
        super().__init__(**kwargs)
        self.width = _positive_int(width, "width")
        self.frequencies = _positive_int(frequencies, "frequencies")
        if not isinstance(log_inputs, bool):
            raise ParameterError(f"log_inputs must be a bool. Received: log_inputs={log_inputs!r}")
        self.log_inputs = log_inputs

    def build(self, x_shape, position_shape=None) -> None:
        if len(x_shape) != 3:
            raise ParameterError(f"x must have shape (B, K, F). Received: x.shape={tuple(x_shape)}")
        features = int(x_shape[-1])
        w = self.width
        self.kernel = self.add_weight(name="kernel", shape=(features, w), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(w,), initializer="zeros")
        self.modality_embedding = self.add_weight(name="modality_embedding", shape=(w,),
                                                  initializer=keras.initializers.RandomNormal(stddev=0.1))
        self.position_kernel = self.add_weight(name="position_kernel", shape=(2 * self.frequencies, w),
                                               initializer="glorot_uniform")
        self.gamma = self.add_weight(name="gamma", shape=(w,), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(w,), initializer="zeros")
        self.built = True

    def call(self, x, position):
        x = ops.cast(x, self.compute_dtype)
        if self.log_inputs:
            x = 1.0 + ops.log(ops.clip(x, 0.0, 1.0) + 1e-4) / math.log(1e4)  # [0, 1] -> [0, 1]
        freqs = ops.cast(ops.arange(1, self.frequencies + 1), x.dtype) * math.pi  # (P,)
        angle = ops.cast(position, x.dtype)[..., None] * freqs  # (B, K, 1) * (P,) -> (B, K, P)
        pos = ops.concatenate([ops.sin(angle), ops.cos(angle)], axis=-1)  # (B, K, 2P)
        h = ops.matmul(x, self.kernel) + self.bias + self.modality_embedding  # (B, K, F) @ (F, W) -> (B, K, W)
        h = h + ops.matmul(pos, self.position_kernel)  # (B, K, 2P) @ (2P, W)
        return _layer_norm(h, self.gamma, self.beta)

    def compute_output_shape(self, x_shape, position_shape=None):
        return (*x_shape[:-1], self.width)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"width": self.width, "log_inputs": self.log_inputs, "frequencies": self.frequencies})
        return config


@keras.saving.register_keras_serializable(package="mmvideo.train")
class ModalityDropout(keras.layers.Layer):
    """While training, each present modality of a segment is dropped with probability ``rate`` (all its item
    masks set to 0); when that would drop every present modality, none is dropped. Identity at inference.

    Input: a list of M masks (B, K_m) float32 (1 = item present). Output: the same list.
    """

    def __init__(self, rate: float = 0.3, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise ParameterError(f"rate must be a number in [0, 1). Received: rate={rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, masks, training=None):
        masks = list(masks)
        if not training or self.rate == 0.0:
            return masks
        present = ops.stack([ops.max(m, axis=-1) > 0 for m in masks], axis=-1)  # (B, M)
        draw = keras.random.uniform(ops.shape(present), seed=self.seed_generator)
        keep = ops.logical_and(draw >= self.rate, present)
        any_kept = ops.any(keep, axis=-1, keepdims=True)  # (B, 1)
        keep = ops.cast(ops.where(any_kept, keep, present), masks[0].dtype)
        return [m * keep[:, i:i + 1] for i, m in enumerate(masks)]

    def compute_output_shape(self, masks_shape):
        return list(masks_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config


@keras.saving.register_keras_serializable(package="mmvideo.train")
class LabelTokenAttention(keras.layers.Layer):
    """Learned queries over item tokens with a key mask (scaled dot product, one head).

    num_queries: Q (one per label, or 1 for a single pooled query). Inputs: ``tokens`` (B, N, W), ``mask``
    (B, N) (nonzero = present; default all present). Outputs: ``pooled`` (B, Q, W), the attention-weighted
    values, and ``attention`` (B, Q, N), rows summing to 1 over present tokens (all 0 when none is present).
    """

    def __init__(self, num_queries: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_queries = _positive_int(num_queries, "num_queries")

    def build(self, tokens_shape, mask_shape=None) -> None:
        if len(tokens_shape) != 3:
            raise ParameterError(f"tokens must have shape (B, N, W). Received: tokens.shape={tuple(tokens_shape)}")
        w = int(tokens_shape[-1])
        self.queries = self.add_weight(name="queries", shape=(self.num_queries, w),
                                       initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.key_kernel = self.add_weight(name="key_kernel", shape=(w, w), initializer="glorot_uniform")
        self.value_kernel = self.add_weight(name="value_kernel", shape=(w, w), initializer="glorot_uniform")
        self.built = True

    def call(self, tokens, mask=None):
        if mask is None:
            mask = ops.ones(ops.shape(tokens)[:2], dtype=tokens.dtype)
        present = ops.cast(mask, "float32") > 0  # (B, N)
        keys = ops.matmul(tokens, self.key_kernel)  # (B, N, W) @ (W, W) -> (B, N, W)
        values = ops.matmul(tokens, self.value_kernel)
        scale = 1.0 / math.sqrt(int(tokens.shape[-1]))
        logits = ops.einsum("qw,bnw->bqn", self.queries, keys) * scale  # (B, Q, N)
        attention = _masked_softmax(logits, ops.broadcast_to(present[:, None, :], ops.shape(logits)))
        pooled = ops.einsum("bqn,bnw->bqw", attention, values)  # (B, Q, W)
        return pooled, attention

    def compute_output_shape(self, tokens_shape, mask_shape=None):
        b, n, w = tokens_shape
        return (b, self.num_queries, w), (b, self.num_queries, n)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"num_queries": self.num_queries})
        return config


@keras.saving.register_keras_serializable(package="mmvideo.train")
class FusionHead(keras.layers.Layer):
    """Fusion and classifier over the item tokens of M modalities laid end to end.

    fusion: "attention" (one learned query per label over every token, then a per-label MLP readout),
    "concat" (masked mean per modality, concatenated with the presence flags, then an MLP) or "sum" (masked
    mean per modality, weighted by learned per-modality weights softmaxed over the present ones, then an MLP).
    num_labels: L. group_sizes: K_m, tokens per modality, in the order they are laid out (sum = N).
    hidden: H, MLP width. exclusive: softmax over the labels instead of independent sigmoids.

    Inputs: ``tokens`` (B, N, W), ``mask`` (B, N). Outputs: ``scores`` (B, L) in [0, 1] (sigmoid, or softmax
    summing to 1), ``weights`` (B, L, M): how much each modality counted per label (attention mass per
    modality; the learned weights for "sum"; uniform over present modalities for "concat"; rows sum to 1
    over present modalities, 0 when none), ``embedding`` (B, E): the head's own segment vector (E = W for
    "attention": the mean of the label-pooled values; H otherwise: the hidden layer).
    """

    def __init__(self, fusion: str = "attention", num_labels: int = 2, group_sizes: Sequence[int] = (1,),
                 hidden: int = 64, exclusive: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        if fusion not in FUSIONS:
            raise ParameterError(f"fusion must be one of {FUSIONS}. Received: fusion={fusion!r}")
        self.fusion = fusion
        self.num_labels = _positive_int(num_labels, "num_labels")
        sizes = list(group_sizes)
        if not sizes or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
            raise ParameterError(f"group_sizes must be ints >= 1, one per modality. "
                                 f"Received: group_sizes={group_sizes!r}")
        self.group_sizes = sizes
        self.hidden = _positive_int(hidden, "hidden")
        if not isinstance(exclusive, bool):
            raise ParameterError(f"exclusive must be a bool. Received: exclusive={exclusive!r}")
        self.exclusive = exclusive
        self.attention = LabelTokenAttention(num_labels, name="label_attention") if fusion == "attention" else None

    def build(self, tokens_shape, mask_shape=None) -> None:
        n, w = int(tokens_shape[1]), int(tokens_shape[2])
        if n != sum(self.group_sizes):
            raise ParameterError(f"tokens must have sum(group_sizes)={sum(self.group_sizes)} tokens. "
                                 f"Received: tokens.shape={tuple(tokens_shape)}")
        m, h, labels = len(self.group_sizes), self.hidden, self.num_labels
        if self.fusion == "attention":
            self.attention.build(tokens_shape, mask_shape)
            self.hidden_kernel = self.add_weight(name="hidden_kernel", shape=(w, h), initializer="glorot_uniform")
            self.readout = self.add_weight(name="readout", shape=(labels, h), initializer="glorot_uniform")
        else:
            width_in = m * w + m if self.fusion == "concat" else w
            self.hidden_kernel = self.add_weight(name="hidden_kernel", shape=(width_in, h),
                                                 initializer="glorot_uniform")
            self.readout = self.add_weight(name="readout", shape=(h, labels), initializer="glorot_uniform")
            if self.fusion == "sum":
                self.modality_logits = self.add_weight(name="modality_logits", shape=(m,), initializer="zeros")
        self.hidden_bias = self.add_weight(name="hidden_bias", shape=(h,), initializer="zeros")
        self.readout_bias = self.add_weight(name="readout_bias", shape=(labels,), initializer="zeros")
        self.built = True

    def _groups(self, tokens, mask):
        """Masked mean per modality (B, M, W) and presence (B, M) bool."""
        means, present = [], []
        start = 0
        for size in self.group_sizes:
            t = tokens[:, start:start + size, :]  # (B, K_m, W)
            m = mask[:, start:start + size]  # (B, K_m)
            count = ops.sum(m, axis=-1, keepdims=True)  # (B, 1)
            means.append(ops.sum(t * m[..., None], axis=1) / ops.maximum(count, 1.0))  # (B, W)
            present.append(count[:, 0] > 0)
            start += size
        return ops.stack(means, axis=1), ops.stack(present, axis=1)

    def call(self, tokens, mask):
        mask = ops.cast(mask, tokens.dtype)
        means, present = self._groups(tokens, mask)  # (B, M, W), (B, M)
        presence = ops.cast(present, tokens.dtype)
        if self.fusion == "attention":
            pooled, attention = self.attention(tokens, mask)  # (B, L, W), (B, L, N)
            weights, start = [], 0
            for size in self.group_sizes:
                weights.append(ops.sum(attention[:, :, start:start + size], axis=-1))  # (B, L)
                start += size
            weights = ops.stack(weights, axis=-1)  # (B, L, M)
            h = ops.relu(ops.matmul(pooled, self.hidden_kernel) + self.hidden_bias)  # (B, L, H)
            logits = ops.sum(h * self.readout, axis=-1) + self.readout_bias  # (B, L, H) * (L, H) -> (B, L)
            embedding = ops.mean(pooled, axis=1)  # (B, W)
        else:
            if self.fusion == "concat":
                b = ops.shape(means)[0]
                flat = ops.reshape(means * presence[..., None], (b, -1))  # (B, M*W)
                features = ops.concatenate([flat, presence], axis=-1)  # (B, M*W + M)
                share = presence / ops.maximum(ops.sum(presence, axis=-1, keepdims=True), 1.0)  # (B, M)
            else:
                share = _masked_softmax(ops.broadcast_to(self.modality_logits, ops.shape(presence)), present)
                features = ops.sum(means * share[..., None], axis=1)  # (B, M, W) -> (B, W)
            h = ops.relu(ops.matmul(features, self.hidden_kernel) + self.hidden_bias)  # (B, H)
            logits = ops.matmul(h, self.readout) + self.readout_bias  # (B, L)
            weights = ops.broadcast_to(share[:, None, :], (ops.shape(share)[0], self.num_labels,
                                                           len(self.group_sizes)))
            embedding = h
        scores = ops.softmax(logits, axis=-1) if self.exclusive else ops.sigmoid(logits)
        return scores, weights, embedding

    def compute_output_shape(self, tokens_shape, mask_shape=None):
        b, _, w = tokens_shape
        e = w if self.fusion == "attention" else self.hidden
        return (b, self.num_labels), (b, self.num_labels, len(self.group_sizes)), (b, e)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"fusion": self.fusion, "num_labels": self.num_labels, "group_sizes": list(self.group_sizes),
                       "hidden": self.hidden, "exclusive": self.exclusive})
        return config
