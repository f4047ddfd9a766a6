"""One video through every stage: probe -> demux -> encode -> segment -> aggregate -> fuse -> records.

``Pipeline`` implements the engines' ``Analyzer``. It names no modality: it loops over the registered, enabled
ones (``mmvideo.modalities``). Modalities fed frames share one decode, those fed audio one 16 kHz decode, and
the rest read the file themselves (subtitles). Frames are encoded chunk by chunk as ffmpeg decodes them while a
second thread decodes and encodes the audio, so the two streams overlap on two cores and memory stays bounded
(per-item outputs only). ``encode`` gives a video's ``VideoEvidence``; ``fuse_evidence`` turns evidence into
rows, for a run and for ``mmvideo fuse`` alike. Both fingerprints are known without loading any model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from mmvideo.config import RunConfig, encoder_fingerprint, run_fingerprint
from mmvideo.errors import SetupError
from mmvideo.media.probe import probe
from mmvideo.pipeline.aggregate import SegmentEvidence, aggregate
from mmvideo.pipeline.prefetch import Prefetch
from mmvideo.pipeline.workers import ModelWorker, Ordered
from mmvideo.records import (Analysis, ItemEvidence, MediaInfo, SegmentRecord, TagCoverage, VideoEvidence, VideoFile,
                             VideoRecord)
from mmvideo.segment import Segment, content_scores, fixed_segments, shot_segments
from mmvideo.state import utc_now

log = logging.getLogger("mmvideo.pipeline")

PIPELINE_VERSION = "1"  # bump when this module's logic changes results (part of the encoder fingerprint)
FUSION_MODELS = ("all_minilm_l6_v2",)  # fusion's own space: the text encoder


def required_models(modalities: list[Any]) -> list[str]:
    """Registry names of the models a run with these (enabled) modalities uses, fusion's included."""
    names = list(FUSION_MODELS)
    for m in modalities:
        names += [n for n in m.required_models() if n not in names]
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
    """One video up to fusion: what probing found, its duration, its evidence and per-segment pooled evidence."""

    info: MediaInfo
    duration: float
    evidence: list[SegmentEvidence]
    items: VideoEvidence
    subtitle_tracks: int
    warnings: list[str]


@dataclass
class Pipeline:
    """The analyzer the engines call once per video (thread-safe model loading; one video per call)."""

    config: RunConfig
    fingerprint: str = field(init=False)
    encoder_fingerprint: str = field(init=False)
    _tagger: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    # Several videos may be analyzed at once (``--jobs``): model calls go through the per-feed worker threads,
    # and the calls that share the text encoder (file-fed modalities, fusion) take turns.
    _text_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _workers: dict[str, ModelWorker] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        from mmvideo.fuse.tagger import FUSION_VERSION
        from mmvideo.modalities import available, check_disabled
        from mmvideo.write.schema import segment_schema

        check_disabled(self.config.disable)
        self.modalities = [cls(self.config) for cls in available().values()]  # registered: the schema
        self.active = [m for m in self.modalities if type(m).enabled(self.config)]  # what this run computes
        self.models_needed = required_models(self.active)
        versions = {**model_versions(self.models_needed), "pipeline": PIPELINE_VERSION,
                    **{f"modality:{m.name}": m.version for m in self.active}}
        self.encoder_fingerprint = encoder_fingerprint(self.config, versions)
        self.head = None
        if self.config.head:  # a trained head (mmvideo.train): refused unless made on evidence like this run's
            from mmvideo.train.head import read_head

            self.head = read_head(self.config.head)
            self.head.check_encoder(self.encoder_fingerprint, self.config.settings("encoder"), "this run")
        self.fingerprint = run_fingerprint(self.config, self.encoder_fingerprint,
                                           {"fusion": FUSION_VERSION, **({"head": self.head.hash} if self.head else {})})
        columns = [c for m in self.modalities for c in m.columns()] + (self.head.columns() if self.head else [])
        self.segment_schema = segment_schema([m.name for m in self.modalities if m.fuses], columns)

    # -- models ---------------------------------------------------------------------------------------
    def models(self) -> Any:
        """Load every enabled modality's models and the tagger (once); returns the tagger."""
        self._encoders()
        return self._tagger

    def _encoders(self) -> None:
        """Load the enabled modalities' models and the tagger (once).

        Not in the background: building the tagger imports Keras (TensorFlow, JAX) with fd 2 captured, and a
        capture while videos run would swallow the run's own log lines (measured: a failed file's line lost)."""
        with self._lock:
            if self._tagger is not None:
                return
            check_models(self.models_needed)
            from mmvideo.native_stderr import native_stderr_captured

            with native_stderr_captured():  # TensorFlow's and LiteRT's start-up lines
                ctx = self._load()
                self._tagger = self._build_tagger(ctx)

    def _build_tagger(self, ctx: Any) -> Any:
        from mmvideo.fuse.tagger import TaggerSettings, ZeroShotTagger
        from mmvideo.fuse.vocab import default_vocabulary

        cfg = self.config
        vocab = list(cfg.labels) if cfg.labels else default_vocabulary()
        with ctx.text_encoder.stored_lists():  # the vocabulary's and class names' vectors: once per machine
            tagger = ZeroShotTagger(ctx.text_encoder, vocab, modalities=self.modalities, top_k=cfg.top_k,
                                    settings=TaggerSettings(min_score=cfg.min_score))
        if self.head is None:
            return tagger
        from mmvideo.train.tagger import HeadTagger  # the head's tags; zero-shot's embedding and columns

        text = ctx.text_encoder
        return HeadTagger(self.head, tagger, lambda texts: text.encode(list(texts)).embeddings, top_k=cfg.top_k)

    def _load(self) -> Any:
        # numpy's BLAS threads spin after each call and steal the cores from decode and LiteRT (measured:
        # a float head with `@` doubled the image encoder's CPU per frame); the pipeline's numpy is small.
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")
        from mmvideo.encode.image import resolve_backend
        from mmvideo.encode.text import TextEncoder
        from mmvideo.modalities.base import LoadContext

        cfg = self.config
        # Decode (ffmpeg), frames and audio already run side by side, so each LiteRT interpreter (MiniLM's
        # too) gets one thread: XNNPACK's own threads would only compete for the same two cores
        # (MobileNetV2 measured 8.3 CPU ms/image on one thread against 10.8 on two).
        on_cpu = resolve_backend(cfg.image_backend, cfg.device) != "keras"  # LiteRT: the CPU path
        threads = 1 if on_cpu else None
        text = TextEncoder(device=cfg.device, num_threads=threads)
        ctx = LoadContext(config=cfg, text_encoder=text, threads=threads, on_cpu=on_cpu)
        for m in self.active:
            m.load(ctx)
        return ctx

    def _worker(self, feed: str) -> ModelWorker:
        """The model thread of one feed ("frames", "audio"), started once and kept for the pipeline's life."""
        with self._lock:
            if feed not in self._workers:
                self._workers[feed] = ModelWorker(feed)
            return self._workers[feed]

    # -- one video ------------------------------------------------------------------------------------
    def analyze(self, video: VideoFile, on_stage: Callable[[str], None]) -> Analysis:
        """Every stage for one video; the evidence travels with the result when the run keeps it."""
        evidence = self.encode(video, on_stage)
        on_stage("fuse")
        analysis = self.fuse_evidence(evidence)
        return replace(analysis, evidence=evidence if self.config.evidence else None)

    def gather(self, video: VideoFile, on_stage: Callable[[str], None] = lambda stage: None) -> Gathered:
        """Every stage before fusion, pooled per segment (what evaluations use)."""
        ev, info = self._encode(video, on_stage)
        return Gathered(info=info, duration=ev.info["duration"], evidence=self.pool(ev), items=ev,
                        subtitle_tracks=ev.info["subtitle_tracks"], warnings=list(ev.info["warnings"]))

    def pool(self, evidence: VideoEvidence) -> list[SegmentEvidence]:
        """The evidence's items pooled per segment by each enabled modality."""
        segments = [Segment(i, s, e) for i, (s, e) in enumerate(evidence.segments)]
        return aggregate(self.active, {it.modality: it for it in evidence.items}, segments)

    def fuse_evidence(self, evidence: VideoEvidence) -> Analysis:
        """Rows of one video from its evidence alone (no decoding): pool, fuse, records."""
        tagger = self.models()
        pooled = self.pool(evidence)
        with self._text_lock:
            fused = tagger.tag(pooled, evidence) if self.head else tagger.tag(pooled)
        records = [SegmentRecord(video_id=evidence.video_id, path=evidence.path, segment=ev.segment.index,
                                 start=ev.segment.start, end=ev.segment.end, tags=tuple(f.tags), embedding=f.embedding,
                                 modalities=tuple(f.modalities), fingerprint=self.fingerprint, columns=f.columns)
                   for ev, f in zip(pooled, fused)]
        info = evidence.info
        duration = info.get("duration") or 0.0
        record = VideoRecord(
            video_id=evidence.video_id, path=evidence.path, status="done", fingerprint=self.fingerprint,
            duration=duration, container=info.get("container"), has_video=bool(info.get("has_video")),
            has_audio=bool(info.get("has_audio")), subtitle_tracks=int(info.get("subtitle_tracks") or 0),
            segments=len(records), warnings=tuple(dict.fromkeys(info.get("warnings") or ())),
            top_tags=video_tag_coverage(records, duration), processed_at=utc_now(),
            frame_rate=info.get("frame_rate"), sampling=info.get("sampling"))
        return Analysis(video=record, segments=tuple(records))

    def encode(self, video: VideoFile, on_stage: Callable[[str], None] = lambda stage: None) -> VideoEvidence:
        """Probe, decode once per feed, run every enabled modality, segment: the video's evidence."""
        return self._encode(video, on_stage)[0]

    def _encode(self, video: VideoFile, on_stage: Callable[[str], None]) -> tuple[VideoEvidence, MediaInfo]:
        cfg = self.config
        on_stage("probe")
        info = probe(video.path)
        self._encoders()
        streams = [(m, s) for m in self.active if (s := m.start(video.path, info)) is not None]
        by_feed = {feed: [(m, s) for m, s in streams if m.feed == feed] for feed in ("frames", "audio", "file")}
        items: dict[str, ItemEvidence] = {}
        warnings: list[str] = list(info.warnings)

        on_stage("audio")
        audio_result: dict = {}
        stop_audio = threading.Event()
        audio_thread = threading.Thread(target=self._audio, name="mmvideo-audio", daemon=True,
                                        args=(video.path, info, by_feed["audio"], audio_result, stop_audio))
        audio_thread.start()
        on_stage("frames")
        try:
            frame_times, scores, sampling = self._frames(video.path, info, by_feed["frames"], items, warnings)
        except BaseException:
            stop_audio.set()  # a failed or timed-out video must not leave its audio ffmpeg running
            raise
        audio_thread.join()
        if "error" in audio_result:
            raise audio_result["error"]
        warnings += audio_result.get("warnings", [])
        items.update(audio_result.get("items", {}))

        facts: dict[str, Any] = {"subtitle_tracks": 0}
        for m, s in by_feed["file"]:
            on_stage(m.name)
            with self._text_lock:
                items[m.name] = s.finish()
            warnings += s.warnings()
            facts.update(s.facts())

        duration = self._duration(info, frame_times, items)
        on_stage("segment")
        segments = self._segments(duration, frame_times, scores)
        rate = info.video.avg_fps if info.video is not None else None
        facts = {"duration": duration, "container": info.container, "has_video": info.video is not None,
                 "has_audio": bool(info.audio), "warnings": warnings, "frame_rate": float(rate) if rate else None,
                 "sampling": sampling, **facts}
        evidence = VideoEvidence(video_id=video.content_id, path=video.path,
                                 encoder_fingerprint=self.encoder_fingerprint,
                                 segments=tuple((s.start, s.end) for s in segments),
                                 items=tuple(items[m.name] for m in self.active if m.name in items),
                                 info={**facts, "settings": cfg.settings("encoder")})
        return evidence, info

    def _frames(self, path: str, info: MediaInfo, streams: list, items: dict[str, ItemEvidence],
                warnings: list[str]) -> tuple[list[np.ndarray], list[np.ndarray], str | None]:
        """One frame decode feeding every frame modality (on the frames worker); frame times, shot scores and
        the sampling used ("keyframes" or "fps"; None without frames)."""
        from mmvideo.media.frames import iter_frames
        from mmvideo.media.keyframes import plan_sampling

        cfg = self.config
        times: list[np.ndarray] = []
        scores: list[np.ndarray] = []
        if info.video is None or not (streams or cfg.shots):
            return times, scores, None
        plan = plan_sampling(path, info, cfg.sample, cfg.segment, cfg.fps)
        log.debug("%s: sampling %s (%s)", path, plan.mode, plan.reason)
        stream = iter_frames(path, info, fps=cfg.fps, size=(cfg.frame_size, cfg.frame_size), aspect=cfg.aspect,
                             chunk_frames=max(32, cfg.batch_size), keyframes=plan.mode == "keyframes")
        prev = None

        def push(chunk) -> None:
            for _, s in streams:
                s.push(chunk)

        worker = self._worker("frames")
        queue = Ordered(worker, lambda result: None)
        try:
            with Prefetch(stream, depth=2) as chunks:  # ffmpeg decodes ahead while the models work
                for chunk in chunks:
                    times.append(chunk.timestamps)
                    queue.submit(push, chunk)
                    if cfg.shots:
                        frames = chunk.frames if prev is None else np.concatenate([prev, chunk.frames])
                        s = content_scores(frames)
                        scores.append(s if prev is None else s[1:])
                        prev = chunk.frames[-1:]
            queue.drain()
        finally:
            queue.cancel()
        for m, s in streams:
            items[m.name] = worker.submit(s.finish).result()
            warnings += s.warnings()
        warnings += list(stream.warnings)
        sampled = "fps" if any("skip_frame nokey" in w for w in stream.warnings) else plan.mode
        return times, scores, sampled

    def _audio(self, path: str, info: MediaInfo, streams: list, result: dict, stop: threading.Event) -> None:
        """Audio thread: read chunks from ffmpeg; the audio modalities run in order on the audio worker."""
        from mmvideo.media.audio import iter_audio

        if not streams:
            return

        def push(chunk) -> None:
            for _, s in streams:
                s.push(chunk)

        worker = self._worker("audio")
        queue = Ordered(worker, lambda r: None)
        try:
            stream = iter_audio(path, info)
            if stream is None:
                return
            with stream:
                for chunk in stream:
                    if stop.is_set():
                        return
                    queue.submit(push, chunk)
                queue.drain()
                result["items"] = {m.name: worker.submit(s.finish).result() for m, s in streams}
            result["warnings"] = list(stream.warnings) + [w for _, s in streams for w in s.warnings()]
        except BaseException as exc:  # re-raised in the calling thread
            result["error"] = exc
        finally:
            queue.cancel()

    def _duration(self, info: MediaInfo, frame_times: list[np.ndarray], items: dict[str, ItemEvidence]) -> float:
        """The container's duration, else the end of the last frame or audio item seen."""
        if info.duration:
            return float(info.duration)
        ends = [0.0]
        nonempty = [t for t in frame_times if len(t)]
        if nonempty:
            ends.append(float(nonempty[-1][-1]) + 1.0 / self.config.fps)
        for m in self.active:
            it = items.get(m.name)
            if m.feed == "audio" and it is not None and len(it):
                ends.append(float(it.end[-1]))
        return max(ends)

    def _segments(self, duration: float, frame_times: list[np.ndarray], scores: list[np.ndarray]) -> list[Segment]:
        cfg = self.config
        if cfg.shots and frame_times:
            return shot_segments(np.concatenate(frame_times), np.concatenate(scores), duration,
                                 max_length=max(cfg.segment, 1.0) * 2)
        return fixed_segments(duration, cfg.segment)
