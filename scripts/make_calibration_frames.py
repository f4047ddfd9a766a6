"""Write mmvideo/data/mobilenet_v2_calibration.npz: 224x224 frames for int8 quantization of MobileNetV2.

The int8 image encoder (``ImageEncoder(backend="litert-int8")``) is converted on each machine on first use;
TFLite's post-training quantizer needs real frames to set its activation ranges, and the product must not
read ``samples/`` or ../shared at run time, so a small set ships as package data (JPEG bytes, < 1 MB).

Sources (all CC0 or public domain, see samples/README.md and each loader's docstring in skimage.data):
- scikit-image 0.26 bundled photos: astronaut (NASA, public domain), chelsea (CC0, Stefan van der Walt),
  coffee (CC0, Rachel Michetti), rocket (SpaceX, public domain), hubble_deep_field (NASA/ESA, public domain),
  immunohistochemistry (no known copyright restrictions), retina (CC0), camera (CC0, Lav Varshney),
  coins (no known copyright restrictions), clock (public domain, Stefan van der Walt), brick, grass,
  gravel (CC0Textures, CC0); each as a centre crop plus 3 random crops (scale 0.35-1 of the short side,
  random position, random horizontal flip, brightness/contrast jitter). Grey photos are copied to RGB.
- frames of the sample clips samples/{cat,coffee,rocket,three_shots} (CC0, made by scripts/make_samples.py
  from the same photos, H.264 artefacts included), demuxed at 224x224 as the pipeline does, both "squash"
  and "pad" (black bars) aspects.
stereo_motorcycle is left out on purpose: it is a reference photo of the tests that none of these frames
were made from. Every 5th frame is marked ``check`` (held out of calibration; used for the agreement check
run after each conversion).

    .venv/bin/python scripts/make_calibration_frames.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import skimage.data

from mmvideo.encode.image import INPUT_SIZE, fit_frames
from mmvideo.media.frames import ASPECTS, iter_frames
from mmvideo.media.probe import probe

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "mmvideo" / "data" / "mobilenet_v2_calibration.npz"
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
          "camera", "coins", "clock", "brick", "grass", "gravel")
CLIPS = ("cat.mp4", "coffee.mkv", "rocket.mp4", "three_shots.mp4")
CLIP_FRAMES = 28
RANDOM_CROPS = 3
JPEG_QUALITY = 85
CHECK_EVERY = 5


def _rgb(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3]).astype(np.uint8)


def _random_crop(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    s = int(min(h, w) * rng.uniform(0.35, 1.0))
    top, left = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
    crop = img[top:top + s, left:left + s]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    out = cv2.resize(np.ascontiguousarray(crop), (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
    gain, offset = rng.uniform(0.75, 1.25), rng.uniform(-25, 25)
    return np.clip(out.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)


def collect(rng: np.random.Generator) -> tuple[list[np.ndarray], list[str]]:
    """(frames 224x224x3 uint8, source names)."""
    frames, sources = [], []
    for name in PHOTOS:
        img = _rgb(getattr(skimage.data, name)())
        frames.append(fit_frames(img[None])[0])
        sources.append(f"skimage.data.{name}:centre")
        for k in range(RANDOM_CROPS):
            frames.append(_random_crop(img, rng))
            sources.append(f"skimage.data.{name}:random{k}")
    clip_frames = []
    for clip in CLIPS:
        path = REPO / "samples" / clip
        for aspect in ASPECTS:
            size = (INPUT_SIZE, INPUT_SIZE)
            with iter_frames(path, probe(path), fps=2.0, size=size, aspect=aspect) as stream:
                for chunk in stream:
                    clip_frames += [(f"samples/{clip}:{t:.1f}s:{aspect}", f)
                                    for t, f in zip(chunk.timestamps.tolist(), chunk.frames)]
    pick = np.linspace(0, len(clip_frames) - 1, CLIP_FRAMES).round().astype(int)
    for i in pick:
        src, f = clip_frames[i]
        frames.append(f)
        sources.append(src)
    return frames, sources


def main() -> None:
    rng = np.random.default_rng(20261129)
    frames, sources = collect(rng)
    order = rng.permutation(len(frames))  # mix photos and clips so the check split samples both
    blobs = []
    for i in order:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frames[i], cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        assert ok
        blobs.append(buf.ravel())
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    check = np.arange(len(blobs)) % CHECK_EVERY == CHECK_EVERY - 1
    np.savez(OUT, jpeg=np.concatenate(blobs), offsets=offsets, sources=np.array([sources[i] for i in order]),
             check=check)
    print(f"{OUT}: {len(blobs)} frames ({int(check.sum())} held out for the check), "
          f"{OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
