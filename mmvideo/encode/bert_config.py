"""The hyper-parameters of a BERT encoder, read from a Hugging Face ``config.json`` (no Keras import: the
LiteRT text path needs the config, not the Keras model)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from mmvideo.errors import ParameterError, SetupError


@dataclass(frozen=True)
class BertConfig:
    """The hyper-parameters of a BERT encoder (defaults: all-MiniLM-L6-v2)."""

    vocab_size: int = 30522
    hidden_size: int = 384
    num_layers: int = 6
    num_heads: int = 12
    intermediate_size: int = 1536
    max_positions: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size",
                     "max_positions", "type_vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ParameterError(f"{name} must be a positive int. Received: {name}={value!r}")
        if self.hidden_size % self.num_heads:
            raise ParameterError(
                "hidden_size must be a multiple of num_heads. "
                f"Received: hidden_size={self.hidden_size}, num_heads={self.num_heads}")
        if not self.layer_norm_eps > 0:
            raise ParameterError(f"layer_norm_eps must be > 0. Received: layer_norm_eps={self.layer_norm_eps!r}")

    @classmethod
    def from_hf_config(cls, config: Mapping[str, Any]) -> "BertConfig":
        """Read a Hugging Face ``config.json`` dict; ``SetupError`` for a variant this port does not implement."""
        if config.get("model_type", "bert") != "bert":
            raise SetupError(f"model_type {config.get('model_type')!r} is not BERT")
        if config.get("hidden_act", "gelu") != "gelu":
            raise SetupError(f"hidden_act {config.get('hidden_act')!r} is not supported (only exact 'gelu')")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise SetupError(
                f"position_embedding_type {config.get('position_embedding_type')!r} is not supported")
        return cls(
            vocab_size=int(config["vocab_size"]),
            hidden_size=int(config["hidden_size"]),
            num_layers=int(config["num_hidden_layers"]),
            num_heads=int(config["num_attention_heads"]),
            intermediate_size=int(config["intermediate_size"]),
            max_positions=int(config["max_position_embeddings"]),
            type_vocab_size=int(config.get("type_vocab_size", 2)),
            layer_norm_eps=float(config.get("layer_norm_eps", 1e-12)),
        )

    @classmethod
    def from_json(cls, path: os.PathLike | str) -> "BertConfig":
        """Read a Hugging Face ``config.json`` file."""
        try:
            return cls.from_hf_config(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError) as exc:
            raise SetupError(f"{path}: not a readable BERT config.json ({exc})") from exc
