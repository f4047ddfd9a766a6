"""Subtitles -> cues: real embedded tracks and sidecars, the shared subtitle corpus, encodings, markup."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mmvideo.errors import MediaError
from mmvideo.media.ffmpeg import BASE_ARGS, ffmpeg_binary
from mmvideo.media.subtitles import (
    MAX_SUBTITLE_BYTES,
    decode_subtitle_bytes,
    find_sidecars,
    language_from_tag,
    parse_subtitle_file,
    read_subtitles,
    sidecar_language,
    strip_markup,
)
from mmvideo.records import MediaInfo, SubtitleStreamInfo, VideoStreamInfo

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "subtitles"
CORPUS_FILES = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file()) \
    if CORPUS.is_dir() else []

PYSRT = "pysrt/tests/static/"
VTTPY = "webvtt-py/tests/subtitles/"
# Known answers: cues with text for files that parse, None for files that must be refused.
EXPECTED_CUES: dict[str, int | None] = {
    "mediabunny/test.ass": 3, "mediabunny/test.srt": 3, "mediabunny/test.vtt": 3,
    "pysrt/LICENCE.txt": None, "webvtt-py/LICENSE": None,
    PYSRT + "bom-utf-8.srt": 7, PYSRT + "bom-utf-16-le.srt": 7, PYSRT + "bom-utf-16-be.srt": 7,
    PYSRT + "bom-utf-32-le.srt": 7, PYSRT + "bom-utf-32-be.srt": 7,
    PYSRT + "capability_tester.srt": 37,
    PYSRT + "empty.srt": 5,  # 7 cues, 2 with no text
    PYSRT + "invalid.srt": None,  # "00:00:01 --> 00:00:10": no milliseconds, not SRT timing
    PYSRT + "no-indexes.srt": 7,
    PYSRT + "utf-8.srt": 1332, PYSRT + "windows-1252.srt": 1332,
    VTTPY + "captions_with_bom.vtt": 4, VTTPY + "comments.vtt": 3, VTTPY + "cue_tags.vtt": 3,
    VTTPY + "empty.vtt": None, VTTPY + "no_captions.vtt": None,
    VTTPY + "invalid.vtt": 7,  # no WEBVTT header, but valid SRT-style cues: read leniently
    VTTPY + "invalid_format.sbv": None, VTTPY + "invalid_format1.srt": None,
    VTTPY + "invalid_format2.srt": None, VTTPY + "invalid_format3.srt": None,
    VTTPY + "invalid_format4.srt": None,  # a timing line with no text
    VTTPY + "invalid_timeframe.sbv": 4, VTTPY + "invalid_timeframe.srt": 5,
    VTTPY + "invalid_timeframe.vtt": 6, VTTPY + "invalid_timeframe_in_cue_text.vtt": 3,
    VTTPY + "metadata_headers.vtt": 2, VTTPY + "metadata_headers_multiline.vtt": 2,
    VTTPY + "missing_caption_text.sbv": 4, VTTPY + "missing_caption_text.srt": 4,
    VTTPY + "missing_caption_text.vtt": 4,
    VTTPY + "missing_timeframe.sbv": 4, VTTPY + "missing_timeframe.srt": 4, VTTPY + "missing_timeframe.vtt": 6,
    VTTPY + "netflix_chicas_del_cable.vtt": 865,
    VTTPY + "one_caption.srt": 1, VTTPY + "one_caption.vtt": 1,
    VTTPY + "sample.sbv": 5, VTTPY + "sample.srt": 5, VTTPY + "sample.vtt": 16, VTTPY + "styles.vtt": 1,
    VTTPY + "two_captions.sbv": 2, VTTPY + "using_identifiers.vtt": 6, VTTPY + "youtube_dl.vtt": 4,
}


def _info(path: Path, *subs: SubtitleStreamInfo, start_time: float = 0.0, fps=None) -> MediaInfo:
    video = VideoStreamInfo(index=0, codec="h264", width=64, height=64, avg_fps=fps) if fps else None
    return MediaInfo(path=str(path), container="test", duration=None, duration_source="unknown",
                     start_time=start_time, video=video, subtitles=tuple(subs))


def _times(track):
    return [(c.start, c.end) for c in track.cues]


def _texts(track):
    return [c.text for c in track.cues]


# --- markup ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, plain", [
    (r"{\i1}Hello{\i0} world", "Hello world"),
    (r"{\an8}Top\Nline two", "Top\nline two"),
    (r"hard\hspace", "hard space"),
    (r"{\p1}m 0 0 l 100 0 100 100{\p0}Sign", "Sign"),  # ASS drawing: shapes are not text
    (r"{\pos(10,20)}Positioned", "Positioned"),
    ("<i>italic</i> and <b>bold</b>", "italic and bold"),
    ('<font color="#ff0000" size=9>red</font>', "red"),
    ("<v Roger Bingham>We are in New York City", "We are in New York City"),
    ("<c.colorE5E5E5>amore</c>", "amore"),
    ("Like a <00:19.000>big-a <00:00:19.500>pizza", "Like a big-a pizza"),
    ("also: 2<3,5>1,4<6", "also: 2<3,5>1,4<6"),  # comparisons are not tags
    ("  spaced    out  \\N\\N  ", "spaced out"),
    ("{\\i1}{\\i0}", ""),
])
def test_strip_markup(raw, plain):
    assert strip_markup(raw) == plain


def test_strip_markup_entities_only_when_asked():
    assert strip_markup("Tom &amp; Jerry&nbsp;&lt;3", html_entities=True) == "Tom & Jerry <3"
    assert strip_markup("Tom &amp; Jerry") == "Tom &amp; Jerry"


# --- encodings ------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32", "utf-32-be"])
def test_decode_boms(encoding):
    text = "1\n00:00:01,000 --> 00:00:02,000\nCafé – 日本語\n"
    raw = text.encode(encoding)
    if encoding == "utf-16-be":
        raw = b"\xfe\xff" + raw
    if encoding == "utf-32-be":
        raw = b"\x00\x00\xfe\xff" + raw
    assert decode_subtitle_bytes(raw)[0] == text


def test_decode_never_crashes_on_bytes():
    text, _ = decode_subtitle_bytes(bytes(range(1, 256)) * 4)
    assert len(text) > 0
    with pytest.raises(MediaError, match="binary data"):
        decode_subtitle_bytes(b"\x00\x00\x01\xba" + bytes(200))  # a VobSub .sub starts like this


# --- the shared corpus: every file parses or is refused in one line ---------------------------------

@pytest.mark.parametrize("rel", CORPUS_FILES)
def test_corpus_file(shared_subtitles, rel):
    path = shared_subtitles / rel
    expected = EXPECTED_CUES.get(rel, "unknown")
    try:
        track = parse_subtitle_file(path)
    except MediaError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        assert expected in (None, "unknown"), f"{rel} should parse: {exc}"
        return
    assert expected is not None, f"{rel} should be refused"
    if expected != "unknown":
        assert len(track.cues) == expected
    assert track.source == f"sidecar:{path.name}"
    for cue in track.cues:
        assert cue.text and cue.text == cue.text.strip() and "<i>" not in cue.text and "{\\" not in cue.text
        assert 0 <= cue.start <= cue.end
    assert [c.start for c in track.cues] == sorted(c.start for c in track.cues)


@pytest.mark.parametrize("variant", ["bom-utf-16-le.srt", "bom-utf-16-be.srt", "bom-utf-32-le.srt",
                                     "bom-utf-32-be.srt", "no-indexes.srt"])
def test_bom_variants_match_utf8(shared_subtitles, variant):
    reference = parse_subtitle_file(shared_subtitles / PYSRT / "bom-utf-8.srt")
    track = parse_subtitle_file(shared_subtitles / PYSRT / variant)
    assert [(c.start, c.end, c.text) for c in track.cues] == [(c.start, c.end, c.text) for c in reference.cues]
    assert reference.cues[0].text == "About 2 months ago I found myself on\nthe comment section of YouTube"
    assert _times(reference)[:2] == [(6.5, 9.0), (11.0, 17.0)]


def test_windows_1252_decodes_like_utf8(shared_subtitles):
    utf8 = parse_subtitle_file(shared_subtitles / PYSRT / "utf-8.srt")
    cp1252 = parse_subtitle_file(shared_subtitles / PYSRT / "windows-1252.srt")
    assert cp1252.cues[1].text == "CE FILM RELATE DES ÉVÉNEMENTS\nQUI ONT EXISTÉ."
    assert utf8.cues[1].text == "CE FILM RELATE DES ÉVÉNEMENTS\nQUI ONT EXISTÉ."
    assert [c.text for c in cp1252.cues] == [c.text for c in utf8.cues]
    assert (utf8.cues[1].start, utf8.cues[1].end) == (27.074, 30.566)


def test_malformed_cues_warn(shared_subtitles):
    track = parse_subtitle_file(shared_subtitles / VTTPY / "missing_timeframe.srt")
    assert _texts(track) == ["Caption text #1", "Caption text #3", "Caption text #4", "Caption text #5"]
    assert len(track.warnings) == 1 and "Caption text #2" in track.warnings[0]
    track = parse_subtitle_file(shared_subtitles / VTTPY / "sample.sbv")  # last cue ends before it starts
    assert track.cues[-1].start == track.cues[-1].end == 17.484
    assert any("ends before it starts" in w for w in track.warnings)


def test_vtt_identifiers_notes_and_tags(shared_subtitles):
    ids = parse_subtitle_file(shared_subtitles / VTTPY / "using_identifiers.vtt")
    assert _texts(ids)[:2] == ["Caption text #1", "Caption text #2"] and not ids.warnings
    notes = parse_subtitle_file(shared_subtitles / VTTPY / "comments.vtt")
    assert _texts(notes)[1] == "- Har en kopp te.\n- Det smakar som te."
    assert _times(notes)[0] == (135.0, 140.0)
    tags = parse_subtitle_file(shared_subtitles / VTTPY / "cue_tags.vtt")
    assert _texts(tags) == ["When the moon hits your eye", "Like a big-a pizza pie", "That's amore"]
    yt = parse_subtitle_file(shared_subtitles / VTTPY / "youtube_dl.vtt")
    assert yt.language == "en" and yt.cues[2].text == "this will happen is I'm telling"


# --- sidecars -------------------------------------------------------------------------------------

def test_friday_sidecar(shared_media):
    video = shared_media / "mdn" / "friday.mp4"
    assert find_sidecars(video) == [shared_media / "mdn" / "friday.vtt"]
    tracks = read_subtitles(video, _info(video))
    assert len(tracks) == 1
    track = tracks[0]
    assert (track.source, track.codec, track.skipped) == ("sidecar:friday.vtt", "webvtt", None)
    assert _times(track) == [(0.0, 0.999), (1.0, 1.499), (1.5, 2.999), (3.0, 4.299), (4.3, 6.0)]
    assert _texts(track) == ["Hildy!", "How are you?", "Tell me, is the lord of the universe in?",
                             "Yes, he's in - in a bad humor", "Somebody must've stolen the crown jewels"]
    assert {c.source for c in track.cues} == {"sidecar:friday.vtt"}


def test_find_sidecars_names_and_languages(tmp_path):
    video = tmp_path / "my.clip.mp4"
    video.write_bytes(b"")
    names = ["my.clip.srt", "my.clip.en.vtt", "my.clip.pt-BR.ASS", "my.clip.eng.sdh.srt", "my.clip.forced.ssa",
             "my.clip.Sub", "my.clip.mp4.txt", "my.clip.en.mp4", "other.srt", "my.clipper.srt"]
    for n in names:
        (tmp_path / n).write_text("x")
    found = [p.name for p in find_sidecars(video)]
    assert found == sorted(["my.clip.srt", "my.clip.en.vtt", "my.clip.pt-BR.ASS", "my.clip.eng.sdh.srt",
                            "my.clip.forced.ssa", "my.clip.Sub"])
    langs = {n: sidecar_language(video, tmp_path / n) for n in found}
    assert langs == {"my.clip.srt": None, "my.clip.en.vtt": "en", "my.clip.pt-BR.ASS": "pt-BR",
                     "my.clip.eng.sdh.srt": "eng", "my.clip.forced.ssa": None, "my.clip.Sub": None}
    assert language_from_tag("zh_Hans") == "zh-Hans" and language_from_tag("english") is None


def test_non_utf8_and_broken_sidecars_next_to_a_video(tmp_path, shared_media):
    video = tmp_path / "clip.mp4"
    os.symlink(shared_media / "mdn" / "friday.mp4", video)
    srt = "1\r\n00:00:01,250 --> 00:00:02,500\r\n<i>Ça va, Hélène ?</i>\r\n\r\n2\r\n00:00:03,000 --> 00:00:04,000\r\nOùi, très bien.\r\n"
    (tmp_path / "clip.fr.srt").write_bytes(srt.encode("cp1252"))
    (tmp_path / "clip.en.vtt").write_bytes(b"WEBVTT\n\nthis is not a cue\n")
    (tmp_path / "clip.sub").write_bytes(b"\x00\x00\x01\xba" + bytes(500))  # VobSub bitmaps
    tracks = {t.source: t for t in read_subtitles(video, _info(video))}
    assert set(tracks) == {"sidecar:clip.fr.srt", "sidecar:clip.en.vtt", "sidecar:clip.sub"}
    fr = tracks["sidecar:clip.fr.srt"]
    assert (fr.language, fr.skipped) == ("fr", None)
    assert _texts(fr) == ["Ça va, Hélène ?", "Oùi, très bien."] and _times(fr) == [(1.25, 2.5), (3.0, 4.0)]
    assert {c.language for c in fr.cues} == {"fr"}
    assert tracks["sidecar:clip.en.vtt"].skipped == "no subtitle cues with text found (vtt format)"
    assert tracks["sidecar:clip.en.vtt"].language == "en"
    assert tracks["sidecar:clip.sub"].skipped == "binary data, not a text subtitle file"


def test_microdvd_sidecar_uses_video_fps(tmp_path):
    video = tmp_path / "film.mkv"
    video.write_bytes(b"")
    (tmp_path / "film.sub").write_text("{25}{50}Hello|{y:i}world\n{100}{125}Bye\n")
    with pytest.raises(MediaError, match="frame rate"):
        parse_subtitle_file(tmp_path / "film.sub")
    (track,) = read_subtitles(video, _info(video, fps=25))
    assert _times(track) == [(1.0, 2.0), (4.0, 5.0)] and _texts(track) == ["Hello\nworld", "Bye"]


def test_size_cap_is_a_clear_error(tmp_path):
    big = tmp_path / "huge.srt"
    with open(big, "wb") as f:
        f.truncate(MAX_SUBTITLE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(MediaError, match=r"huge\.srt: subtitle file is 32\.0 MiB, over the 32 MiB limit"):
        parse_subtitle_file(big)


@pytest.mark.slow
def test_ten_megabyte_file_parses(tmp_path):
    n = 180_000
    blocks = [f"{i + 1}\n{_srt_time(i)} --> {_srt_time(i, 0.5)}\nLine number {i} é\n" for i in range(n)]
    path = tmp_path / "long.srt"
    path.write_text("\n".join(blocks), encoding="cp1252")
    assert path.stat().st_size > 10_000_000
    track = parse_subtitle_file(path)
    assert len(track.cues) == n
    assert track.cues[-1].text == f"Line number {n - 1} é" and track.cues[-1].start == n - 1


def _srt_time(i: int, extra: float = 0.0) -> str:
    ms = round((i + extra) * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


# --- embedded tracks ------------------------------------------------------------------------------

def test_mkv_srt_and_ass_tracks(shared_media):
    video = shared_media / "mediabunny" / "test-mkv-multi.mkv"
    info = _info(video, SubtitleStreamInfo(2, "subrip", "eng"), SubtitleStreamInfo(3, "ass", "spa"))
    eng, spa = read_subtitles(video, info)
    assert (eng.source, eng.codec, eng.language, spa.source, spa.codec, spa.language) == \
        ("stream:2", "subrip", "eng", "stream:3", "ass", "spa")
    texts = ["Hello world!", "This is a test.", "Goodbye!"]
    assert _texts(eng) == texts and _texts(spa) == texts
    # the packets sit at 1.021 s, 5.021 s, 8.521 s (the file's 21 ms muxing offset); ASS keeps centiseconds
    assert _times(eng) == [(1.021, 3.521), (5.021, 7.021), (8.521, 10.021)]
    assert _times(spa) == [(1.02, 3.52), (5.02, 7.02), (8.52, 10.02)]
    assert {c.language for c in spa.cues} == {"spa"}


def test_mp4_mov_text_track(shared_media):
    video = shared_media / "mediabunny" / "test-mp4-tx3g.mp4"
    (track,) = read_subtitles(video, _info(video, SubtitleStreamInfo(2, "mov_text", "eng")))
    # three text samples (the empty samples between them are gaps, not cues)
    assert _texts(track) == ["Hello world!", "This is a test.", "Goodbye!"]
    assert _times(track) == [(1.0, 3.5), (5.0, 7.0), (8.5, 10.0)]


def test_pgs_track_is_skipped(shared_media):
    video = shared_media / "metadata-extractor" / "Sony ILCE-7M3 (A7M3).mts"
    info = _info(video, SubtitleStreamInfo(2, "hdmv_pgs_subtitle", None, is_text=False), start_time=1.04)
    (track,) = read_subtitles(video, info)
    assert track.skipped == "bitmap subtitles (hdmv_pgs_subtitle) cannot be read as text"
    assert track.cues == () and track.source == "stream:2"


def test_bad_stream_does_not_lose_the_others(shared_media):
    video = shared_media / "mediabunny" / "test-mkv-multi.mkv"
    info = _info(video, SubtitleStreamInfo(2, "subrip", "eng"), SubtitleStreamInfo(9, "subrip", "fre"))
    good, bad = read_subtitles(video, info)
    assert len(good.cues) == 3 and good.skipped is None
    assert bad.source == "stream:9" and bad.skipped.startswith("cannot extract subrip subtitles: ")
    corrupt = shared_media / "matroska" / "unknown_sized_non_master_element.mkv"
    (track,) = read_subtitles(corrupt, _info(corrupt, SubtitleStreamInfo(2, "subrip", None)))
    assert track.skipped and "\n" not in track.skipped


def test_container_start_time_is_subtracted(tmp_path):
    srt = tmp_path / "in.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:02,500\n<i>first</i>\n\n2\n00:00:03,000 --> 00:00:04,000\nsecond\n")
    out = tmp_path / "offset.mkv"
    subprocess.run([ffmpeg_binary(), *BASE_ARGS, "-f", "lavfi", "-i", "color=c=blue:s=32x32:d=5:r=5",
                    "-i", str(srt), "-map", "0", "-map", "1", "-c:v", "mpeg4", "-c:s", "srt",
                    "-output_ts_offset", "10", str(out)], check=True, capture_output=True)
    info = _info(out, SubtitleStreamInfo(1, "subrip", "und"), start_time=10.0)
    (track,) = read_subtitles(out, info)
    assert _times(track) == [(1.0, 2.5), (3.0, 4.0)] and _texts(track) == ["first", "second"]
    assert track.language is None  # "und" means unknown


@pytest.mark.parametrize("text, encoding", [
    ("Ça va, Hélène ? Oùi, très bien.\n", "cp1252"),
    ("Niño, ¿cómo estás? Mañana.\n", "cp1252"),
    ("Příliš žluťoučký kůň úpěl ďábelské ódy.\n" * 3, "cp1250"),
    ("Съешь же ещё этих мягких французских булок, да выпей чаю.\n" * 3, "cp1251"),
])
def test_decode_legacy_encodings(text, encoding):
    assert decode_subtitle_bytes(text.encode(encoding))[0] == text


# --- the committed sample clips (samples/, made by scripts/make_samples.py) -------------------------

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SAMPLE_NARRATION = {
    "cat.mp4": ("sidecar:cat.en.srt", "subrip", "en", ["This is a cat.", "Her name is Chelsea."]),
    "coffee.mkv": ("stream:2", "subrip", "eng", ["A cup of coffee on a wooden table."]),
    "rocket.mp4": ("stream:2", "mov_text", "eng", ["A rocket waits on the launch pad."]),
    "three_shots.mp4": ("sidecar:three_shots.en.vtt", "webvtt", "en",
                        ["An astronaut.", "Distant galaxies.", "And a cat."]),
}


@pytest.mark.parametrize("name", sorted(SAMPLE_NARRATION))
def test_sample_clip_subtitles_follow_its_narration(name):
    import av
    import numpy as np

    from mmvideo.media.probe import probe

    path = SAMPLES / name
    source, codec, language, texts = SAMPLE_NARRATION[name]
    (track,) = read_subtitles(path, probe(path))
    assert (track.source, track.codec, track.language, _texts(track)) == (source, codec, language, texts)
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        audio = np.concatenate([f.to_ndarray().mean(axis=0) for f in container.decode(stream)])
    spoken = np.zeros(audio.shape[0], bool)
    for cue in track.cues:
        spoken[int(cue.start * rate):int(cue.end * rate)] = True
    rms_in = float(np.sqrt(np.mean(audio[spoken] ** 2)))
    rms_out = float(np.sqrt(np.mean(audio[~spoken] ** 2)))
    assert rms_in > 3 * rms_out  # the narration is where the subtitles say
