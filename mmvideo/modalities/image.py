"""The image modality: MobileNetV2 (ImageNet) on the shared frame decode -> class probabilities, embeddings."""

from __future__ import annotations

import numpy as np

from mmvideo.fuse import tokens
from mmvideo.modalities.base import FusionContext, LoadContext, ModalityStream, concat_items
from mmvideo.modalities.classes import ClassifierModality
from mmvideo.records import FrameChunk, ItemEvidence, MediaInfo


class ImageModality(ClassifierModality):
    """Frames -> 1000 ImageNet probabilities and 1280-d embeddings per frame; token: ConSE over the top classes."""

    name = "image"
    feed = "frames"
    class_map = "imagenet"
    pool_by = "start"
    hold = True  # a frame stands until the next sampled one: a tail segment between keyframes keeps its picture
    input_fields = ("image_probs", "image_embedding")
    embedding_size = 1280

    def required_models(self) -> list[str]:
        return ["mobilenet_v2", "imagenet_labels"]

    def load(self, ctx: LoadContext) -> None:
        from mmvideo.encode.image import ImageEncoder, imagenet_class_names

        cfg = ctx.config
        batch = cfg.batch_size or (1 if ctx.on_cpu else 64)
        self.encoder = ImageEncoder(backend=cfg.image_backend, device=cfg.device, batch_size=batch,
                                    num_threads=ctx.threads)
        self.keep_embeddings = cfg.modality_embeddings or cfg.evidence
        self.frame_step = 1.0 / cfg.fps
        if self.class_names is None:
            self.class_names = imagenet_class_names()

    def start(self, path: str, info: MediaInfo) -> ModalityStream | None:
        return _ImageStream(self) if info.video is not None else None

    def _token(self, scores: np.ndarray, table: np.ndarray, ctx: FusionContext) -> np.ndarray | None:
        s = ctx.settings
        return tokens.image_token(scores, table, top_k=s.image_top_k, min_mass=s.image_min_mass)


class _ImageStream(ModalityStream):
    def __init__(self, modality: ImageModality) -> None:
        self.m = modality
        self.parts: list[ItemEvidence] = []

    def push(self, chunk: FrameChunk) -> None:
        out = self.m.encoder.encode(chunk.frames)
        t = np.asarray(chunk.timestamps, dtype=np.float64)
        emb = out.embeddings.astype(np.float16) if self.m.keep_embeddings else None
        self.parts.append(ItemEvidence("image", t, t + self.m.frame_step, out.scores.astype(np.float32), emb))

    def finish(self) -> ItemEvidence:
        return concat_items("image", self.parts)
