"""Voice activity detection with Silero VAD (ONNX): where in 16 kHz mono audio someone speaks.

The model scores 512-sample windows (32 ms) one at a time, carrying an LSTM state and the last 64 samples
of context from window to window, so :class:`VoiceActivity` takes audio in chunks of any size and yields
each speech region once it can no longer change: memory stays bounded for a two-hour video. The hysteresis
(speech starts at ``threshold``, ends below ``threshold - 0.15`` for ``min_silence``) follows silero-vad's
own ``get_speech_timestamps``; padded regions that touch are merged instead of split.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mmvideo.errors import ParameterError
from mmvideo.records import AudioChunk

SAMPLE_RATE = 16000
WINDOW = 512  # samples the model scores at a time at 16 kHz
CONTEXT = 64  # samples of the previous window prepended to each window
MODEL = "silero_vad"
MODEL_FILE = "silero_vad.onnx"

Region = tuple[float, float]


def check_samples(samples: np.ndarray, what: str = "samples") -> np.ndarray:
    """``samples`` as a 1-D float32 array; ``ParameterError`` unless 1-D float audio in [-1, 1] (+ slack)."""
    arr = np.asarray(samples)
    if arr.ndim != 1:
        raise ParameterError(f"{what} must be 1-D mono audio; Received: shape={arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise ParameterError(f"{what} must be float audio in [-1, 1]; Received: dtype={arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    if arr.size and not np.isfinite(arr).all():
        raise ParameterError(f"{what} must be finite")
    return arr


class SileroModel:
    """The ONNX session plus its recurrent state: ``step(window) -> speech probability``."""

    def __init__(self, model_path: Path | str | None = None) -> None:
        import onnxruntime as ort  # heavy: only when a VAD is built

        if model_path is None:
            from mmvideo.models.store import model_path as store_path

            model_path = store_path(MODEL, MODEL_FILE)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # one tiny window per call: threads only add overhead
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_path), sess_options=opts,
                                            providers=["CPUExecutionProvider"])
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        """Forget the audio seen so far (a new, unrelated stream follows)."""
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)

    def step(self, window: np.ndarray) -> float:
        """Speech probability in [0, 1] of one (512,) float32 window that follows the previous one."""
        x = np.concatenate([self._context, window])[None, :]
        out, self._state = self.session.run(None, {"input": x, "state": self._state, "sr": self._sr})
        self._context = window[-CONTEXT:]
        return float(out[0, 0])


class VoiceActivity:
    """Streaming speech detector: :meth:`push` 16 kHz samples, get finished speech regions in seconds.

    Regions are ``(start, end)`` seconds on the caller's timeline (``start`` is the time of the first
    sample pushed), padded by ``pad`` each side, never overlapping, in order, each at most about
    ``max_speech`` long (longer speech is cut at its longest pause). Call :meth:`finish` at the end.
    """

    def __init__(self, *, start: float = 0.0, threshold: float = 0.5, min_speech: float = 0.25,
                 min_silence: float = 0.1, pad: float = 0.1, max_speech: float = 30.0,
                 model: SileroModel | None = None, model_path: Path | str | None = None) -> None:
        if not 0.0 < threshold < 1.0:
            raise ParameterError(f"threshold must be in (0, 1); Received: threshold={threshold}")
        for name, value in (("min_speech", min_speech), ("min_silence", min_silence), ("pad", pad)):
            if value < 0:
                raise ParameterError(f"{name} must be >= 0; Received: {name}={value}")
        if max_speech < 1.0:
            raise ParameterError(f"max_speech must be >= 1 s; Received: max_speech={max_speech}")
        self.model = model if model is not None else SileroModel(model_path)
        self.model.reset()
        self.origin = float(start)
        self.threshold = threshold
        self.neg_threshold = max(threshold - 0.15, 0.01)
        self._min_speech = min_speech * SAMPLE_RATE
        self._min_silence = min_silence * SAMPLE_RATE
        self._pad = int(round(pad * SAMPLE_RATE))
        self._max_speech = max_speech * SAMPLE_RATE - WINDOW - 2 * self._pad
        self._tail = np.zeros(0, dtype=np.float32)  # samples not yet scored (< one window)
        self._pos = 0  # sample index of the next window
        self._speech_start: int | None = None  # raw start of the region in progress
        self._silence_start: int | None = None  # where the current pause inside it began
        self._pauses: list[tuple[int, int]] = []  # (start, length) of pauses inside the region
        self._pending: list[int] | None = None  # last padded region, [start, end], may still merge
        self._finished = False
        self.windows = 0  # windows scored so far (one model call each)

    # ----------------------------------------------------------------------------------------- api

    def push(self, samples: np.ndarray) -> list[Region]:
        """Score (n,) float32 16 kHz samples that follow the previous ones; regions now final."""
        if self._finished:
            raise ParameterError("push() after finish(): build a new VoiceActivity for a new stream")
        samples = check_samples(samples)
        buf = np.concatenate([self._tail, samples]) if self._tail.size else samples
        n_full = buf.shape[0] // WINDOW
        out: list[list[int]] = []
        for i in range(n_full):
            window = buf[i * WINDOW:(i + 1) * WINDOW]
            self._update(self.model.step(window), out)
            self._pos += WINDOW
        self._tail = buf[n_full * WINDOW:].copy()
        self._release_pending(out)
        return [self._seconds(r) for r in out]

    def finish(self) -> list[Region]:
        """Score the last partial window (zero-padded) and close the stream; the remaining regions."""
        if self._finished:
            return []
        out: list[list[int]] = []
        total = self._pos + self._tail.shape[0]
        if self._tail.size:
            window = np.zeros(WINDOW, dtype=np.float32)
            window[: self._tail.size] = self._tail
            self._update(self.model.step(window), out)
            self._tail = np.zeros(0, dtype=np.float32)
        if self._speech_start is not None and total - self._speech_start > self._min_speech:
            self._close(self._speech_start, total, out)
        self._speech_start = None
        if self._pending is not None:
            out.append(self._pending)
            self._pending = None
        self._finished = True
        return [self._seconds([s, min(e, total)]) for s, e in out]

    @property
    def keep_from(self) -> float:
        """Earliest time (s) a region not yet returned may start at: audio before it can be dropped."""
        candidates = [self._pos - self._pad]
        if self._pending is not None:
            candidates.append(self._pending[0])
        if self._speech_start is not None:
            candidates.append(self._speech_start - self._pad)
        return self.origin + max(0, min(candidates)) / SAMPLE_RATE

    # ------------------------------------------------------------------------------------ internals

    def _seconds(self, region: list[int]) -> Region:
        return (self.origin + region[0] / SAMPLE_RATE, self.origin + region[1] / SAMPLE_RATE)

    def _update(self, prob: float, out: list[list[int]]) -> None:
        """Advance the hysteresis by one window scored ``prob`` at sample ``self._pos``."""
        self.windows += 1
        cur = self._pos
        if prob >= self.threshold and self._silence_start is not None:
            self._pauses.append((self._silence_start, cur - self._silence_start))
            self._silence_start = None
        if prob >= self.threshold and self._speech_start is None:
            self._speech_start = cur
            return
        if self._speech_start is None:
            return
        if cur - self._speech_start > self._max_speech:  # too long: cut at the longest pause
            if self._silence_start is not None:
                self._close(self._speech_start, self._silence_start, out)
                self._speech_start = None
            elif self._pauses:
                p_start, p_len = max(self._pauses, key=lambda p: p[1])
                self._close(self._speech_start, p_start, out)
                self._speech_start = p_start + p_len
            else:
                self._close(self._speech_start, cur, out)
                self._speech_start = cur
            self._silence_start = None
            self._pauses = []
            if self._speech_start is None:
                return
        if prob < self.neg_threshold:
            if self._silence_start is None:
                self._silence_start = cur
            if cur - self._silence_start >= self._min_silence:
                if self._silence_start - self._speech_start > self._min_speech:
                    self._close(self._speech_start, self._silence_start, out)
                self._speech_start = None
                self._silence_start = None
                self._pauses = []

    def _close(self, start: int, end: int, out: list[list[int]]) -> None:
        """Pad a finished raw region and merge it with the pending one when they touch."""
        region = [max(0, start - self._pad), end + self._pad]
        pending = self._pending
        if pending is not None and region[0] <= pending[1]:
            if region[1] - pending[0] <= self._max_speech + 2 * self._pad + WINDOW:
                pending[1] = region[1]
                return
            middle = (pending[1] + region[0]) // 2  # too long to merge: split the overlap
            pending[1] = middle
            region[0] = middle
        if pending is not None:
            out.append(pending)
        self._pending = region

    def _release_pending(self, out: list[list[int]]) -> None:
        """Hand out the pending region once no future region can reach back to it."""
        if self._pending is None or self._speech_start is not None:
            return
        if self._pos - self._pad > self._pending[1]:
            out.append(self._pending)
            self._pending = None


def speech_regions(samples: np.ndarray, start: float = 0.0, *, threshold: float = 0.5,
                   min_speech: float = 0.25, min_silence: float = 0.1, pad: float = 0.1,
                   max_speech: float = 30.0, model_path: Path | str | None = None) -> list[Region]:
    """Speech regions ``[(start, end), ...]`` in seconds of (n,) float32 16 kHz mono ``samples`` in [-1, 1].

    ``start`` is the time of the first sample. One-shot form of :class:`VoiceActivity`.
    """
    vad = VoiceActivity(start=start, threshold=threshold, min_speech=min_speech, min_silence=min_silence,
                        pad=pad, max_speech=max_speech, model_path=model_path)
    return vad.push(samples) + vad.finish()


def chunk_regions(chunks: Iterable[AudioChunk], **options: float) -> list[Region]:
    """Speech regions of a stream of contiguous 16 kHz :class:`AudioChunk`s (see :class:`VoiceActivity`)."""
    vad: VoiceActivity | None = None
    regions: list[Region] = []
    for chunk in chunks:
        if chunk.sample_rate != SAMPLE_RATE:
            raise ParameterError(f"audio must be {SAMPLE_RATE} Hz; Received: sample_rate={chunk.sample_rate}")
        if vad is None:
            vad = VoiceActivity(start=chunk.start, **options)
        regions += vad.push(chunk.samples)
    if vad is not None:
        regions += vad.finish()
    return regions
