"""Opt-in extras beside the encoders: voice activity, speech to text, on-screen text, faces.

Each module loads its model on first use (onnxruntime, faster-whisper, LiteRT), never at import, so
``import mmvideo.extras`` stays light. Model files come from the model store (``mmvideo models fetch``).
"""
