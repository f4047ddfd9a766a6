"""Audio encoder benchmark: YAMNet patches per second per backend and batch size, and what a video-hour costs.

A video-hour of audio is 7500 patches (0.96 s every 0.48 s). The script measures, on the same audio
(``--seconds`` of 16 kHz audio: the real speech clip ``../shared/media/whisper/jfk.flac`` tiled, with
noise added so no two patches are equal):

* the front end (numpy log-mel patches, whole waveform and through ``PatchStream`` in 60 s chunks);
* ``AudioEncoder.encode`` on LiteRT (the CPU default) and on Keras (CPU) for several batch sizes;
* baselines in the same process: the shipped int8 ONNX graph (batch 1, uint8 in/out) and the same graph
  with float activations, both on onnxruntime.

Each figure is the median of ``--repeat`` runs (default 3; the machine may be shared). The video-hour
line adds the front end to the model time. Needs the model in the cache (``mmvideo models fetch yamnet``).
Usage: ``python benchmarks/bench_audio_encoder.py [--quick] [--repeat N] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mmvideo.encode.audio import AudioEncoder, PatchStream  # noqa: E402
from mmvideo.encode.litert import default_threads  # noqa: E402
from mmvideo.encode.melspec import SAMPLE_RATE  # noqa: E402

PATCHES_PER_HOUR = 7500
JFK = REPO.parent / "shared" / "media" / "whisper" / "jfk.flac"


def test_audio(seconds: float) -> np.ndarray:
    """``seconds`` of real speech (tiled) plus a little noise, float32 16 kHz."""
    import librosa

    speech, _ = librosa.load(str(JFK), sr=SAMPLE_RATE, mono=True) if JFK.is_file() else (None, None)
    n = int(seconds * SAMPLE_RATE)
    rng = np.random.default_rng(0)
    base = np.resize(speech, n) if speech is not None else np.zeros(n, np.float32)
    return np.clip(base + 0.01 * rng.standard_normal(n), -1, 1).astype(np.float32)


def median_time(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up (allocation, first trace)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def line(name: str, patches: int, seconds: float, front_s_per_hour: float | None = None) -> None:
    rate = patches / seconds
    hour = PATCHES_PER_HOUR / rate
    total = f"{hour + front_s_per_hour:7.1f} s" if front_s_per_hour is not None else "      -  "
    print(f"{name:<40} {rate:9.1f} patches/s {1000 / rate:8.2f} ms/patch   model {hour:7.1f} s/video-hour"
          f"   +front end {total}   ({100 * (hour + (front_s_per_hour or 0)) / 3600:.2f}% of real time)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="60 s of audio, fewer batch sizes")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=240.0)
    args = ap.parse_args()
    seconds = 60.0 if args.quick else args.seconds
    audio = test_audio(seconds)
    patches, _ = AudioEncoder.patches(audio)
    n = len(patches)
    print(f"audio: {seconds:.0f} s -> {n} patches; CPU threads for LiteRT: {default_threads()} "
          f"(os.cpu_count() = {os.cpu_count()}); median of {args.repeat} runs")

    # front end
    t_whole = median_time(lambda: AudioEncoder.patches(audio), args.repeat)

    def streamed() -> None:
        s = PatchStream()
        step = 60 * SAMPLE_RATE
        for i in range(0, len(audio), step):
            s.push(audio[i:i + step], i / SAMPLE_RATE)
        s.finish()

    t_stream = median_time(streamed, args.repeat)
    front_hour = t_stream * 3600 / seconds
    print(f"{'front end, whole waveform':<40} {n / t_whole:9.1f} patches/s   "
          f"{t_whole * 3600 / seconds:6.2f} s/video-hour")
    print(f"{'front end, PatchStream 60 s chunks':<40} {n / t_stream:9.1f} patches/s   "
          f"{front_hour:6.2f} s/video-hour")

    # mmvideo backends
    batch_sizes = (1, 16, 64) if args.quick else (1, 8, 32, 64, 128)
    lite = AudioEncoder(backend="litert")
    for b in batch_sizes:
        lite.batch_size = b
        line(f"litert batch {b}", n, median_time(lambda: lite.encode(patches), args.repeat), front_hour)
    keras_enc = AudioEncoder(backend="keras", device="cpu")
    for b in ((64,) if args.quick else (32, 128)):
        keras_enc.batch_size = b
        line(f"keras ({keras_enc.fingerprint()['backend']}) batch {b}", n,
             median_time(lambda: keras_enc.encode(patches), args.repeat), front_hour)

    # baselines: the shipped graphs on onnxruntime
    import onnxruntime as ort

    from mmvideo.encode.yamnet import float_activation_onnx
    from mmvideo.models.store import model_path

    onnx_path = model_path("yamnet", "yamnet_w8a8.onnx")
    int8 = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    q = np.clip(np.rint(patches / 0.04793788) + 144, 0, 255).astype(np.uint8)[:, None]

    def run_int8() -> None:
        for i in range(n):
            int8.run(None, {"audio": q[i:i + 1]})

    line("baseline: onnxruntime int8 graph, batch 1", n, median_time(run_int8, args.repeat), front_hour)
    flt = ort.InferenceSession(float_activation_onnx(onnx_path), providers=["CPUExecutionProvider"])

    def run_float() -> None:
        for i in range(0, n, 64):
            flt.run(["class_scores", "embeddings"], {"audio": patches[i:i + 64, None]})

    line("baseline: onnxruntime float-act, batch 64", n, median_time(run_float, args.repeat), front_hour)


if __name__ == "__main__":
    main()
