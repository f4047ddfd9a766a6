"""The text modality: timed text (subtitles; speech-to-text and on-screen text as further sources) -> cues.

Sources, in order: the best subtitle track (a sidecar before an embedded one, English first); with ``speech``,
Whisper on the audio when there are no subtitles; with ``ocr``, on-screen text read every 3 s. A segment's text
is the cues overlapping it joined; its token is that text's embedding (MiniLM, the fusion space itself).
Whisper, the voice-activity model and the OCR reader are loaded once per run and kept.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from mmvideo.fuse import tokens
from mmvideo.modalities.base import (FusionContext, LoadContext, Modality, ModalityStream, concept_column,
                                     embedding_column, vector)
from mmvideo.modalities.pooling import joined_text
from mmvideo.records import Cue, ItemEvidence, MediaInfo, SubtitleTrack
from mmvideo.segment import Segment

OCR_EVERY = 3.0  # seconds between frames read for on-screen text
OCR_WIDTH = 960  # pixels: 224 px frames are too small to read


@dataclass(frozen=True)
class TextPool:
    """A segment's text and, when the caller already has it, its (D,) embedding."""

    text: str
    embedding: np.ndarray | None = None


def choose_text_track(tracks: list[SubtitleTrack]) -> list[Cue]:
    """The cues of one subtitle track: a sidecar before an embedded one, English before others."""
    usable = [t for t in tracks if t.cues and not t.skipped]
    if not usable:
        return []

    def rank(t: SubtitleTrack) -> tuple:
        lang = (t.language or "").lower()
        return (not t.source.startswith("sidecar"), lang not in ("en", "eng", "en-us", "en-gb"), t.source)

    return list(sorted(usable, key=rank)[0].cues)


class TextModality(Modality):
    """Cues from subtitles (+ speech, OCR) -> per-segment text; token: the text's embedding."""

    name = "text"
    feed = "file"
    has_concepts = True
    embedding_size = 384

    def __init__(self, config=None) -> None:
        super().__init__(config)
        self._lock = threading.Lock()
        self._whisper: Any = None
        self._vad: Any = None
        self.ocr_reader: Any = None

    def required_models(self) -> list[str]:
        names = ["all_minilm_l6_v2"]
        if self.config.speech:
            names += ["whisper_tiny_en", "silero_vad"]
        if self.config.ocr:
            names.append("ppocr_v4")
        return names

    def load(self, ctx: LoadContext) -> None:
        if self.config.ocr:
            from mmvideo.extras.ocr import TextReader

            self.ocr_reader = TextReader()

    def speech_models(self) -> tuple[Any, Any]:
        """(Whisper, Silero VAD), loaded on the first video that needs them and kept for the run."""
        with self._lock:
            if self._whisper is None:
                from mmvideo.extras.speech import load_whisper
                from mmvideo.extras.vad import SileroModel

                self._whisper = load_whisper()
                self._vad = SileroModel()
            return self._whisper, self._vad

    def start(self, path: str, info: MediaInfo) -> ModalityStream:
        return _TextStream(self, path, info)

    def pool(self, items: ItemEvidence, segments: Sequence[Segment]) -> list[TextPool]:
        return [TextPool(t) for t in joined_text(items, segments)]

    def from_fields(self, segment: Any) -> TextPool:
        return TextPool(getattr(segment, "text", "") or "", getattr(segment, "text_embedding", None))

    def tokens(self, pooled: Sequence[TextPool | None], prepared: Any, ctx: FusionContext) -> list:
        result: list[np.ndarray | None] = [None] * len(pooled)
        todo: dict[str, list[int]] = {}
        for i, p in enumerate(pooled):
            if p is None:
                continue
            if p.embedding is not None:
                result[i] = np.asarray(p.embedding, dtype=np.float32)
            elif p.text.strip():
                todo.setdefault(p.text.strip(), []).append(i)
        if todo:
            texts = list(todo)
            for text, emb in zip(texts, ctx.embed(texts)):
                for i in todo[text]:
                    result[i] = emb
        return [tokens.text_token(e) for e in result]

    def concepts(self, pooled: Sequence[TextPool | None], prepared: Any, ctx: FusionContext,
                 made: Sequence[Any] | None = None) -> list:
        """The segment text's own embedding (what the token is, at full length), None without text."""
        return list(made) if made is not None else self.tokens(pooled, prepared, ctx)

    def columns(self) -> list[tuple[str, pa.DataType]]:
        cols = [("text", pa.string()), concept_column(self.name, self.embedding_size)]
        if self.config.modality_embeddings:
            cols.append(embedding_column(self.name, self.embedding_size))
        return cols

    def row(self, pooled: TextPool | None, token: np.ndarray | None, concept: np.ndarray | None = None) -> (
            dict[str, Any]):
        out: dict[str, Any] = {"text": pooled.text if pooled is not None else "",
                               "text_concept_embedding": vector(concept)}
        if self.config.modality_embeddings:
            out["text_embedding"] = vector(token)
        return out


class _TextStream(ModalityStream):
    """Reads the file's own text sources (no shared decode): subtitles, then speech or OCR when asked."""

    def __init__(self, modality: TextModality, path: str, info: MediaInfo) -> None:
        self.m, self.path, self.info = modality, path, info
        self._warnings: list[str] = []
        self.subtitle_tracks = 0

    def push(self, chunk: Any) -> None:  # fed nothing: reads the file in finish()
        raise NotImplementedError("the text modality reads the file itself")

    def finish(self) -> ItemEvidence:
        from mmvideo.media.subtitles import read_subtitles

        tracks = read_subtitles(self.path, self.info)
        for t in tracks:
            self._warnings += list(t.warnings)
        self.subtitle_tracks = sum(1 for t in tracks if t.cues)
        cues = choose_text_track(tracks)
        cfg = self.m.config
        if cfg.speech and not cues:
            cues = self._speech()
        if cfg.ocr and self.info.video is not None:
            cues = sorted(cues + self._ocr(), key=lambda c: c.start)
        start = np.array([c.start for c in cues], dtype=np.float64)
        end = np.array([c.end for c in cues], dtype=np.float64)
        return ItemEvidence("text", start, end, texts=tuple(c.text for c in cues))

    def warnings(self) -> list[str]:
        return self._warnings

    def facts(self) -> dict[str, Any]:
        return {"subtitle_tracks": self.subtitle_tracks}

    def _speech(self) -> list[Cue]:
        from mmvideo.extras.speech import transcribe
        from mmvideo.media.audio import iter_audio

        stream = iter_audio(self.path, self.info)
        if stream is None:
            return []
        whisper, vad = self.m.speech_models()
        with stream:
            return list(transcribe(stream, whisper=whisper, vad_model=vad))

    def _ocr(self) -> list[Cue]:
        from mmvideo.extras.ocr import ocr_cues
        from mmvideo.media.frames import iter_frames

        w, h = self.info.video.display_size
        scale = min(1.0, OCR_WIDTH / max(w, 1))
        size = (max(32, int(w * scale) // 2 * 2), max(32, int(h * scale) // 2 * 2))
        with iter_frames(self.path, self.info, fps=1 / OCR_EVERY, size=size, chunk_frames=4) as stream:
            return ocr_cues(stream, every=OCR_EVERY, reader=self.m.ocr_reader)
