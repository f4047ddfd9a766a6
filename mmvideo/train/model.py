"""The head as a Keras model: per-modality item tokens -> fusion -> label scores (layers in ``layers.py``).

Inputs (one triple per ``FeatureSpec``, named as in ``mmvideo.train.dataset``): ``<m>_x`` (B, K_m, F_m),
``<m>_mask`` (B, K_m), ``<m>_pos`` (B, K_m). Outputs: ``[scores (B, L), weights (B, L, M), embedding (B, E)]``
(see ``FusionHead``). ``scoring(model)`` is the same model with the scores alone, for ``fit``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from mmvideo.train.dataset import FeatureSpec
from mmvideo.train.layers import FusionHead, ModalityDropout, ModalityTokens


def build_model(specs: Sequence[FeatureSpec], num_labels: int, *, fusion: str = "attention", width: int = 64,
                hidden: int = 64, exclusive: bool = False, modality_dropout: float = 0.3,
                seed: int = 0) -> keras.Model:
    """A fresh head over ``specs`` (in order) for ``num_labels`` labels."""
    inputs: dict[str, keras.KerasTensor] = {}
    xs, masks, positions = [], [], []
    for sp in specs:
        xs.append(keras.Input((sp.max_items, sp.dim), name=f"{sp.name}_x"))
        masks.append(keras.Input((sp.max_items,), name=f"{sp.name}_mask"))
        positions.append(keras.Input((sp.max_items,), name=f"{sp.name}_pos"))
        inputs.update({f"{sp.name}_x": xs[-1], f"{sp.name}_mask": masks[-1], f"{sp.name}_pos": positions[-1]})
    kept = ModalityDropout(modality_dropout, seed=seed, name="modality_dropout")(masks)
    tokens = [ModalityTokens(width, log_inputs=sp.log, name=f"tokens_{sp.name}")(x, p)
              for sp, x, p in zip(specs, xs, positions)]
    if len(specs) > 1:
        tokens_all = keras.layers.Concatenate(axis=1, name="tokens")(tokens)
        mask_all = keras.layers.Concatenate(axis=1, name="token_mask")(kept)
    else:
        tokens_all, mask_all = tokens[0], kept[0]
    scores, weights, embedding = FusionHead(fusion, num_labels, [sp.max_items for sp in specs], hidden=hidden,
                                            exclusive=exclusive, name="fusion")(tokens_all, mask_all)
    return keras.Model(inputs=inputs, outputs=[scores, weights, embedding], name=f"mmvideo_head_{fusion}")


def scoring(model: keras.Model) -> keras.Model:
    """The same layers with the label scores as the only output (what ``fit`` trains)."""
    return keras.Model(inputs=model.inputs, outputs=model.outputs[0])
