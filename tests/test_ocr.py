"""PP-OCRv4: text drawn on frames is found where it was drawn and read back; no text, no lines.

The known answers avoid the letter O: OpenCV's Hershey fonts draw it as a narrow oval that PP-OCRv4 reads
as the digit 0 (RapidOCR's own pipeline on the same models reads it the same way).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from mmvideo.errors import ParameterError
from mmvideo.extras.ocr import TextLine, TextReader, ctc_greedy, ocr_cues, read_text, reading_order
from mmvideo.models import store
from mmvideo.records import FrameChunk

FONT = cv2.FONT_HERSHEY_SIMPLEX


def squash(text: str) -> str:
    return "".join(text.split()).upper()


def draw(image: np.ndarray, text: str, x: int, y: int, scale: float, colour=(0, 0, 0)) -> tuple[float, ...]:
    """Draw ``text`` with its baseline at (x, y); the box (x0, y0, x1, y1) in [0, 1] of the pixels it inked."""
    before = image.copy()
    cv2.putText(image, text, (x, y), FONT, scale, colour, max(2, int(scale * 2)), cv2.LINE_AA)
    ys, xs = np.nonzero((image != before).any(axis=2))
    H, W = image.shape[:2]
    return (xs.min() / W, ys.min() / H, (xs.max() + 1) / W, (ys.max() + 1) / H)


def white(w: int, h: int) -> np.ndarray:
    return np.full((h, w, 3), 255, np.uint8)


@pytest.fixture(scope="module")
def reader() -> TextReader:
    results = store.fetch(["ppocr_v4"])
    assert all(r.ok for r in results), [r.error for r in results]
    return TextReader()


def overlaps(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy / ((b[2] - b[0]) * (b[3] - b[1]))


@pytest.mark.parametrize("size,scale", [((1280, 720), 2.5), ((640, 360), 1.3)])
def test_large_clear_text_is_read_where_it_was_drawn(reader, size, scale):
    frame = white(*size)
    truth = draw(frame, "BREAKING NEWS 2024", size[0] // 16, size[1] // 2, scale)
    (lines,) = reader(frame[None])
    assert len(lines) == 1
    line = lines[0]
    assert isinstance(line, TextLine) and line.score > 0.8
    assert squash(line.text) == "BREAKINGNEWS2024"
    assert overlaps(line.box, truth) > 0.95  # the box covers the drawn text...
    area = (line.box[2] - line.box[0]) * (line.box[3] - line.box[1])
    assert area < 1.5 * (truth[2] - truth[0]) * (truth[3] - truth[1])  # ...and not much more


def test_lines_come_in_reading_order(reader):
    frame = white(960, 540)
    draw(frame, "Exit 42", 560, 420, 1.6, (30, 30, 200))
    draw(frame, "SALE 50%", 60, 150, 2.0)
    draw(frame, "Main Street", 60, 420, 1.6)
    (lines,) = reader(frame[None])
    assert [squash(t.text) for t in lines] == ["SALE50%", "MAINSTREET", "EXIT42"]


def test_subtitle_over_a_photo_is_read(reader):
    frame = cv2.resize(skimage.data.astronaut(), (640, 360))
    cv2.rectangle(frame, (30, 300), (610, 350), (0, 0, 0), -1)  # a caption band, as broadcasters draw it
    draw(frame, "The crew is ready", 50, 338, 1.1, (255, 255, 255))
    texts = [squash(t.text) for t in reader(frame[None])[0]]
    assert "THECREWISREADY" in texts


@pytest.mark.parametrize("name", ["chelsea", "coffee"])
def test_no_text_no_lines(reader, name):
    assert reader(getattr(skimage.data, name)()[None]) == [[]]
    assert reader(np.zeros((2, 180, 320, 3), np.uint8)) == [[], []]


def test_read_text_batches_frames(reader):
    frames = np.stack([white(640, 360), white(640, 360)])
    draw(frames[1], "EXIT 42", 100, 200, 2.0)
    result = read_text(frames)
    assert len(result) == 2 and result[0] == []
    assert [squash(t.text) for t in result[1]] == ["EXIT42"]


def test_ocr_cues_follow_text_on_and_off_screen(reader):
    # 8 frames at 1 fps starting at 100 s: text A for 4 s, nothing for 2 s, text B for 2 s; read every 2 s
    frames = np.stack([white(480, 270) for _ in range(8)])
    for i in range(4):
        draw(frames[i], "BREAKING NEWS", 30, 150, 1.4)
    for i in (6, 7):
        draw(frames[i], "EXIT 42", 30, 150, 1.4)
    chunks = [FrameChunk(np.arange(100.0, 104.0), frames[:4]), FrameChunk(np.arange(104.0, 108.0), frames[4:])]
    cues = ocr_cues(chunks, every=2.0, reader=reader)
    assert [(c.start, c.end, squash(c.text)) for c in cues] == [
        (100.0, 104.0, "BREAKINGNEWS"), (106.0, 108.0, "EXIT42")]
    assert all(c.source == "ocr" for c in cues)


class FakeReader:
    """Returns scripted lines per call, to check cue logic without the model."""

    def __init__(self, script: list[list[str]]) -> None:
        self.script = list(script)
        self.calls = 0

    def __call__(self, frames: np.ndarray) -> list[list[TextLine]]:
        self.calls += 1
        texts = self.script.pop(0)
        return [[TextLine(t, 0.9, (0.1, 0.1 * i, 0.5, 0.1 * i + 0.05)) for i, t in enumerate(texts)]]


def test_ocr_cues_merge_same_readings_and_sample_every():
    frames = np.zeros((12, 8, 8, 3), np.uint8)
    chunk = FrameChunk(np.arange(12.0) * 0.5, frames)  # 2 fps, 0.0 .. 5.5 s
    fake = FakeReader([["Score 3-1", "Live"], ["SCORE  3-1", "live"], ["Score 3-2", "Live"], ["Live"]])
    cues = ocr_cues([chunk], every=1.5, reader=fake)
    assert fake.calls == 4  # frames at 0.0, 1.5, 3.0, 4.5
    # case and spacing do not make a new cue; one changed character does; the last ends a frame after 5.5 s
    assert [(c.start, c.end, c.text) for c in cues] == [
        (0.0, 3.0, "Score 3-1\nLive"), (3.0, 4.5, "Score 3-2\nLive"), (4.5, 6.0, "Live")]


def test_ocr_cues_read_every_frame_sampled_at_one_per_bin():
    # iter_frames at fps=1/3 gives the first frame of each 3 s bin [3k, 3k + 3): here a 29.97 fps video
    # whose first frame is at 0.04 s, so the gaps are not all 3 s (3.003 - 0.04 < 3)
    times = np.array([0.04, 3.003, 6.006, 9.009, 12.012])
    fake = FakeReader([["A"], ["A"], ["B"], [], ["C"]])
    cues = ocr_cues([FrameChunk(times, np.zeros((5, 8, 8, 3), np.uint8))], every=3.0, reader=fake)
    assert fake.calls == 5
    assert [(c.start, c.end, c.text) for c in cues] == [
        (0.04, 6.006, "A"), (6.006, 9.009, "B"), (12.012, 12.012 + 3.003, "C")]


def test_helpers_with_known_answers():
    charset = ["<blank>", "a", "b", " "]
    probs = np.zeros((1, 7, 4), np.float32)
    for t, k in enumerate([1, 1, 0, 1, 2, 2, 0]):  # a a _ a b b _  ->  "aab"
        probs[0, t, k] = 1.0
    assert ctc_greedy(probs, charset) == [("aab", 1.0)]
    right = TextLine("right", 0.9, (0.6, 0.50, 0.9, 0.60))
    left = TextLine("left", 0.9, (0.1, 0.52, 0.4, 0.62))
    top = TextLine("top", 0.9, (0.5, 0.10, 0.9, 0.20))
    assert [t.text for t in reading_order([right, left, top])] == ["top", "left", "right"]


def test_bad_input_is_a_parameter_error(reader):
    with pytest.raises(ParameterError, match="uint8"):
        reader(np.zeros((1, 64, 64, 3), np.float32))
    with pytest.raises(ParameterError, match="every"):
        ocr_cues([], every=0)
    with pytest.raises(ParameterError, match="det_side"):
        TextReader(det_side=100)
