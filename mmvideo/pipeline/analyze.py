"""One video through every stage: probe -> demux -> encode -> segment -> aggregate -> fuse -> records.

``Pipeline`` implements the engines' ``Analyzer``: its fingerprint is known from the settings and the
registry's model versions without loading any model; models load on the first video that needs them.
Frames are encoded chunk by chunk as ffmpeg decodes them while a second thread decodes and encodes the
audio, so the two streams overlap on two cores and memory stays bounded (per-item outputs only).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mmvideo.config import RunConfig, encoder_fingerprint, run_fingerprint
from mmvideo.errors import SetupError
from mmvideo.media.probe import probe
from mmvideo.pipeline.aggregate import SegmentEvidence, VideoItems, aggregate
from mmvideo.pipeline.prefetch import Prefetch
from mmvideo.pipeline.workers import ModelWorker, Ordered
from mmvideo.records import (Analysis, Cue, MediaInfo, SegmentRecord, SubtitleTrack, TagCoverage, VideoFile,
                             VideoRecord)
from mmvideo.segment import Segment, content_scores, fixed_segments, shot_segments
from mmvideo.state import utc_now

log = logging.getLogger("mmvideo.pipeline")

PIPELINE_VERSION = "1"  # bump when this module's logic changes results (part of the fingerprint)
FACE_FPS = 0.5  # face detection rate (frames per second of video)
BASE_MODELS = ("mobilenet_v2", "imagenet_labels", "yamnet", "all_minilm_l6_v2")


def required_models(config: RunConfig) -> list[str]:
    """Registry names of the models a run with ``config`` uses."""
    names = list(BASE_MODELS)
    if config.faces:
        names.append("blazeface")
    if config.speech:
        names += ["whisper_tiny_en", "silero_vad"]
    if config.ocr:
        names.append("ppocr_v4")
    return names


def model_versions(names: list[str]) -> dict[str, str]:
    from mmvideo.models.registry import registry

    specs = registry()
    return {n: specs[n].version for n in names if n in specs}


def check_models(names: list[str]) -> None:
    """``SetupError`` (exit 2) naming the fetch command when a needed model is not in the cache."""
    from mmvideo.models.registry import registry
    from mmvideo.models.store import is_installed

    known = registry()
    missing = [n for n in names if n not in known or not is_installed(n)]
    if missing:
        raise SetupError(f"model(s) not installed: {', '.join(missing)}: run `mmvideo models fetch "
                         f"{' '.join(missing)}`")


def choose_text_track(tracks: list[SubtitleTrack]) -> list[Cue]:
    """The cues of one subtitle track: a sidecar before an embedded one, English before others."""
    usable = [t for t in tracks if t.cues and not t.skipped]
    if not usable:
        return []

    def rank(t: SubtitleTrack) -> tuple:
        lang = (t.language or "").lower()
        return (not t.source.startswith("sidecar"), lang not in ("en", "eng", "en-us", "en-gb"), t.source)

    return list(sorted(usable, key=rank)[0].cues)


def video_tag_coverage(records: list[SegmentRecord], duration: float, top: int = 10) -> tuple[TagCoverage, ...]:
    """Tags over the whole video: seconds of segments whose top-k holds them, share of the duration."""
    seconds: dict[str, float] = {}
    best: dict[str, float] = {}
    for r in records:
        for t in r.tags:
            seconds[t.label] = seconds.get(t.label, 0.0) + (r.end - r.start)
            best[t.label] = max(best.get(t.label, -1e9), t.score)
    ranked = sorted(seconds, key=lambda k: (-seconds[k], -best[k]))[:top]
    total = duration if duration and duration > 0 else sum(r.end - r.start for r in records) or 1.0
    return tuple(TagCoverage(k, seconds[k], min(1.0, seconds[k] / total), best[k]) for k in ranked)


@dataclass(frozen=True)
class Gathered:
    """One video up to fusion: what probing found, its duration and per-segment evidence."""

    info: MediaInfo
    duration: float
    evidence: list[SegmentEvidence]
    subtitle_tracks: int
    warnings: list[str]


@dataclass
class _Models:
    image: object
    audio: object
    text: object
    tagger: object
    faces: object | None = None
    speech: object | None = None
    ocr: object | None = None


@dataclass
class Pipeline:
    """The analyzer the engines call once per video."""

    config: RunConfig
    fingerprint: str = field(init=False)
    _models: _Models | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _model_workers: tuple[ModelWorker, ModelWorker] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.models_needed = required_models(self.config)
        from mmvideo.fuse.tagger import FUSION_VERSION

        versions = {**model_versions(self.models_needed), "pipeline": PIPELINE_VERSION}
        self.encoder_fingerprint = encoder_fingerprint(self.config, versions)
        self.fingerprint = run_fingerprint(self.config, self.encoder_fingerprint, {"fusion": FUSION_VERSION})

    # -- models ---------------------------------------------------------------------------------------
    def models(self) -> _Models:
        with self._lock:
            if self._models is None:
                check_models(self.models_needed)
                from mmvideo.native_stderr import native_stderr_captured

                with native_stderr_captured():  # TensorFlow's and LiteRT's start-up lines
                    self._models = self._load()
            return self._models

    def _load(self) -> _Models:
        # numpy's BLAS threads spin after each call and steal the cores from decode and LiteRT (measured:
        # a float head with `@` doubled the image encoder's CPU per frame); the pipeline's numpy is small.
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")

        from mmvideo.encode.audio import AudioEncoder
        from mmvideo.encode.image import ImageEncoder
        from mmvideo.encode.text import TextEncoder
        from mmvideo.fuse.tagger import TaggerSettings, ZeroShotTagger
        from mmvideo.fuse.vocab import default_vocabulary

        cfg = self.config
        from mmvideo.encode.image import imagenet_class_names, resolve_backend

        # Decode (ffmpeg), frames and audio already run side by side, so each LiteRT interpreter (MiniLM's
        # too) gets one thread: XNNPACK's own threads would only compete for the same two cores
        # (MobileNetV2 measured 8.3 CPU ms/image on one thread against 10.8 on two).
        on_cpu = resolve_backend(cfg.image_backend, cfg.device) != "keras"  # LiteRT: the CPU path
        threads = 1 if on_cpu else None
        batch = cfg.batch_size or (1 if on_cpu else 64)
        text = TextEncoder(device=cfg.device, num_threads=threads)
        image = ImageEncoder(backend=cfg.image_backend, device=cfg.device, batch_size=batch, num_threads=threads)
        audio = AudioEncoder(device=cfg.device, num_threads=threads)
        vocab = list(cfg.labels) if cfg.labels else default_vocabulary()
        tagger = ZeroShotTagger(text, vocab, image_classes=imagenet_class_names(),
                                audio_classes=audio.class_names, top_k=cfg.top_k,
                                settings=TaggerSettings(min_score=cfg.min_score))
        models = _Models(image=image, audio=audio, text=text, tagger=tagger)
        if cfg.faces:
            from mmvideo.extras.faces import FaceDetector

            models.faces = FaceDetector(num_threads=threads or None)
        if cfg.ocr:
            from mmvideo.extras.ocr import TextReader

            models.ocr = TextReader()
        return models

    # -- one video ------------------------------------------------------------------------------------
    def analyze(self, video: VideoFile, on_stage: Callable[[str], None]) -> Analysis:
        gathered = self.gather(video, on_stage)
        on_stage("fuse")
        records = self._fuse(video, gathered.evidence)
        info, duration = gathered.info, gathered.duration
        record = VideoRecord(
            video_id=video.content_id, path=video.path, status="done", fingerprint=self.fingerprint,
            duration=duration, container=info.container, has_video=info.video is not None,
            has_audio=bool(info.audio), subtitle_tracks=gathered.subtitle_tracks,
            segments=len(records), warnings=tuple(dict.fromkeys(gathered.warnings)),
            top_tags=video_tag_coverage(records, duration), processed_at=utc_now())
        return Analysis(video=record, segments=tuple(records))

    def gather(self, video: VideoFile, on_stage: Callable[[str], None] = lambda stage: None) -> Gathered:
        """Every stage before fusion: probe, demux, encode, segment, aggregate (also what evaluations use)."""
        cfg = self.config
        on_stage("probe")
        info = probe(video.path)
        models = self.models()
        items = VideoItems.empty()
        warnings: list[str] = list(info.warnings)

        on_stage("audio")
        audio_result: dict = {}
        stop_audio = threading.Event()
        audio_thread = threading.Thread(target=self._audio, name="mmvideo-audio", daemon=True,
                                        args=(video.path, info, models, items, audio_result, stop_audio))
        audio_thread.start()
        on_stage("frames")
        try:
            scores = self._frames(video.path, info, models, items, warnings)
        except BaseException:
            stop_audio.set()  # a failed or timed-out video must not leave its audio ffmpeg running
            raise
        audio_thread.join()
        if "error" in audio_result:
            raise audio_result["error"]
        warnings += audio_result.get("warnings", [])

        on_stage("subtitles")
        from mmvideo.media.subtitles import read_subtitles

        tracks = read_subtitles(video.path, info)
        for t in tracks:
            warnings += list(t.warnings)
        items.cues = choose_text_track(tracks)
        if cfg.speech and not items.cues:
            on_stage("speech")
            items.cues = self._speech(video.path, info)
        if cfg.ocr and info.video is not None:
            on_stage("ocr")
            items.cues = sorted(items.cues + self._ocr(video.path, info, models), key=lambda c: c.start)

        duration = self._duration(info, items)
        on_stage("segment")
        segments = self._segments(duration, items, scores)
        return Gathered(info=info, duration=duration, evidence=aggregate(items, segments),
                        subtitle_tracks=sum(1 for t in tracks if t.cues), warnings=warnings)

    def _frames(self, path: str, info: MediaInfo, models: _Models, items: VideoItems,
                warnings: list[str]) -> list[np.ndarray]:
        from mmvideo.media.frames import iter_frames

        cfg = self.config
        scores: list[np.ndarray] = []
        if info.video is None:
            return scores
        stream = iter_frames(path, info, fps=cfg.fps, size=(cfg.frame_size, cfg.frame_size), aspect=cfg.aspect,
                             chunk_frames=max(32, cfg.batch_size))
        prev = None
        seen = 0  # frames so far

        def encode(frames: np.ndarray, first: int) -> tuple:
            out = models.image.encode(frames)
            faces = self._faces(models, frames, first) if models.faces is not None else None
            return out, faces

        def collect(result: tuple) -> None:
            out, faces = result
            items.frame_probs.append(out.scores.astype(np.float32))
            if cfg.modality_embeddings:
                items.frame_embeddings.append(out.embeddings.astype(np.float16))
            if faces is not None:
                items.frame_faces.append(faces)

        queue = Ordered(self._workers()[0], collect)
        try:
            with Prefetch(stream, depth=2) as chunks:  # ffmpeg decodes ahead while the models work
                for chunk in chunks:
                    items.frame_times.append(chunk.timestamps)
                    queue.submit(encode, chunk.frames, seen)
                    seen += len(chunk)
                    if cfg.shots:
                        frames = chunk.frames if prev is None else np.concatenate([prev, chunk.frames])
                        s = content_scores(frames)
                        scores.append(s if prev is None else s[1:])
                        prev = chunk.frames[-1:]
            queue.drain()
        finally:
            queue.cancel()
        warnings += list(stream.warnings)
        return scores

    def _faces(self, models: _Models, frames: np.ndarray, first: int) -> np.ndarray:
        """(N, 2) float32 per frame: face count and best score, on every ``face_every``-th frame only
        (-1 on the frames skipped): faces change slowly, and the detector is the costliest per-frame model
        after the image encoder."""
        every = max(1, round(self.config.fps / FACE_FPS))
        out = np.full((len(frames), 2), -1.0, dtype=np.float32)
        pick = np.nonzero((np.arange(first, first + len(frames)) % every) == 0)[0]
        if len(pick):
            from mmvideo.extras.faces import face_summary

            counts, best = face_summary(models.faces(frames[pick]))
            out[pick, 0], out[pick, 1] = counts, best
        return out

    def _audio(self, path: str, info: MediaInfo, models: _Models, items: VideoItems, result: dict,
               stop: threading.Event) -> None:
        """Audio thread: read chunks from ffmpeg; front end and YAMNet run in order on the audio model worker."""
        from mmvideo.encode.melspec import PatchStream
        from mmvideo.media.audio import iter_audio

        patcher = PatchStream()

        def encode(samples: np.ndarray | None, start: float) -> tuple:
            patches, times = patcher.finish() if samples is None else patcher.push(samples, start)
            return (models.audio.encode(patches) if len(patches) else None), times

        def collect(result: tuple) -> None:
            out, times = result
            if out is None:
                return
            items.patch_times.append(times)
            items.patch_scores.append(out.scores.astype(np.float32))
            if self.config.modality_embeddings:
                items.patch_embeddings.append(out.embeddings.astype(np.float16))

        queue = Ordered(self._workers()[1], collect)
        try:
            stream = iter_audio(path, info)
            if stream is None:
                return
            with stream:
                for chunk in stream:
                    if stop.is_set():
                        return
                    queue.submit(encode, chunk.samples, chunk.start)
                queue.submit(encode, None, 0.0)
                queue.drain()
            result["warnings"] = list(stream.warnings)
        except BaseException as exc:  # re-raised in the calling thread
            result["error"] = exc
        finally:
            queue.cancel()

    def _workers(self) -> tuple[ModelWorker, ModelWorker]:
        """The (image, audio) model threads, started once and kept for the pipeline's life."""
        with self._lock:
            if self._model_workers is None:
                self._model_workers = (ModelWorker("image"), ModelWorker("audio"))
            return self._model_workers

    def _speech(self, path: str, info: MediaInfo) -> list[Cue]:
        from mmvideo.extras.speech import transcribe
        from mmvideo.media.audio import iter_audio

        stream = iter_audio(path, info)
        if stream is None:
            return []
        with stream:
            return list(transcribe(stream))

    def _ocr(self, path: str, info: MediaInfo, models: _Models) -> list[Cue]:
        """On-screen text read every 3 s from frames at up to 960 px wide (224 px is too small to read)."""
        from mmvideo.extras.ocr import ocr_cues
        from mmvideo.media.frames import iter_frames

        w, h = info.video.display_size
        scale = min(1.0, 960 / max(w, 1))
        size = (max(32, int(w * scale) // 2 * 2), max(32, int(h * scale) // 2 * 2))
        with iter_frames(path, info, fps=1 / 3, size=size, chunk_frames=4) as stream:
            return ocr_cues(stream, every=3.0, reader=models.ocr)

    def _duration(self, info: MediaInfo, items: VideoItems) -> float:
        """The container's duration, else the end of the last frame or audio patch seen."""
        if info.duration:
            return float(info.duration)
        ends = [0.0]
        nonempty = [t for t in items.frame_times if len(t)]
        if nonempty:
            ends.append(float(nonempty[-1][-1]) + 1.0 / self.config.fps)
        nonempty = [t for t in items.patch_times if len(t)]
        if nonempty:
            ends.append(float(nonempty[-1][-1, 1]))
        return max(ends)

    def _segments(self, duration: float, items: VideoItems, scores: list[np.ndarray]) -> list[Segment]:
        cfg = self.config
        if cfg.shots and items.frame_times:
            return shot_segments(np.concatenate(items.frame_times), np.concatenate(scores), duration,
                                 max_length=max(cfg.segment, 1.0) * 2)
        return fixed_segments(duration, cfg.segment)

    def _fuse(self, video: VideoFile, evidence: list[SegmentEvidence]) -> list[SegmentRecord]:
        models = self.models()
        fused = models.tagger.tag(evidence)
        out = []
        for ev, f in zip(evidence, fused):
            mod_emb = None
            if self.config.modality_embeddings:
                mod_emb = {"image": ev.image_embedding, "audio": ev.audio_embedding, "text": f.text_embedding}
            out.append(SegmentRecord(
                video_id=video.content_id, path=video.path, segment=ev.segment.index, start=ev.segment.start,
                end=ev.segment.end, tags=tuple(f.tags), embedding=f.embedding, modalities=tuple(f.modalities),
                text=ev.text, image_classes=tuple(f.image_classes), audio_classes=tuple(f.audio_classes),
                faces=ev.faces, face_confidence=ev.face_confidence, fingerprint=self.fingerprint,
                modality_embeddings=mod_emb))
        return out
