"""Write tests/data/minilm_reference.json: all-MiniLM-L6-v2 sentence vectors from an independent forward pass.

The reference is a plain-PyTorch BERT forward (no transformers / sentence-transformers), written straight
from the Hugging Face BertModel + sentence-transformers Pooling/Normalize definitions and run in float64, so
the Keras port (mmvideo.encode.minilm) is checked against code that shares nothing with it but the weights
and the tokenizer. torch is not an mmvideo dependency: run this in a throwaway venv, e.g.

    python3 -m venv /tmp/torchref && /tmp/torchref/bin/pip install torch numpy safetensors tokenizers
    /tmp/torchref/bin/python scripts/make_minilm_reference.py --model-dir ~/.cache/mmvideo/models/all_minilm_l6_v2/1

(the model folder is what `mmvideo models fetch all_minilm_l6_v2` fills).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MAX_SEQ_LENGTH = 256  # sentence-transformers' max_seq_length for this model (sentence_bert_config.json)

_LONG = " ".join(
    f"Sentence {i} of a long subtitle track describes scene {i * 7 % 13} where the narrator explains "
    f"why the red car number {i} stopped near the old harbour."
    for i in range(20)
)

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "a dog runs on the beach",
    "a puppy playing in the sand",
    "stock market prices fell",
    "",
    "Café déjà vu: naïve résumé, 東京 — 100% OK?!",
    _LONG,  # over 256 word pieces: checks truncation
]


def bert_forward(w: dict[str, torch.Tensor], cfg: dict, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean-pooled, L2-normalised sentence vectors (B, H) of a BERT given its state dict ``w``."""
    eps = cfg["layer_norm_eps"]
    h = cfg["hidden_size"]
    n = cfg["num_attention_heads"]
    d = h // n
    b, t = ids.shape
    pos = torch.arange(t)
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][pos][None] \
        + w["embeddings.token_type_embeddings.weight"][torch.zeros_like(ids)]
    x = F.layer_norm(x, (h,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    dtype = x.dtype
    # BertModel's extended attention mask: 0 for tokens, dtype-min for padding, added to the scores
    bias = (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."

        def lin(v: torch.Tensor, name: str) -> torch.Tensor:
            return F.linear(v, w[p + name + ".weight"], w[p + name + ".bias"])

        def heads(v: torch.Tensor) -> torch.Tensor:
            return v.view(b, t, n, d).transpose(1, 2)  # (B, N, T, d)

        q = heads(lin(x, "attention.self.query"))
        k = heads(lin(x, "attention.self.key"))
        v = heads(lin(x, "attention.self.value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + bias  # (B, N, T, T)
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, h)
        x = F.layer_norm(x + lin(ctx, "attention.output.dense"), (h,),
                         w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
        ff = lin(F.gelu(lin(x, "intermediate.dense")), "output.dense")  # exact erf GELU
        x = F.layer_norm(x + ff, (h,), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    m = mask[:, :, None].to(dtype)
    mean = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return mean, F.normalize(mean, p=2, dim=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests/data/minilm_reference.json")
    args = ap.parse_args()

    cfg = json.loads((args.model_dir / "config.json").read_text())
    tok = Tokenizer.from_file(str(args.model_dir / "tokenizer.json"))
    tok.enable_truncation(MAX_SEQ_LENGTH)
    tok.no_padding()
    results = {}
    for dtype in (torch.float64, torch.float32):
        w = {k: torch.from_numpy(v).to(dtype) for k, v in load_file(args.model_dir / "model.safetensors").items()}
        rows = []
        for s in SENTENCES:  # one at a time: no padding involved in the reference
            e = tok.encode(s)
            ids = torch.tensor([e.ids])
            mask = torch.tensor([e.attention_mask])
            with torch.no_grad():
                mean, vec = bert_forward(w, cfg, ids, mask)
            rows.append((e.ids, float(mean.norm()), vec[0].numpy().astype(np.float64)))
        results[dtype] = rows
    ref = results[torch.float64]
    vecs = np.stack([r[2] for r in ref])
    f32 = np.stack([r[2] for r in results[torch.float32]])
    out = {
        "about": "all-MiniLM-L6-v2 reference from scripts/make_minilm_reference.py (plain torch BERT, float64, "
                 f"torch {torch.__version__}); truncation at {MAX_SEQ_LENGTH} word pieces incl. [CLS]/[SEP]",
        "max_seq_length": MAX_SEQ_LENGTH,
        "float32_vs_float64_max_abs": float(np.abs(f32 - vecs).max()),
        "sentences": [
            {"text": s, "n_tokens": len(ids), "first_ids": ids[:8], "mean_norm": round(mnorm, 6),
             "first8": [round(float(v), 7) for v in vec[:8]], "vector": [round(float(v), 7) for v in vec]}
            for s, (ids, mnorm, vec) in zip(SENTENCES, ref)
        ],
        "cosine": [[round(float(c), 6) for c in row] for row in vecs @ vecs.T],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # one sentence / matrix row per line: readable diffs, small file
    lines = [json.dumps({k: v for k, v in out.items() if k not in ("sentences", "cosine")},
                        ensure_ascii=False)[:-1] + ","]
    lines.append(' "sentences": [')
    lines.append(",\n".join("  " + json.dumps(r, ensure_ascii=False) for r in out["sentences"]) + "],")
    lines.append(' "cosine": [')
    lines.append(",\n".join("  " + json.dumps(r) for r in out["cosine"]) + "]}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # the hand layout must still be valid JSON
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}; float32 vs float64 max |diff| {out['float32_vs_float64_max_abs']:.2e}")
    for s, row in zip(SENTENCES, out["cosine"]):
        print(f"{s[:40]!r:44s}", " ".join(f"{c:+.4f}" for c in row))


if __name__ == "__main__":
    main()
