"""Stream a video's audio as 16 kHz mono float32 chunks on the frames' timeline.

One ffmpeg process: the first audio stream, downmixed and resampled by one ``aresample``
(``async=1`` pads gaps and trims overlaps, ``first_pts=0``), written as raw f32le to stdout and read a
chunk at a time (bounded memory). ``-copyts`` keeps the file's own timestamps and ``asetpts=PTS-S/TB``
moves the presentation start S (``MediaInfo.start_time``) to 0, so sample n lies at n / sample_rate
seconds from the start of the presentation, the same origin ``iter_frames`` uses: audio that starts
after the video is preceded by silence. (``first_pts`` alone cannot do the shift: it counts samples at
the decoder's input rate, not the output rate.)
"""

from __future__ import annotations

import math
import os
from collections.abc import Generator

import ffmpeg
import numpy as np

from mmvideo.errors import ParameterError
from mmvideo.media.ffmpeg import input_url
from mmvideo.media.pipe import FfmpegPipe, MediaStream
from mmvideo.media.stream_end import finish_stream
from mmvideo.records import AudioChunk, MediaInfo

_BYTES_PER_SAMPLE = 4  # f32le mono


def _check_args(sample_rate: int, chunk_seconds: float) -> int:
    if not isinstance(sample_rate, int) or not 1000 <= sample_rate <= 384_000:
        raise ParameterError("sample_rate must be an int in [1000, 384000]. "
                             f"Received: sample_rate={sample_rate!r}")
    if not (isinstance(chunk_seconds, (int, float)) and math.isfinite(chunk_seconds) and chunk_seconds > 0):
        raise ParameterError("chunk_seconds must be a finite number > 0. "
                             f"Received: chunk_seconds={chunk_seconds!r}")
    return max(1, round(chunk_seconds * sample_rate))


def audio_args(path: os.PathLike | str, info: MediaInfo, *, sample_rate: int = 16000) -> list[str]:
    """ffmpeg arguments (after the binary and global log options) that write the first audio stream
    of ``path`` (as ``info`` lists it) to stdout as mono f32le at ``sample_rate``, sample 0 at the
    presentation start."""
    _check_args(sample_rate, 1.0)
    if not info.audio:
        raise ParameterError(f"{os.fspath(path)}: no audio stream")
    start = float(info.start_time or 0.0)
    stream = ffmpeg.input(input_url(path))[str(info.audio[0].index)]
    if start:
        # aresample's first_pts counts input samples, whose rate the decoder decides: shift to 0 first
        stream = stream.filter("asetpts", f"PTS-({start!r})/TB")
    stream = stream.filter("aresample", osr=sample_rate, ochl="mono", osf="flt", first_pts=0,
                           **{"async": 1})
    out = stream.output("pipe:", format="f32le", acodec="pcm_f32le", ac=1, ar=sample_rate,
                        vn=None, sn=None, dn=None)
    return ["-copyts", *out.compile(cmd="ffmpeg")[1:]]


def iter_audio(path: os.PathLike | str, info: MediaInfo, *, sample_rate: int = 16000,
               chunk_seconds: float = 60.0) -> MediaStream[AudioChunk] | None:
    """The first audio stream as mono float32 chunks, or None when ``info`` lists no audio.

    Each ``AudioChunk``: ``samples`` (N,) float32 in [-1, 1], ``start`` seconds from the presentation
    start; chunks are contiguous (a chunk starts where the previous ended), all but the last hold
    ``round(chunk_seconds * sample_rate)`` samples. Decode problems become ``.warnings`` of the stream;
    a file ffmpeg cannot read raises ``FfmpegError``. Closing the stream early stops ffmpeg.
    """
    per_chunk = _check_args(sample_rate, chunk_seconds)
    if not info.audio:
        return None
    path = os.fspath(path)
    args = audio_args(path, info, sample_rate=sample_rate)

    def run(warnings: list[str]) -> Generator[AudioChunk, None, None]:
        pipe = FfmpegPipe(args, path)
        done = 0  # samples yielded so far
        try:
            while True:
                buf = np.empty(per_chunk, np.float32)
                got = pipe.read_exact(memoryview(buf).cast("B"))
                n = got // _BYTES_PER_SAMPLE
                if n:
                    samples = buf if n == per_chunk else buf[:n].copy()
                    np.clip(samples, -1.0, 1.0, out=samples)
                    yield AudioChunk(start=done / sample_rate, samples=samples, sample_rate=sample_rate)
                    done += n
                if got < buf.nbytes:
                    break
            rc = pipe.wait()
        finally:
            pipe.close()
        finish_stream(pipe, rc, warnings, path, produced=f"{done / sample_rate:.3f} s of audio" if done else None,
                      damaged="audio decode errors, some audio may be silent")

    return MediaStream(run)
