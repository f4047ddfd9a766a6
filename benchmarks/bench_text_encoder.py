"""Text encoder benchmark: sentences/s of TextEncoder by batch size, beside two baselines in the same process.

Corpus: unique subtitle cues from ``../shared/subtitles`` (short texts, as the pipeline sees them) with one
long paragraph (~150-250 word pieces, e.g. a description or an OCR block) mixed in every 16 texts, so that
padding cost shows. Baselines: (a) one text per model call; (b) fixed-size batches in input order, each
padded to its longest text (no length sorting). mmvideo: length-sorted buckets (``TextEncoder.encode``)
at each ``--batch-sizes`` and cap on padded tokens per call (``--token-budgets``). The cache is off (``cache_size=0``) so every text is really embedded. Each
figure is the median of ``--repeat`` runs (the machine may be shared).

Usage: ``python benchmarks/bench_text_encoder.py [--n 256] [--batch-sizes 8,32,64] [--token-budgets
2048,8192] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mmvideo.encode.text import TextEncoder  # noqa: E402

SUBTITLES = REPO.parent / "shared" / "subtitles"


def corpus(n: int) -> list[str]:
    """``n`` distinct texts: subtitle cues, with a long paragraph every 16 texts."""
    import pysubs2

    cues: list[str] = []
    for path in sorted(SUBTITLES.rglob("*")):
        if path.suffix.lower() not in (".srt", ".vtt", ".ass", ".ssa"):
            continue
        try:
            events = pysubs2.load(str(path))
        except Exception:  # noqa: BLE001 - the corpus holds deliberately broken files
            continue
        cues.extend(" ".join(e.plaintext.split()) for e in events)
    cues = list(dict.fromkeys(c for c in cues if c))
    if not cues:
        cues = [f"line {i} of dialogue about the weather" for i in range(n)]
    texts: list[str] = []
    i = 0
    while len(texts) < n:
        if len(texts) % 16 == 15:
            k = len(texts)
            texts.append(" ".join(f"Paragraph {k} sentence {j}: the camera pans across the crowded market "
                                  f"while a vendor shouts the price of fish number {j}." for j in range(6 + k % 6)))
        else:
            cue = cues[i % len(cues)]
            texts.append(cue if i < len(cues) else f"{cue} ({i // len(cues)})")
            i += 1
    return texts


def run_unsorted(enc: TextEncoder, texts: list[str], batch_size: int) -> None:
    """Baseline (b): input-order batches padded to their own longest text."""
    ids = enc.tokenize(texts)
    for start in range(0, len(ids), batch_size):
        chunk = ids[start:start + batch_size]
        width = max(len(x) for x in chunk)
        input_ids = np.zeros((len(chunk), width), np.int32)
        mask = np.zeros_like(input_ids)
        for row, x in enumerate(chunk):
            input_ids[row, :len(x)] = x
            mask[row, :len(x)] = 1
        enc.model.predict_on_batch({"input_ids": input_ids, "attention_mask": mask,
                                    "token_type_ids": np.zeros_like(input_ids)})


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    print("   runs:", " ".join(f"{t:.2f}" for t in times), file=sys.stderr)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256, help="texts per run")
    ap.add_argument("--batch-sizes", default="8,32,64")
    ap.add_argument("--token-budgets", default="2048,8192",
                    help="max padded tokens per call to try besides the default")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default="cpu", choices=("auto", "cpu", "gpu"))
    args = ap.parse_args()
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    args.token_budgets = [int(s) for s in args.token_budgets.split(",") if s]

    t0 = time.perf_counter()
    base = TextEncoder(device=args.device, cache_size=0)
    print(f"load: {time.perf_counter() - t0:.1f} s (keras {base.fingerprint()['backend']}, device {base.device})")
    texts = corpus(args.n)
    lengths = [len(x) for x in base.tokenize(texts)]
    print(f"corpus: {len(texts)} texts, word pieces median {int(np.median(lengths))}, max {max(lengths)}, "
          f"mean {np.mean(lengths):.1f}")

    base.encode(texts[:64])  # warm-up: trace the predict function on a few shapes
    run_unsorted(base, texts[:64], sizes[0])

    rows = []
    t = timed(lambda: [base.model.predict_on_batch(_one(base, s)) for s in texts], args.repeat)
    rows.append(("baseline: one text per call", len(texts) / t))
    for b in sizes:
        t = timed(lambda b=b: run_unsorted(base, texts, b), args.repeat)
        rows.append((f"baseline: batch {b}, input order", len(texts) / t))
    default_tokens = base.max_batch_tokens
    for b in sizes:
        for tokens in sorted({default_tokens, *args.token_budgets}):
            base.batch_size, base.max_batch_tokens = b, tokens
            t = timed(lambda: base.encode(texts), args.repeat)
            rows.append((f"mmvideo: batch {b}, <= {tokens} tokens, buckets", len(texts) / t))
    print(f"{'run':40s} {'sentences/s':>12s}")
    for name, rate in rows:
        print(f"{name:40s} {rate:12.1f}")


def _one(enc: TextEncoder, text: str) -> dict[str, np.ndarray]:
    ids = np.array([enc.tokenize([text])[0]], np.int32)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}


if __name__ == "__main__":
    main()
