"""``mmvideo demux VIDEO --out DIR``: write what the pipeline sees of one video, for inspection.

DIR gets ``frames/NNNNNN_tSECONDS.jpg`` (1-based index, presentation time) with ``frames/index.json``
(``[{"index", "timestamp", "file"}]``), ``audio.wav`` (16 kHz mono int16, streamed chunk by chunk; absent
without audio), ``cues.json`` (subtitle tracks and their cues) and ``info.json`` (``MediaInfo`` as
``mmvideo probe --json`` writes it, plus ``demux_warnings``). Everything is written into a hidden
temporary folder next to DIR and renamed at the end, so a failure leaves no half-written DIR.
Exit codes: 0 done; 1 the video could not be read (``file: cause``); 2 usage or unwritable output.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import click

from mmvideo.cli.options import setting_option
from mmvideo.config import check_setting, default
from mmvideo.errors import EXIT_OK, SetupError
from mmvideo.records import MediaInfo

AUDIO_RATE = 16000
SHARED_SETTINGS = ("fps", "frame_size", "aspect")  # RunConfig fields demux takes too


@dataclass(frozen=True)
class DemuxConfig:
    """What ``mmvideo demux`` was asked to do; fps, frame_size and aspect are checked by RunConfig's rules."""

    video: str
    out: str
    fps: float = default("fps")
    frame_size: int = default("frame_size")
    aspect: str = default("aspect")
    image_format: str = "jpg"
    overwrite: bool = False

    def __post_init__(self) -> None:
        """The settings ``mmvideo run`` shares are checked (and normalised) as RunConfig checks them."""
        for name in SHARED_SETTINGS:
            object.__setattr__(self, name, check_setting(name, getattr(self, name)))


@click.command("demux", epilog="Exit codes: 0 done; 1 the video could not be read; 2 usage or setup error.")
@click.argument("video", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="output folder")
@setting_option("fps")
@setting_option("frame_size", "--size")
@setting_option("aspect")
@click.option("--image-format", type=click.Choice(["jpg", "png"]), default="jpg", show_default=True,
              help="frame image format")
@click.option("--overwrite", is_flag=True, help="replace --out if it exists and is not empty")
@click.pass_context
def demux(ctx: click.Context, video: str, out: str, fps: float, frame_size: int, aspect: str, image_format: str,
          overwrite: bool) -> None:
    """Write the sampled frames, 16 kHz mono audio, subtitle cues and probe info of VIDEO into --out."""
    config = DemuxConfig(video=video, out=out, fps=fps, frame_size=frame_size, aspect=aspect,
                         image_format=image_format, overwrite=overwrite)
    ctx.exit(run_demux(config))


def run_demux(config: DemuxConfig) -> int:
    """Demux ``config.video`` into ``config.out`` atomically; raises MediaError / SetupError on failure."""
    from mmvideo.media.probe import probe

    out = Path(config.out).absolute()
    if out.exists() and any(out.iterdir()) and not config.overwrite:
        raise click.UsageError(f"{out} exists and is not empty (use --overwrite to replace it)")
    info = probe(config.video)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as exc:
        raise SetupError(f"{out}: cannot write the output folder: {exc.strerror or exc}") from exc
    try:
        warnings = write_demux(tmp, config, info)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for w in warnings:
        click.echo(f"{config.video}: warning: {w}", err=True)
    return EXIT_OK


def write_demux(folder: Path, config: DemuxConfig, info: MediaInfo) -> list[str]:
    """Write frames, audio, cues and info of one video into ``folder``; returns the demux warnings."""
    warnings = _write_frames(folder, config, info)
    warnings += _write_audio(folder / "audio.wav", config.video, info)
    _write_cues(folder / "cues.json", config.video, info)
    from mmvideo.cli.probe import media_info_dict

    _write_json(folder / "info.json", {**media_info_dict(info), "demux_warnings": warnings})
    return warnings


def _write_frames(folder: Path, config: DemuxConfig, info: MediaInfo) -> list[str]:
    import cv2  # noqa: PLC0415 - heavy, only for this command

    from mmvideo.media.frames import iter_frames

    frames_dir = folder / "frames"
    frames_dir.mkdir()
    index = []
    stream = iter_frames(config.video, info, fps=config.fps, size=(config.frame_size, config.frame_size),
                         aspect=config.aspect)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if config.image_format == "jpg" else []
    with stream:
        for chunk in stream:
            for t, rgb in zip(chunk.timestamps, chunk.frames):
                name = f"{len(index) + 1:06d}_t{t:.3f}.{config.image_format}"
                ok, data = cv2.imencode("." + config.image_format, rgb[:, :, ::-1], params)
                if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR picture
                    raise SetupError(f"OpenCV could not encode {config.image_format} images")
                (frames_dir / name).write_bytes(data.tobytes())
                index.append({"index": len(index) + 1, "timestamp": float(t), "file": f"frames/{name}"})
    _write_json(frames_dir / "index.json", index)
    return list(stream.warnings)


def _write_audio(wav_path: Path, video: str, info: MediaInfo) -> list[str]:
    import numpy as np

    from mmvideo.media.audio import iter_audio

    stream = iter_audio(video, info, sample_rate=AUDIO_RATE)
    if stream is None:
        return []
    with stream, wave.open(str(wav_path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(AUDIO_RATE)
        for chunk in stream:
            wav.writeframes(np.round(chunk.samples * 32767.0).astype("<i2").tobytes())
    return list(stream.warnings)


def _write_cues(path: Path, video: str, info: MediaInfo) -> None:
    from mmvideo.media.subtitles import read_subtitles

    tracks = read_subtitles(video, info)
    _write_json(path, [dataclasses.asdict(t) for t in tracks])


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _replace_dir(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``; an existing ``target`` is swapped out first and then deleted."""
    old = None
    if target.exists():
        if target.is_dir() and not any(target.iterdir()):
            target.rmdir()
        else:
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / "previous")
    try:
        os.replace(new, target)
    except OSError as exc:
        if old is not None:
            os.replace(old / "previous", target)
        raise SetupError(f"{target}: cannot move the output into place: {exc.strerror or exc}") from exc
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
