#!/usr/bin/env python3
"""Zero-shot tagging on real clips: the tags each segment gets, and how many are right, per fusion setting.

Encodes each clip once (frames at 1 fps squashed to 224x224, YAMNet patches, BlazeFace, sidecar subtitles,
fixed segments), caches the per-segment evidence, then runs ``ZeroShotTagger`` with several settings on the
same evidence, including a re-creation of the first prototype (class-name embeddings, raw cosine, temperature
0.1, no faces, no silence drop), so the figures sit beside a baseline measured in the same process.

The expected tags per clip were written from ``../shared/media/MANIFEST.md`` before looking at any output.
A segment's top-1 is right when it is among the clip's expected tags; p@5 is the share of its (at most five)
returned tags that are; "untagged" counts segments with evidence but no tag above ``min_score``. Clip tags:
the five with the highest summed score over the clip's segments. Usage: ``python scripts/eval_zero_shot.py [--segment 2] [--cache DIR] [--show]``.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media"

CLIPS: dict[str, set[str]] = {
    "mdn/friday.mp4": {"person", "people", "face", "speech", "conversation", "office"},
    "mdn/flower.webm": {"flower", "plant", "nature", "garden"},
    "mdn/stream-of-water.webm": {"creek", "water", "river", "nature", "forest", "rock", "waterfall"},
    "mdn/stream-of-water-audioless.webm": {"creek", "water", "river", "nature", "forest", "rock", "waterfall"},
    "moviepy/fire2.mp4": {"fire", "smoke", "dog", "pet", "animal", "bathroom", "water", "house"},
    "whisper/jfk.flac": {"speech", "person", "crowd", "applause"},
}
# Held out: never used to choose settings; the narrated stills of samples/ (see samples/README.md). Strict:
# "person" only where someone is on screen.
HELDOUT: dict[str, set[str]] = {
    "samples/cat.mp4": {"cat", "pet", "animal", "speech"},
    "samples/coffee.mkv": {"coffee", "drink", "furniture", "speech", "music"},
    "samples/rocket.mp4": {"sky", "vehicle", "speech", "smoke"},
    "samples/three_shots.mp4": {"person", "face", "clothing", "sky", "cat", "pet", "animal", "speech"},
}


# Text queries for the fused embeddings (search): the clip a query should find first.
QUERIES: dict[str, str] = {
    "two people talking in an office": "mdn/friday.mp4",
    "a flower opening": "mdn/flower.webm",
    "water running in a creek": "mdn/stream-of-water.webm",
    "a fire burning in a wood stove": "moviepy/fire2.mp4",
    "a man giving a speech": "whisper/jfk.flac",
    "a cat": "samples/cat.mp4",
    "a cup of coffee": "samples/coffee.mkv",
    "a rocket on the launch pad": "samples/rocket.mp4",
    "an astronaut": "samples/three_shots.mp4",
}


def evidence_of(path: Path, segment: float) -> list:
    """Per-segment evidence of one clip, from the pipeline itself (``Pipeline.gather``)."""
    from mmvideo.discover import discover

    return _pipeline(segment).gather(next(iter(discover([path])))).evidence


_PIPELINES: dict = {}


def _pipeline(segment: float | None = None):
    """The default pipeline with ``segment``-second windows (one per run: its models load once)."""
    from mmvideo.config import RunConfig
    from mmvideo.pipeline.analyze import Pipeline

    if not _PIPELINES:
        _PIPELINES["run"] = Pipeline(RunConfig(segment=segment or RunConfig().segment))
    return _PIPELINES["run"]


def _models() -> dict:
    tagger = _pipeline().models()
    return {**{m.name: m for m in tagger.modalities}, "text_encoder": tagger._encoder}


def settings_variants():
    from mmvideo.fuse.tagger import TaggerSettings

    default = TaggerSettings()
    prototype = TaggerSettings(use_maps=False, normalize="none", min_spread=0.0, temperature=0.1, min_score=-10.0,
                               face_min_conf=1.0, audio_drop=frozenset(), audio_min_score=0.0, image_min_mass=0.0,
                               audio_top_k=10)
    return {
        "prototype": prototype,
        "prototype+faces": replace(prototype, face_min_conf=0.5),
        "names+peak+drop": TaggerSettings(use_maps=False),  # every fix but the curated maps
        "default": default,
        "default, no faces": replace(default, face_min_conf=1.0),
        "default, min_score=0": replace(default, min_score=0.0),
        "default, min_score=0.1": replace(default, min_score=0.1),
        "default, min_score=0.3": replace(default, min_score=0.3),
        "default, zscore": replace(default, normalize="zscore", temperature=1.0),
        "default, T=0.1": replace(default, temperature=0.1),
        "default, T=0.5": replace(default, temperature=0.5),
        "default, audio>=0.1": replace(default, audio_min_score=0.1),
        "default, audio>=0.3": replace(default, audio_min_score=0.3),
        "default, image k=5": replace(default, image_top_k=5),
        "default, image k=20": replace(default, image_top_k=20),
        "default, map_mix=0.7": replace(default, map_mix=0.7),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segment", type=float, default=2.0)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/mmvideo-eval-cache"))
    parser.add_argument("--show", action="append", default=[], help="print every segment for this setting")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    evidence = {}
    for clip in list(CLIPS) + list(HELDOUT):
        cached = args.cache / f"{clip.replace('/', '_')}.{args.segment:g}s.pkl"
        if cached.exists():
            evidence[clip] = pickle.loads(cached.read_bytes())
        else:
            path = REPO / clip if clip.startswith("samples/") else MEDIA / clip
            evidence[clip] = evidence_of(path, args.segment)
            cached.write_bytes(pickle.dumps(evidence[clip]))
    audio_names = _audio_names()
    text = _text_encoder()
    for title, clips in (("tuning clips (../shared/media)", CLIPS), ("held-out clips (samples/)", HELDOUT)):
        segments = sum(len(evidence[c]) for c in clips)
        print(f"\n{title}: {len(clips)} clips, {segments} segments of {args.segment:g} s")
        report(clips, evidence, text, audio_names, args.show)
    search_report(evidence, text, audio_names)
    return 0


def search_report(evidence: dict, text, audio_names) -> None:
    """Rank every segment of every clip by cosine of a query's text embedding to its fused embedding."""
    from mmvideo.encode.image import imagenet_class_names
    from mmvideo.fuse.tagger import ZeroShotTagger
    from mmvideo.fuse.vocab import default_vocabulary
    from mmvideo.modalities import builtin

    variants = settings_variants()
    for name in ("prototype", "default"):
        settings = variants[name]
        tagger = ZeroShotTagger(text, default_vocabulary(), settings=settings,
                                modalities=builtin(image_classes=imagenet_class_names(), audio_classes=audio_names))
        rows = [(clip, f.embedding) for clip, evs in evidence.items() for f in tagger.tag(evs) if f.modalities]
        matrix = np.stack([e for _, e in rows])  # (S, D)
        queries = list(QUERIES)
        q = text.encode(queries).embeddings  # (Q, D)
        hits, ranks = 0, []
        for i, query in enumerate(queries):
            order = np.argsort(-(matrix @ q[i]))
            clips = [rows[j][0] for j in order]
            hits += clips[0] == QUERIES[query]
            ranks.append(clips.index(QUERIES[query]) + 1)
        print(f"search with {name} fused embeddings: {hits}/{len(queries)} queries find their clip first; "
              f"first-hit ranks {ranks}")


def report(clips: dict[str, set[str]], evidence: dict, text, audio_names, show: list[str]) -> None:
    from mmvideo.encode.image import imagenet_class_names
    from mmvideo.fuse.tagger import ZeroShotTagger
    from mmvideo.fuse.vocab import default_vocabulary
    from mmvideo.modalities import builtin

    print(f"{'setting':<22} {'seg top1':>8} {'seg p@5':>8} {'tags/seg':>8} {'untagged':>8} {'clip top1':>9} "
          f"{'clip p@5':>8} {'clip hit@5':>10}")
    for name, settings in settings_variants().items():
        tagger = ZeroShotTagger(text, default_vocabulary(), settings=settings,
                                modalities=builtin(image_classes=imagenet_class_names(), audio_classes=audio_names))
        seg_top1, seg_p5, seg_n, untagged, clip_top1, clip_p5, clip_hit = [], [], [], 0, [], [], []
        for clip, expected in clips.items():
            fused = tagger.tag(evidence[clip])
            totals: dict[str, float] = {}
            for ev, f in zip(evidence[clip], fused):
                labels = [t.label for t in f.tags]
                if labels:
                    seg_top1.append(labels[0] in expected)
                    seg_p5.append(float(np.mean([t in expected for t in labels[:5]])))
                    seg_n.append(len(labels[:5]))
                elif f.modalities:
                    untagged += 1
                for t in f.tags:
                    totals[t.label] = totals.get(t.label, 0.0) + t.score
                if name in show:
                    print(f"  {clip} {ev.segment.start:5.1f}-{ev.segment.end:5.1f} {f.modalities} "
                          f"{[(t.label, round(t.score, 2)) for t in f.tags]} "
                          f"img={[c['name'] for c in f.columns['image_classes']]} "
                          f"aud={[(c['name'], round(c['score'], 2)) for c in f.columns['audio_classes']]} "
                          f"faces={f.columns['face_confidence']}")
            ranked = sorted(totals, key=lambda k: -totals[k])[:5]
            if name in show:
                print(f"  {clip}: clip tags {ranked}")
            clip_top1.append(bool(ranked) and ranked[0] in expected)
            clip_p5.append(float(np.mean([t in expected for t in ranked])) if ranked else 0.0)
            clip_hit.append(any(t in expected for t in ranked))
        print(f"{name:<22} {np.mean(seg_top1):8.2f} {np.mean(seg_p5):8.2f} {np.mean(seg_n):8.1f} {untagged:8d} "
              f"{np.mean(clip_top1):9.2f} {np.mean(clip_p5):8.2f} {sum(clip_hit):>6}/{len(clip_hit)}")


def _audio_names():
    return _models()["audio"].class_names


def _text_encoder():
    return _models()["text_encoder"]


if __name__ == "__main__":
    sys.exit(main())
