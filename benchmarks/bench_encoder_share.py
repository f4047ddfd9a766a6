"""What each encoder costs per 1 fps 720p video-hour, as a share of that hour's demux time.

In one process: demux a generated 720p30 clip (bench_demux.py's) with ``iter_frames`` + ``iter_audio``
(the baseline), then run the real frames through the image encoder, the real audio through YAMNet's
front end + model, the face detector on the frames and a subtitle-like text load through the text
encoder, each on its CPU default backend (LiteRT for the CNNs). Figures are scaled to one video-hour.
Goal (encoders issue): image + audio encoders together under 15% of the demux time.
Per-backend, per-batch-size throughput tables: bench_encoders.py, bench_audio_encoder.py,
bench_text_encoder.py, bench_extras.py.

    .venv/bin/python benchmarks/bench_encoder_share.py [--quick] [--image-backend litert-int8]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_demux import Timer, make_speed_clip, run_mmvideo  # noqa: E402

from mmvideo.encode.melspec import PatchStream  # noqa: E402
from mmvideo.media.audio import iter_audio  # noqa: E402
from mmvideo.media.frames import iter_frames  # noqa: E402
from mmvideo.media.probe import probe  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a 30 s clip instead of 180 s")
    # batch 1 is the image encoder's fastest LiteRT setting here (215 vs 141-184 images/s at batch 32-64: the
    # larger batches' activations fall out of cache) and what the pipeline runs
    ap.add_argument("--batch-size", type=int, default=1, help="image and face batch size (default 1)")
    ap.add_argument("--image-backend", default="auto", help="auto (LiteRT float32 on a CPU) or litert-int8")
    args = ap.parse_args()
    clip = make_speed_clip(30 if args.quick else 180)
    info = probe(clip)
    hours = info.duration / 3600

    from mmvideo.encode.audio import AudioEncoder
    from mmvideo.encode.image import ImageEncoder
    from mmvideo.encode.text import TextEncoder
    from mmvideo.extras.faces import FaceDetector

    image, audio, text, faces = ImageEncoder(backend=args.image_backend, batch_size=args.batch_size), AudioEncoder(), TextEncoder(), FaceDetector()
    frames = np.concatenate([c.frames for c in iter_frames(clip, info)])
    samples = np.concatenate([c.samples for c in iter_audio(clip, info)])
    cues = [f"subtitle line number {i}: they walk along the river and talk about the weather" for i in range(40)]
    image.encode(frames[:8]), audio.encode(audio.patches(samples[:32000])[0]), text.encode(cues[:2])  # warm up
    faces(frames[:2])

    demux = min((run_mmvideo(clip, info)[0] for _ in range(2)), key=lambda t: t.wall)
    rows = [("demux (frames + audio), the baseline", demux, len(frames))]
    with Timer() as t_img:
        for i in range(0, len(frames), args.batch_size):
            image.encode(frames[i:i + args.batch_size])
    rows.append((f"image: MobileNetV2 {image.backend}, batch {args.batch_size}", t_img, len(frames)))
    with Timer() as t_aud:
        stream = PatchStream()
        patches, _ = stream.push(samples, 0.0)
        tail, _ = stream.finish()
        patches = np.concatenate([patches, tail])
        for i in range(0, len(patches), 64):
            audio.encode(patches[i:i + 64])
    rows.append((f"audio: YAMNet front end + {audio.backend}, batch {audio.batch_size}", t_aud, len(patches)))
    with Timer() as t_face:
        for i in range(0, len(frames), args.batch_size):
            faces(frames[i:i + args.batch_size])
    rows.append(("faces: BlazeFace full-range, LiteRT", t_face, len(frames)))
    n_cues = max(1, round(info.duration / 3))  # a subtitle line every 3 s
    texts = [cues[i % len(cues)] + f" ({i})" for i in range(n_cues)]
    with Timer() as t_txt:
        text.encode(texts)
    rows.append((f"text: MiniLM {text.backend}, a cue every 3 s", t_txt, n_cues))

    print(f"clip: {clip.name}, {info.duration:.0f} s at 1 fps -> {len(frames)} frames, {len(patches)} audio patches")
    print(f"{'stage':<44} {'items/s':>9} {'wall s/video-h':>15} {'CPU s/video-h':>14} {'share of demux':>15}")
    for name, t, n in rows:
        share = t.wall / demux.wall
        print(f"{name:<44} {n / t.wall:>9.1f} {t.wall / hours:>15.1f} {t.cpu / hours:>14.1f} {share:>14.1%}")
    both = (t_img.wall + t_aud.wall) / demux.wall
    both_cpu = (t_img.cpu + t_aud.cpu) / demux.cpu
    print(f"image + audio encoders: {both:.1%} of the demux wall time ({both_cpu:.1%} of its CPU time); "
          f"goal under 15%")


if __name__ == "__main__":
    main()
