"""The Ray engine: the local engine's driver, with ``policy.process`` spread over a Ray cluster by Ray Data.

Everything around the videos (lock, state, discovery, reconcile, skip rules, summary) is the local engine's
driver (``engines/local.py``); this module only supplies its executor. Copies and files with no usable
content are settled on the driver (no model needed); every video to analyze becomes one row of
``ray.data.from_items`` (one block each), mapped by an actor pool of ``VideoWorker``s: each actor builds one
analyzer and loads its models once, then runs ``policy.process`` per video (probe, demux, encode, fuse, write
its parts), with ``num_gpus`` per actor where the cluster has GPUs. The driver streams the outcomes back and
``policy.commit``s each one, as on the local engine, so state rows follow their parts and a killed run
resumes on either engine.

Whole videos go to the actors (not demux on CPU tasks and encoders on GPU actors): a video's demuxed frames and
audio (about 9 MB a minute at 224 px and 1 fps, plus 3.8 MB of 16 kHz audio) would cross the object store
and be held whole, while the pipeline already overlaps decode and encode chunk by chunk in bounded memory; an
actor's outcome is a few kB. Decode scales with CPU actors; several actors share a GPU with
``--worker-gpus 0.25``.

Retries: a worker that dies mid-video (OOM kill, segfault) is restarted by Ray and the video's task retried
(actors have ``max_restarts``/``max_task_retries`` unlimited). Before starting a video the worker asks an
attempt ledger (one small actor per run); past ``MAX_ATTEMPTS`` starts, the video gets a failure record
(stage ``worker``) instead of killing another worker.
"""

from __future__ import annotations

import logging
import os
import pickle
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mmvideo.config import RunConfig
from mmvideo.engines.local import next_videos, run_local
from mmvideo.engines.policy import Analyzer, Outcome, commit, give_up, process
from mmvideo.errors import SetupError
from mmvideo.progress import Reporter, RunSummary
from mmvideo.write.target import is_remote

MAX_ATTEMPTS = 3
"""Starts a video gets on the cluster: a video whose worker died this many times gets a failure record."""
WORKER_MEMORY = 1.5 * 2**30
"""Memory one actor takes (its models, one video in flight; measured 1.1 GB peak for a local run)."""


def import_ray() -> Any:
    """The ``ray`` module, or ``SetupError`` (exit 2) naming the extra that installs it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise SetupError("--engine ray needs Ray: pip install 'mmvideo[ray]'") from None
    return ray


def connect(address: str | None) -> bool:
    """Connect to ``address`` (auto, ray://host:port, host:port), or reuse this process's connection, or start
    a local instance sized to this machine; returns True when this call started the connection."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    try:
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING,
                 configure_logging=True, log_to_driver=True)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        cause = " ".join(str(exc).split())[:200]
        raise SetupError(f"cannot connect to the Ray cluster at {address or 'a new local instance'} ({cause})") \
            from None
    return True


class Ledger:
    """How often each video was started on a worker (one per run, on the driver's node)."""

    def __init__(self) -> None:
        self.starts: dict[str, int] = {}

    def begin(self, key: str) -> int:
        """Count one more start of ``key``; returns the count."""
        self.starts[key] = self.starts.get(key, 0) + 1
        return self.starts[key]


class VideoWorker:
    """A Ray Data actor: one analyzer, models loaded once in ``__init__``; ``policy.process`` per video."""

    def __init__(self, config: RunConfig, out: str | os.PathLike, formats: tuple[str, ...],
                 make_analyzer: Callable[[RunConfig], Analyzer], ledger: Any, max_attempts: int) -> None:
        self.config, self.out, self.formats = config, out, formats
        self.ledger, self.max_attempts = ledger, max_attempts
        self.analyzer = make_analyzer(config)
        getattr(self.analyzer, "models", lambda: None)()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np
        import ray

        outcomes = []
        for blob in batch["video"]:
            video = pickle.loads(blob)
            starts = ray.get(self.ledger.begin.remote(video.key))
            try:
                if starts > self.max_attempts:
                    outcome: Outcome | SetupError = give_up(
                        video, self.analyzer, self.out, self.formats, "worker",
                        f"its Ray worker died {starts - 1} times while processing it")
                else:
                    outcome = process(video, self.analyzer, self.config, self.out, self.formats)
            except SetupError as exc:  # results cannot be written: the driver stops the run
                outcome = exc
            outcomes.append(pickle.dumps(outcome))
        return {"outcome": np.array(outcomes, dtype=object)}


def _sees(paths: list[str], token: str) -> list[bool]:
    """On one node: whether the marker (``paths[0]``, holding ``token``) and each other path are there."""
    seen = []
    for i, path in enumerate(paths):
        try:
            seen.append(Path(path).read_text() == token if i == 0 else os.path.exists(path))
        except OSError:
            seen.append(False)
    return seen


def check_shared(out: str | os.PathLike | None, sample_input: str | None) -> None:
    """``SetupError`` unless every alive node of the cluster sees the local output folder ``out`` (a marker
    written here; None for an object store) and ``sample_input``: on several hosts, or through ray://, they must
    be on a shared mount, at the same path."""
    ray = import_ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    token = uuid.uuid4().hex
    marker = Path(out).resolve() / ".mmvideo" / f"shared-check-{token}" if out is not None else None
    if marker is not None:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(token)
    paths = [str(marker) if marker is not None else ""] + ([os.path.abspath(sample_input)] if sample_input else [])
    try:
        probe = ray.remote(num_cpus=0)(_sees)
        refs = [(n.get("NodeManagerAddress", n["NodeID"]),
                 probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                 .remote(paths, token)) for n in nodes]
        seen = [(host, ray.get(ref, timeout=120)) for host, ref in refs]
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)
    blind = [host for host, ok in seen if marker is not None and not ok[0]]
    if blind:
        raise SetupError(f"{out}: a local output folder on a Ray cluster must be a shared mount that every node "
                         f"sees at the same path; not seen from {', '.join(blind)} (or use --out s3://... --state DIR)")
    blind = [host for host, ok in seen if len(ok) > 1 and not ok[1]]
    if blind:
        raise SetupError(f"{sample_input}: the input videos must be on a shared mount that every node sees at the "
                         f"same path; not seen from {', '.join(blind)}")


def pool_size(config: RunConfig, resources: dict[str, float]) -> tuple[int, float]:
    """(actors, GPUs per actor) for a cluster with ``resources`` (``ray.cluster_resources()``): ``--jobs`` or one
    per CPU as memory allows; where the cluster has GPUs (unless ``--device cpu``), each actor gets
    ``--worker-gpus`` of one (0: the GPUs shared evenly among the actors) and no more actors than that allows."""
    cpus = max(1, int(resources.get("CPU", 1)))
    memory = resources.get("memory")
    size = config.jobs or (min(cpus, max(1, int(memory // WORKER_MEMORY))) if memory else cpus)
    gpus = resources.get("GPU", 0.0)
    if not gpus or config.device == "cpu":
        return size, 0.0
    per = config.worker_gpus or min(1.0, gpus / size)
    return min(size, max(1, int(gpus / per + 1e-9))), per


GPU_SHARING_ENV = {"TF_FORCE_GPU_ALLOW_GROWTH": "true", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
"""Actors sharing a GPU: TensorFlow and JAX take memory as needed instead of all of it up front."""


class RayExecutor:
    """The local driver's executor for ``--engine ray`` (see the module docstring)."""

    def __init__(self, address: str | None, make_analyzer: Callable[[RunConfig], Analyzer],
                 max_attempts: int = MAX_ATTEMPTS) -> None:
        self.address = address
        self.make_analyzer = make_analyzer
        self.max_attempts = max_attempts

    def __call__(self, files: list, out: str | Path, config: RunConfig, analyzer: Analyzer, reporter: Reporter,
                 summary: RunSummary, state: Any, formats: tuple[str, ...], t0: float, settle: float,
                 jobs: int) -> None:
        todo = []
        for i, video in next_videos(files, config, analyzer, reporter, summary, state, t0, settle):
            if video.error is not None or video.duplicate_of is not None:  # a record, no analysis: done here
                reporter.video_started(video.path, i)
                commit(process(video, analyzer, config, out, formats), state, reporter, summary)
            else:
                todo.append((i, video))
        if not todo:
            return  # nothing to analyze: no cluster needed
        needed = getattr(analyzer, "models_needed", None)
        if needed is not None:  # a missing model is one line here, not an actor failing on every node
            from mmvideo.pipeline.analyze import check_models

            check_models(needed)
        started = connect(self.address)
        try:
            if self.address is not None:  # a cluster: its nodes must see the inputs (and a local --out)
                check_shared(None if is_remote(out) else out, todo[0][1].path)
            self._run(todo, out, config, analyzer, reporter, summary, state, formats, t0)
        finally:
            if started:
                import_ray().shutdown()

    def _run(self, todo: list, out, config: RunConfig, analyzer: Analyzer, reporter: Reporter,
             summary: RunSummary, state: Any, formats: tuple[str, ...], t0: float) -> None:
        ray = import_ray()
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # the reporter shows progress
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # its per-dataset INFO lines and that warning
        size, gpus = pool_size(config, ray.cluster_resources())
        ledger = ray.remote(num_cpus=0)(Ledger).remote()
        index = {video.key: i for i, video in todo}
        items = [{"video": pickle.dumps(video)} for _, video in todo]
        ds = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            VideoWorker, batch_size=1, compute=ray.data.ActorPoolStrategy(size=min(size, len(items))),
            num_cpus=1, num_gpus=gpus or None,
            runtime_env={"env_vars": GPU_SHARING_ENV} if 0 < gpus < 1 else None,
            fn_constructor_kwargs={"config": config, "out": out, "formats": tuple(formats),
                                   "make_analyzer": self.make_analyzer, "ledger": ledger,
                                   "max_attempts": self.max_attempts})
        # Ray Data gives its actors max_restarts=-1 and max_task_retries=-1: a dead worker is restarted (models
        # loaded again) and its video retried; the ledger bounds the retries of a video that keeps killing them.
        left = len(todo)
        try:
            for row in ds.iter_rows():
                outcome = pickle.loads(row["outcome"])
                if isinstance(outcome, SetupError):
                    raise outcome
                reporter.video_started(outcome.video.path, index.get(outcome.video.key, 0))
                commit(outcome, state, reporter, summary)
                left -= 1
                if left and config.max_runtime is not None and time.monotonic() - t0 > config.max_runtime:
                    summary.pending += left  # in flight: their parts may be written; the next run redoes them
                    summary.stopped_early = True
                    break
        finally:
            ray.kill(ledger)  # a connection kept open (several runs from one process) keeps no ledgers


def run_ray(inputs: Iterable[str | os.PathLike], out_dir: str | os.PathLike, config: RunConfig,
            analyzer: Analyzer, reporter: Reporter, *, make_analyzer: Callable[[RunConfig], Analyzer] | None = None,
            max_attempts: int = MAX_ATTEMPTS, **kwargs: Any) -> RunSummary:
    """``run_local`` with ``process`` on a Ray cluster (``config.address``); ``make_analyzer(config)`` builds
    each actor's analyzer (default: ``Pipeline``). Other keyword arguments: ``run_local``'s."""
    if make_analyzer is None:
        from mmvideo.pipeline.analyze import Pipeline

        make_analyzer = Pipeline
    import_ray()  # a missing extra is one line before anything is read
    executor = RayExecutor(config.address, make_analyzer, max_attempts)
    return run_local(inputs, out_dir, config, analyzer, reporter, executor=executor, **kwargs)
