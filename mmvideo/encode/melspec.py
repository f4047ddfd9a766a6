"""YAMNet's log-mel front end in numpy (scipy.fft, float32): 16 kHz mono samples -> (P, 96, 64) log-mel patches.

Matches ``features.py`` / ``params.py`` of tensorflow/models ``research/audioset/yamnet``: periodic Hann
window of 400 samples (25 ms), hop 160 (10 ms), FFT length 512, magnitude spectrogram, 64 mel bands over
125-7500 Hz with ``tf.signal.linear_to_mel_weight_matrix``'s HTK mel scale (triangles in mel space, DC
bin weighted 0), ``log(mel + 0.001)``, patches of 96 frames every 48 frames. Like ``pad_waveform``, the
waveform is zero-padded to a whole number of patches: ``P = 1 + ceil((n - 15600) / 7680)`` for
``n >= 15600`` samples and 1 for ``0 < n < 15600``; patch ``i`` starts ``0.48 * i`` seconds in.
Unlike the reference, an empty waveform gives no patch (not one of silence).

:class:`PatchStream` cuts the same patches from audio that arrives in chunks.
"""

from __future__ import annotations

import functools

import numpy as np

from mmvideo.errors import ParameterError

SAMPLE_RATE = 16000
WINDOW_SAMPLES = 400  # 25 ms
HOP_SAMPLES = 160  # 10 ms
FFT_LENGTH = 512
MEL_BANDS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.001
PATCH_FRAMES = 96  # 0.96 s
PATCH_HOP_FRAMES = 48  # 0.48 s
PATCH_SECONDS = PATCH_FRAMES * HOP_SAMPLES / SAMPLE_RATE
PATCH_HOP_SECONDS = PATCH_HOP_FRAMES * HOP_SAMPLES / SAMPLE_RATE
#: waveform samples one patch reads: 95 hops plus one analysis window (0.975 s)
PATCH_SPAN_SAMPLES = (PATCH_FRAMES - 1) * HOP_SAMPLES + WINDOW_SAMPLES
PATCH_HOP_SAMPLES = PATCH_HOP_FRAMES * HOP_SAMPLES

_MEL_BREAK_HZ = 700.0
_MEL_HIGH_Q = 1127.0


def check_samples(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Validate a mono waveform: 1-D float32 ndarray at 16 kHz (``ParameterError`` otherwise)."""
    if not isinstance(samples, np.ndarray):
        raise ParameterError(f"samples must be a numpy array. Received: type={type(samples).__name__}")
    if samples.dtype != np.float32:
        raise ParameterError(f"samples must be float32 in [-1, 1]. Received: dtype={samples.dtype}")
    if samples.ndim != 1:
        raise ParameterError(f"samples must be mono, shape (n,). Received: shape={samples.shape}")
    if sample_rate != SAMPLE_RATE:
        raise ParameterError(f"YAMNet needs {SAMPLE_RATE} Hz audio. Received: sample_rate={sample_rate}")
    return samples


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return _MEL_HIGH_Q * np.log1p(hz / _MEL_BREAK_HZ)


@functools.lru_cache(maxsize=4)
def mel_weight_matrix(num_mel_bins: int = MEL_BANDS, num_spectrogram_bins: int = FFT_LENGTH // 2 + 1,
                      sample_rate: int = SAMPLE_RATE, lower_hz: float = MEL_MIN_HZ,
                      upper_hz: float = MEL_MAX_HZ) -> np.ndarray:
    """(num_spectrogram_bins, num_mel_bins) float64 weights, ``tf.signal.linear_to_mel_weight_matrix``'s
    construction (HTK mel, triangles in mel space, DC row zero); read-only, cached."""
    nyquist = sample_rate / 2.0
    freqs = np.linspace(0.0, nyquist, num_spectrogram_bins)[1:]  # the DC bin gets no weight
    bins_mel = _hz_to_mel(freqs)[:, None]
    edges = np.linspace(_hz_to_mel(np.float64(lower_hz)), _hz_to_mel(np.float64(upper_hz)), num_mel_bins + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    lower_slopes = (bins_mel - lower) / (center - lower)
    upper_slopes = (upper - bins_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(lower_slopes, upper_slopes))
    out = np.vstack([np.zeros((1, num_mel_bins)), weights])
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=1)
def _periodic_hann() -> np.ndarray:
    n = np.arange(WINDOW_SAMPLES)
    win = (0.5 - 0.5 * np.cos(2.0 * np.pi * n / WINDOW_SAMPLES)).astype(np.float32)
    win.flags.writeable = False
    return win


@functools.lru_cache(maxsize=1)
def _mel_weights_f32() -> np.ndarray:
    weights = mel_weight_matrix().astype(np.float32)
    weights.flags.writeable = False
    return weights


#: analysis frames transformed at a time: keeps the STFT's buffers in cache whatever the chunk length
_BLOCK_FRAMES = 512


def log_mel_spectrogram(samples: np.ndarray) -> np.ndarray:
    """(F, 64) float32 log-mel frames of ``samples`` ((n,) float32, 16 kHz), ``F = 1 + (n - 400) // 160``
    (0 when ``n < 400``): only whole analysis windows, no padding (the caller pads).

    Computed in float32 like the tf.signal reference (within 2e-5 of it), in blocks of frames through
    ``scipy.fft`` (single precision; numpy's FFT works in float64): ~0.9 s of CPU per audio-hour against
    ~1.8 s for float64 numpy, more with an hour's page faults when chunks are long.
    """
    import scipy.fft

    check_samples(samples)
    n_frames = 0 if samples.shape[0] < WINDOW_SAMPLES else 1 + (samples.shape[0] - WINDOW_SAMPLES) // HOP_SAMPLES
    out = np.empty((n_frames, MEL_BANDS), np.float32)
    if n_frames == 0:
        return out
    frames = np.lib.stride_tricks.sliding_window_view(samples, WINDOW_SAMPLES)[::HOP_SAMPLES][:n_frames]
    window, weights = _periodic_hann(), _mel_weights_f32()
    buffer = np.zeros((min(_BLOCK_FRAMES, n_frames), FFT_LENGTH), np.float32)  # zero tail = FFT padding
    for lo in range(0, n_frames, _BLOCK_FRAMES):
        block = frames[lo:lo + _BLOCK_FRAMES]
        m = block.shape[0]
        np.multiply(block, window, out=buffer[:m, :WINDOW_SAMPLES])
        magnitude = np.abs(scipy.fft.rfft(buffer[:m], axis=-1))  # (m, 257) float32
        np.matmul(magnitude, weights, out=out[lo:lo + m])
    out += np.float32(LOG_OFFSET)
    return np.log(out, out=out)


def num_patches(num_samples: int) -> int:
    """How many patches a waveform of ``num_samples`` samples gives (0 for an empty one)."""
    if num_samples < 0:
        raise ParameterError(f"num_samples must be >= 0. Received: num_samples={num_samples}")
    if num_samples == 0:
        return 0
    extra = max(0, num_samples - PATCH_SPAN_SAMPLES)
    return 1 + -(-extra // PATCH_HOP_SAMPLES)


def patch_times(count: int, start: float = 0.0, first: int = 0) -> np.ndarray:
    """(count, 2) float64 [start, end] seconds of patches first..first+count-1 of a waveform starting at
    ``start``: patch ``i`` spans ``start + 0.48 i`` to ``start + 0.48 i + 0.96``."""
    index = np.arange(first, first + count, dtype=np.float64)
    begin = start + index * PATCH_HOP_SAMPLES / SAMPLE_RATE
    return np.stack([begin, begin + PATCH_SECONDS], axis=1) if count else np.zeros((0, 2), np.float64)


def _frame_patches(log_mel: np.ndarray, count: int) -> np.ndarray:
    """(count, 96, 64) float32 copies of patches 0..count-1 of a (F, 64) log-mel spectrogram."""
    windows = np.lib.stride_tricks.sliding_window_view(log_mel, PATCH_FRAMES, axis=0)  # (F-95, 64, 96)
    return np.ascontiguousarray(windows[::PATCH_HOP_FRAMES][:count].transpose(0, 2, 1))


def waveform_to_patches(samples: np.ndarray) -> np.ndarray:
    """(P, 96, 64) float32 log-mel patches of a whole waveform ((n,) float32, 16 kHz), zero-padded at
    the end to ``P = num_patches(n)`` patches as YAMNet's ``pad_waveform`` does."""
    check_samples(samples)
    count = num_patches(samples.shape[0])
    if count == 0:
        return np.zeros((0, PATCH_FRAMES, MEL_BANDS), np.float32)
    needed = PATCH_SPAN_SAMPLES + (count - 1) * PATCH_HOP_SAMPLES
    padded = np.zeros(needed, np.float32)
    padded[: samples.shape[0]] = samples
    return _frame_patches(log_mel_spectrogram(padded), count)


class PatchStream:
    """Cuts YAMNet patches from consecutive chunks of one audio stream, exactly as if the whole stream
    had gone through :func:`waveform_to_patches` at once.

    Each patch reads 0.975 s and patches start every 0.48 s, so a chunk boundary usually falls inside
    a patch: ``push`` emits every patch the audio so far completes and keeps the samples from the next
    patch's start (at most 0.975 s) for the following chunk; ``finish`` zero-pads what remains into
    one last patch when some samples are not covered yet. A chunk that does not start where the
    previous one ended (a gap or overlap of more than 1 ms) ends the run (as ``finish`` would) and
    starts a new one at the chunk's time. Usage::

        stream = PatchStream()
        for chunk in audio_chunks:                      # AudioChunk(start, samples) from the media layer
            patches, times = stream.push(chunk.samples, chunk.start)
            ...                                         # encode; patches may be empty
        patches, times = stream.finish()
    """

    _GAP_TOLERANCE_S = 1e-3

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._buffer = np.zeros(0, np.float32)
        self._origin: float | None = None  # seconds of sample 0 of the current run
        self._received = 0  # samples of the current run received so far
        self._emitted = 0  # patches of the current run emitted so far

    def push(self, samples: np.ndarray, start: float) -> tuple[np.ndarray, np.ndarray]:
        """Add a chunk ((n,) float32, 16 kHz) starting at ``start`` seconds; returns the completed
        patches (P, 96, 64) float32 and their [start, end] times (P, 2) float64 (P may be 0)."""
        check_samples(samples)
        if not (isinstance(start, (int, float)) and np.isfinite(start)):
            raise ParameterError(f"start must be a finite number of seconds. Received: start={start!r}")
        out_patches: list[np.ndarray] = []
        out_times: list[np.ndarray] = []
        if self._origin is not None:
            expected = self._origin + self._received / SAMPLE_RATE
            if abs(start - expected) > self._GAP_TOLERANCE_S:
                p, t = self.finish()
                out_patches.append(p)
                out_times.append(t)
        if self._origin is None:
            self._origin = float(start)
        self._buffer = np.concatenate([self._buffer, samples]) if self._buffer.size else samples.copy()
        self._received += samples.shape[0]
        ready = 0 if self._buffer.shape[0] < PATCH_SPAN_SAMPLES else \
            1 + (self._buffer.shape[0] - PATCH_SPAN_SAMPLES) // PATCH_HOP_SAMPLES
        if ready:
            span = PATCH_SPAN_SAMPLES + (ready - 1) * PATCH_HOP_SAMPLES
            out_patches.append(_frame_patches(log_mel_spectrogram(self._buffer[:span]), ready))
            out_times.append(patch_times(ready, self._origin, self._emitted))
            self._emitted += ready
            self._buffer = self._buffer[ready * PATCH_HOP_SAMPLES:].copy()
        return _concat(out_patches, out_times)

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """Emit the zero-padded last patch if samples remain that no patch covered, and reset."""
        covered = 0 if self._emitted == 0 else PATCH_SPAN_SAMPLES + (self._emitted - 1) * PATCH_HOP_SAMPLES
        patches = np.zeros((0, PATCH_FRAMES, MEL_BANDS), np.float32)
        times = np.zeros((0, 2), np.float64)
        if self._origin is not None and self._received > covered:
            tail = np.zeros(PATCH_SPAN_SAMPLES, np.float32)
            tail[: self._buffer.shape[0]] = self._buffer
            patches = _frame_patches(log_mel_spectrogram(tail), 1)
            times = patch_times(1, self._origin, self._emitted)
        self._reset()
        return patches, times


def _concat(patches: list[np.ndarray], times: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if not patches:
        return np.zeros((0, PATCH_FRAMES, MEL_BANDS), np.float32), np.zeros((0, 2), np.float64)
    if len(patches) == 1:
        return patches[0], times[0]
    return np.concatenate(patches), np.concatenate(times)
