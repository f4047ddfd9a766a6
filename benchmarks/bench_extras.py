"""Cost of the extras on this machine, each beside a baseline run in the same process, and what each
costs a video-hour sampled at 1 fps.

- faces: BlazeFace full-range (default) vs short-range (baseline), frames/s at 224x224 and 640x360.
- VAD: our streaming Silero VAD vs faster-whisper's bundled batched Silero (baseline), audio-s per s.
- speech: Whisper tiny.en real-time factor on jfk.flac, and on a mostly silent minute with the same
  speech in it: VAD-gated (ours) vs Whisper on all the audio (baseline, what no gating costs).
- OCR: PP-OCRv4 frames/s on 640x360 and 1280x720 frames with and without text, det_side 960 (default)
  vs 640 (baseline); ``ocr_cues`` reads one frame per 3 s by default (1200 frames a video-hour).

Run: ``python benchmarks/bench_extras.py [--only faces|vad|speech|ocr] [--frames 64]``. Needs the models
(``mmvideo models fetch blazeface silero_vad whisper_tiny_en ppocr_v4``) and ../shared/media. Wall and
CPU time (all threads of this process) are printed: on a busy shared machine CPU time is the figure that
holds; run twice and keep the better.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
HOUR = 3600.0


def timed(fn: Callable[[], object], repeat: int = 1) -> tuple[float, float]:
    """(wall s, CPU s) per call of ``fn``, averaged over ``repeat`` calls after one warm-up call."""
    fn()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - wall) / repeat, (time.process_time() - cpu) / repeat


def share(seconds_per_hour: float) -> str:
    return f"{seconds_per_hour:7.1f} s per video-hour ({seconds_per_hour / HOUR:6.2%} of real time)"


def jfk_16k() -> np.ndarray:
    from mmvideo.media.audio import iter_audio
    from mmvideo.media.probe import probe

    path = MEDIA / "whisper" / "jfk.flac"
    with iter_audio(str(path), probe(path)) as chunks:
        return np.concatenate([c.samples for c in chunks])


def bench_faces(n_frames: int) -> None:
    import cv2
    import skimage.data

    from mmvideo.extras.faces import FaceDetector

    base = skimage.data.astronaut()
    print(f"\nfaces: BlazeFace on LiteRT, {n_frames} frames per figure (one face each)")
    print(f"{'variant':<7} {'input':>9} {'frames/s':>9} {'CPU ms/frame':>12}   1 fps video-hour (3600 frames)")
    for size in ((224, 224), (640, 360)):
        frames = np.stack([cv2.resize(np.roll(base, 7 * i, axis=1), size) for i in range(n_frames)])
        for variant in ("short", "full"):
            det = FaceDetector(variant)
            wall, cpu = timed(lambda: det(frames))
            rate = n_frames / wall
            print(f"{variant:<7} {size[0]:>4}x{size[1]:<4} {rate:>9.1f} {1000 * cpu / n_frames:>12.2f}   "
                  f"{share(HOUR / rate)}")


def bench_vad() -> None:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    from mmvideo.extras.vad import SileroModel, VoiceActivity

    speech = jfk_16k()
    rng = np.random.default_rng(0)
    minute = np.concatenate([speech] * 5 + [0.01 * rng.standard_normal(5 * 16000).astype(np.float32)])
    seconds = minute.shape[0] / 16000
    model = SileroModel()

    def ours() -> None:
        vad = VoiceActivity(model=model)
        for i in range(0, minute.shape[0], 60 * 16000):
            vad.push(minute[i:i + 60 * 16000])
        vad.finish()

    def baseline() -> None:
        get_speech_timestamps(minute, VadOptions(min_silence_duration_ms=100, speech_pad_ms=100))

    print(f"\nVAD on {seconds:.0f} s of speech + noise (16 kHz)")
    for name, fn in (("streaming Silero (ours)", ours), ("faster-whisper batched Silero (baseline)", baseline)):
        wall, cpu = timed(fn)
        print(f"{name:<42} {seconds / wall:7.0f} audio-s/s, {cpu / seconds * 1000:6.2f} CPU ms per audio-s   "
              f"{share(HOUR * wall / seconds)}")


def bench_speech() -> None:
    from mmvideo.extras.speech import SpeechToText, load_whisper
    from mmvideo.records import AudioChunk

    speech = jfk_16k()
    whisper = load_whisper()
    silent_minute = np.zeros(60 * 16000, np.float32)
    silent_minute[20 * 16000: 20 * 16000 + speech.shape[0]] = speech

    def gated(audio: np.ndarray) -> Callable[[], object]:
        def run() -> object:
            stt = SpeechToText()
            stt._whisper = whisper  # loaded once, outside the timing
            return stt.push(AudioChunk(0.0, audio)) + stt.finish()
        return run

    def ungated(audio: np.ndarray) -> Callable[[], object]:
        def run() -> object:
            segs, _ = whisper.transcribe(audio, language="en", beam_size=1, temperature=0.0,
                                         vad_filter=False, condition_on_previous_text=False)
            return list(segs)
        return run

    print("\nspeech to text: Whisper tiny.en int8 (CTranslate2), greedy, temperature 0")
    for clip, audio in (("jfk.flac 11 s, all speech", speech), ("60 s, 11 s of it speech", silent_minute)):
        seconds = audio.shape[0] / 16000
        for name, make in (("VAD-gated (ours)", gated), ("whole audio (baseline)", ungated)):
            wall, cpu = timed(make(audio), repeat=2)
            print(f"{clip:<26} {name:<24} RTF {wall / seconds:6.3f} (CPU {cpu / seconds:6.3f})   "
                  f"{share(HOUR * wall / seconds)}")
    print("(a video-hour costs the RTF of its speech share: all-speech hour = first line, a mostly silent"
          " one ~ the gated 60 s line)")


def bench_ocr(n_frames: int) -> None:
    import cv2

    from mmvideo.extras.ocr import TextReader

    def frames(size: tuple[int, int], text: bool) -> np.ndarray:
        out = np.full((n_frames, size[1], size[0], 3), 200, np.uint8)
        if text:
            for i, f in enumerate(out):
                s = size[0] / 640
                cv2.putText(f, f"BREAKING NEWS {i:03d}", (int(30 * s), int(80 * s)), cv2.FONT_HERSHEY_SIMPLEX,
                            1.2 * s, (0, 0, 0), max(2, int(2 * s)), cv2.LINE_AA)
                cv2.putText(f, "Live from the studio", (int(30 * s), int(300 * s)), cv2.FONT_HERSHEY_SIMPLEX,
                            0.9 * s, (255, 255, 255), max(2, int(2 * s)), cv2.LINE_AA)
        return out

    print(f"\nOCR: PP-OCRv4 det + rec on onnxruntime, {n_frames} frames per figure; ocr_cues reads every 3 s")
    print(f"{'det_side':<8} {'input':>9} {'text':>5} {'frames/s':>9} {'CPU ms/frame':>12}   "
          f"{'1200 reads (every 3 s)':<44} 3600 reads (1 fps)")
    for det_side in (640, 960):
        reader = TextReader(det_side=det_side)
        for size in ((640, 360), (1280, 720)):
            for text in (False, True):
                batch = frames(size, text)
                wall, cpu = timed(lambda: reader(batch))
                rate = n_frames / wall
                print(f"{det_side:<8} {size[0]:>4}x{size[1]:<4} {'yes' if text else 'no':>5} {rate:>9.2f} "
                      f"{1000 * cpu / n_frames:>12.1f}   {share(1200 / rate):<44} {share(3600 / rate)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["faces", "vad", "speech", "ocr"], default=None)
    parser.add_argument("--frames", type=int, default=64, help="frames per face figure (OCR uses a quarter)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs visible, {len(os.sched_getaffinity(0))} usable, "
          f"load average {os.getloadavg()[0]:.1f}")
    if args.only in (None, "faces"):
        bench_faces(args.frames)
    if args.only in (None, "vad"):
        bench_vad()
    if args.only in (None, "speech"):
        bench_speech()
    if args.only in (None, "ocr"):
        bench_ocr(max(4, args.frames // 4))
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
