"""Speech to text: Whisper (faster-whisper, CTranslate2 int8 on CPU) on the regions the VAD marks as speech.

Silence, music beds and tones cost one VAD pass and nothing more: Whisper is loaded on the first speech
region and only ever sees speech regions, so it has no silence to hallucinate text into. Each region's
segments are shifted back onto the video timeline. Audio streams in as :class:`AudioChunk`s; only the
audio of the region in progress is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from mmvideo.errors import ParameterError
from mmvideo.extras.vad import SAMPLE_RATE, Region, VoiceActivity, check_samples
from mmvideo.records import AudioChunk, Cue

DEFAULT_MODEL = "whisper_tiny_en"
SOURCE = "asr"
_GAP_TOLERANCE = 0.002  # s: chunks further apart than this start a new VAD stream
WINDOW_SAMPLES = 30 * SAMPLE_RATE  # Whisper's input window: regions are grouped up to this much audio


def load_whisper(model: str = DEFAULT_MODEL, *, cpu_threads: int = 0) -> Any:
    """A faster-whisper ``WhisperModel`` (int8, CPU) on the CTranslate2 folder of ``model`` in the store."""
    from mmvideo.models.registry import get_spec
    from mmvideo.models.store import model_dir, model_path

    spec = get_spec(model)
    for f in spec.files:  # SetupError naming the fetch command when a file is missing or corrupt
        model_path(model, f.path)
    from faster_whisper import WhisperModel  # heavy: ctranslate2, tokenizers

    return WhisperModel(str(model_dir(model)), device="cpu", compute_type="int8", cpu_threads=cpu_threads)


class SpeechToText:
    """Streaming transcriber: :meth:`push` 16 kHz chunks, get :class:`Cue`s (source "asr") per region.

    Regions are queued and joined (silence between them left out) until they fill Whisper's 30 s window,
    so short utterances share one model call. Decoding is greedy at temperature 0 by default:
    deterministic, and no temperature-fallback retries (which cost up to 6x on repetitive speech).
    ``vad_options`` go to :class:`VoiceActivity` (threshold, min_speech, min_silence, pad, max_speech).
    ``model_calls`` counts Whisper calls; ``regions`` lists every speech region the VAD found. ``whisper`` and
    ``vad_model`` (a ``SileroModel``) may be given already loaded, so a run loads each once, not per video.
    """

    def __init__(self, *, model: str = DEFAULT_MODEL, language: str = "en", beam_size: int = 1,
                 temperature: float = 0.0, cpu_threads: int = 0, vad_options: dict[str, float] | None = None,
                 vad_model_path: Path | str | None = None, whisper: Any = None, vad_model: Any = None) -> None:
        if beam_size < 1:
            raise ParameterError(f"beam_size must be >= 1; Received: beam_size={beam_size}")
        self.model_name = model
        self.language = language
        self.beam_size = beam_size
        self.temperature = temperature
        self.cpu_threads = cpu_threads
        self.vad_options = dict(vad_options or {})
        self._vad_model_path = vad_model_path
        self._vad_model = vad_model
        self._vad: VoiceActivity | None = None
        self._whisper: Any = whisper
        self._buf = np.zeros(0, dtype=np.float32)
        self._buf_start = 0.0  # time (s) of self._buf[0]
        self._next_start: float | None = None  # where the next chunk should start
        self._group: list[tuple[float, np.ndarray]] = []  # (timeline start, samples) awaiting Whisper
        self._group_samples = 0
        self.model_calls = 0
        self.regions: list[Region] = []

    @property
    def whisper(self) -> Any:
        """The Whisper model, loaded on first use."""
        if self._whisper is None:
            self._whisper = load_whisper(self.model_name, cpu_threads=self.cpu_threads)
        return self._whisper

    def push(self, chunk: AudioChunk) -> list[Cue]:
        """Take the next chunk of (n,) float32 16 kHz mono audio; cues of the regions it completed."""
        if chunk.sample_rate != SAMPLE_RATE:
            raise ParameterError(f"audio must be {SAMPLE_RATE} Hz mono; Received: sample_rate={chunk.sample_rate}")
        samples = check_samples(chunk.samples, "AudioChunk.samples")
        cues: list[Cue] = []
        if self._vad is not None and abs(chunk.start - (self._next_start or 0.0)) > _GAP_TOLERANCE:
            cues += self.finish()  # a gap or a jump: the old stream ends here
        if self._vad is None:
            if self._vad_model is None:
                from mmvideo.extras.vad import SileroModel

                self._vad_model = SileroModel(self._vad_model_path)
            self._vad = VoiceActivity(start=chunk.start, model=self._vad_model, **self.vad_options)
            self._buf = np.zeros(0, dtype=np.float32)
            self._buf_start = chunk.start
        self._buf = np.concatenate([self._buf, samples])
        self._next_start = chunk.start + samples.shape[0] / SAMPLE_RATE
        cues += self._transcribe_regions(self._vad.push(samples))
        self._trim(self._vad.keep_from)
        return cues

    def finish(self) -> list[Cue]:
        """Close the stream: cues of the last regions."""
        if self._vad is None:
            return []
        cues = self._transcribe_regions(self._vad.finish(), flush=True)
        self._vad = None
        self._buf = np.zeros(0, dtype=np.float32)
        return cues

    def _trim(self, keep_from: float) -> None:
        drop = int((keep_from - self._buf_start) * SAMPLE_RATE)
        if drop > 0:
            drop = min(drop, self._buf.shape[0])
            self._buf = self._buf[drop:]
            self._buf_start += drop / SAMPLE_RATE

    def _transcribe_regions(self, regions: list[Region], *, flush: bool = False) -> list[Cue]:
        """Queue each region's audio; run Whisper once per group of regions filling its 30 s window."""
        cues: list[Cue] = []
        for r0, r1 in regions:
            self.regions.append((r0, r1))
            i0 = max(0, int(round((r0 - self._buf_start) * SAMPLE_RATE)))
            i1 = min(self._buf.shape[0], int(round((r1 - self._buf_start) * SAMPLE_RATE)))
            if i1 - i0 < SAMPLE_RATE // 10:
                continue
            if self._group_samples and self._group_samples + (i1 - i0) > WINDOW_SAMPLES:
                cues += self._run_group()
            self._group.append((self._buf_start + i0 / SAMPLE_RATE, self._buf[i0:i1].copy()))
            self._group_samples += i1 - i0
        if flush and self._group:
            cues += self._run_group()
        return cues

    def _run_group(self) -> list[Cue]:
        """Whisper on the queued regions joined end to end; segment times mapped back to the timeline."""
        starts = np.array([t for t, _ in self._group])  # timeline start of each region
        lengths = np.array([a.shape[0] / SAMPLE_RATE for _, a in self._group])
        offsets = np.concatenate([[0.0], np.cumsum(lengths)])  # start of each region in the joined audio
        audio = np.concatenate([a for _, a in self._group])
        self._group, self._group_samples = [], 0

        def to_timeline(t: float, is_end: bool) -> float:
            side = "left" if is_end else "right"
            k = int(np.clip(np.searchsorted(offsets, t, side=side) - 1, 0, len(starts) - 1))
            return float(starts[k] + min(max(t - offsets[k], 0.0), lengths[k]))

        self.model_calls += 1
        segments, _info = self.whisper.transcribe(
            audio, language=self.language, beam_size=self.beam_size, temperature=self.temperature,
            vad_filter=False, condition_on_previous_text=False)
        cues = []
        for seg in segments:
            text = " ".join(seg.text.split())
            if not text:
                continue
            start = to_timeline(float(seg.start), False)
            end = max(to_timeline(float(seg.end), True), start)
            cues.append(Cue(start=round(start, 3), end=round(end, 3), text=text, language=self.language,
                            source=SOURCE))
        return cues


def transcribe(audio: Iterable[AudioChunk] | np.ndarray, *, model: str = DEFAULT_MODEL, language: str = "en",
               beam_size: int = 1, vad_options: dict[str, float] | None = None, whisper: Any = None,
               vad_model: Any = None) -> list[Cue]:
    """Cues (source "asr") of the speech in ``audio``: :class:`AudioChunk`s in time order, or (n,) float32
    16 kHz mono samples in [-1, 1] starting at 0 s. Silence never reaches the model. ``whisper`` / ``vad_model``:
    models already loaded (see :class:`SpeechToText`)."""
    stt = SpeechToText(model=model, language=language, beam_size=beam_size, vad_options=vad_options,
                       whisper=whisper, vad_model=vad_model)
    chunks = [AudioChunk(0.0, check_samples(audio))] if isinstance(audio, np.ndarray) else audio
    cues: list[Cue] = []
    for chunk in chunks:
        cues += stt.push(chunk)
    return cues + stt.finish()
