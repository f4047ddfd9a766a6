"""The audio modality: YAMNet (AudioSet) on the shared 16 kHz decode -> scores and embeddings per 0.96 s patch."""

from __future__ import annotations

import numpy as np

from mmvideo.fuse import tokens
from mmvideo.modalities.base import FusionContext, LoadContext, ModalityStream, concat_items
from mmvideo.modalities.classes import ClassifierModality
from mmvideo.records import AudioChunk, ItemEvidence, MediaInfo


class AudioModality(ClassifierModality):
    """Audio -> 521 AudioSet scores and 1024-d embeddings per patch; token: ConSE over confident classes."""

    name = "audio"
    feed = "audio"
    class_map = "audioset"
    pool_by = "centre"
    input_fields = ("audio_scores", "audio_embedding")
    embedding_size = 1024

    def required_models(self) -> list[str]:
        return ["yamnet"]

    def load(self, ctx: LoadContext) -> None:
        from mmvideo.encode.audio import AudioEncoder

        self.encoder = AudioEncoder(device=ctx.config.device, num_threads=ctx.threads)
        self.keep_embeddings = ctx.config.modality_embeddings or ctx.config.evidence
        if self.class_names is None:
            self.class_names = self.encoder.class_names

    def start(self, path: str, info: MediaInfo) -> ModalityStream | None:
        return _AudioStream(self) if info.audio else None

    def drop(self, ctx: FusionContext) -> frozenset[str]:
        return frozenset(ctx.settings.audio_drop)

    def support_classes(self, scores: np.ndarray, ctx: FusionContext) -> np.ndarray:
        """Classes at or above ``audio_min_score`` (those that may make the token), dropped ones excluded."""
        return np.nonzero(scores >= max(ctx.settings.audio_min_score, 1e-8))[0]

    def concept_min_score(self, ctx: FusionContext) -> float:
        return ctx.settings.audio_concept_min

    def _token(self, scores: np.ndarray, table: np.ndarray, ctx: FusionContext) -> np.ndarray | None:
        s = ctx.settings
        return tokens.audio_token(scores, table, self.class_names, drop=s.audio_drop, top_k=s.audio_top_k,
                                  min_score=s.audio_min_score, background=s.audio_background,
                                  background_weight=s.background_weight)


class _AudioStream(ModalityStream):
    """Front end (log-mel patches) and YAMNet, in order, chunk by chunk."""

    def __init__(self, modality: AudioModality) -> None:
        from mmvideo.encode.melspec import PatchStream

        self.m = modality
        self.patcher = PatchStream()
        self.parts: list[ItemEvidence] = []

    def push(self, chunk: AudioChunk) -> None:
        self._encode(*self.patcher.push(chunk.samples, chunk.start))

    def finish(self) -> ItemEvidence:
        self._encode(*self.patcher.finish())
        return concat_items("audio", self.parts)

    def _encode(self, patches: np.ndarray, times: np.ndarray) -> None:
        if not len(patches):
            return
        out = self.m.encoder.encode(patches)
        emb = out.embeddings.astype(np.float16) if self.m.keep_embeddings else None
        times = np.asarray(times, dtype=np.float64)
        self.parts.append(ItemEvidence("audio", times[:, 0], times[:, 1], out.scores.astype(np.float32), emb))
