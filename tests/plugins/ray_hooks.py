"""Test hooks for the Ray engine's tests: an analyzer factory that counts model loads and kills its worker.

``HookedAnalyzers(...)`` is passed as ``run_ray(make_analyzer=...)``; each Ray actor calls it once and gets a
real ``Pipeline`` wrapped so that loading models appends the worker's pid to ``loads`` and analyzing a video
named in ``kill`` ends the worker process (``os._exit``) once it reaches the fuse stage, as long as that video
has been killed fewer times than asked (counted in ``kills``). The tests pickle this module by value, so
workers need not find it on their path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class HookedAnalyzers:
    """The factory (picklable): where to count loads and kills, and how often to kill on which file name."""

    loads: str
    kills: str
    kill: dict[str, int] = field(default_factory=dict)

    def __call__(self, config):
        from mmvideo.pipeline.analyze import Pipeline

        return _Hooked(Pipeline(config), self)


def _count(path: str, name: str) -> int:
    try:
        return Path(path).read_text().split().count(name)
    except FileNotFoundError:
        return 0


def _append(path: str, word: str) -> None:
    with open(path, "a") as fh:
        fh.write(word + "\n")
        fh.flush()
        os.fsync(fh.fileno())


class _Hooked:
    """A Pipeline with the hooks; everything else is the pipeline's own."""

    def __init__(self, pipeline, hooks: HookedAnalyzers) -> None:
        self.pipeline, self.hooks = pipeline, hooks
        self.fingerprint = pipeline.fingerprint
        self.encoder_fingerprint = pipeline.encoder_fingerprint
        self.segment_schema = pipeline.segment_schema
        self.loaded = False

    def models(self):
        if not self.loaded:
            _append(self.hooks.loads, str(os.getpid()))
            self.loaded = True
        return self.pipeline.models()

    def analyze(self, video, on_stage):
        name = os.path.basename(video.path)
        limit = self.hooks.kill.get(name, 0)

        def stage(s: str) -> None:
            if s == "fuse" and _count(self.hooks.kills, name) < limit:
                _append(self.hooks.kills, name)
                os._exit(1)  # the worker dies mid-video, after demux and the encoders
            on_stage(s)

        return self.pipeline.analyze(video, stage)
