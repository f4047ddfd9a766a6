"""Text encoder: strings in, 384-d unit sentence vectors out (all-MiniLM-L6-v2, Keras port, real weights).

Texts are tokenised with the model's ``tokenizer.json`` (lower-cased BERT word pieces), truncated to 256 word
pieces counting [CLS] and [SEP] (sentence-transformers' ``max_seq_length`` for this model), sorted by length
and run in buckets padded only to their own longest text, so short texts do not pay for long ones. Padding
is masked out of attention and pooling, so a text's vector does not depend on what else is in the batch.
Repeated strings (tag names, labels) come from an LRU cache; inside ``stored_lists()`` the vectors of long
lists (a vocabulary, a classifier's class names: the same at every start-up) are also kept on disk beside
the model's conversions, so a run's start-up embeds them once per machine, not once per run.

On a CPU the model runs as a float32 LiteRT conversion of the Keras model (converted once, cached beside
the weights, dynamic batch and length): within 3e-7 of Keras and ~1.8x faster over a video-hour of segment
texts (no graph tracing per new batch shape); Keras runs it on a GPU.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmvideo.encode.base import Encoder, EncoderOutput
from mmvideo.encode.devices import litert_or_keras
from mmvideo.errors import ParameterError, SetupError

MODEL_NAME = "all_minilm_l6_v2"
EMBEDDING_SIZE = 384
#: files of the model this encoder reads (all pinned in mmvideo/models/catalog/text.py)
MODEL_FILES = ("model.safetensors", "tokenizer.json", "config.json", "sentence_bert_config.json")
TFLITE_FILE = "all_minilm_l6_v2.tflite"
_PAD_MULTIPLE = 8  # bucket lengths are rounded up to this: fewer distinct shapes to trace, little waste
#: (batch_size, max_batch_tokens) defaults per device kind. On a 2-core CPU a sweep of single shapes ran
#: fastest at ~512-1024 padded tokens per call (2x the tokens/s of 4096+); on the mixed corpus of
#: benchmarks/bench_text_encoder.py budgets 512 and 2048 were within run-to-run noise. A GPU wants big batches.
_BATCH_DEFAULTS = {"cpu": (64, 512), "gpu": (256, 16384)}
#: inside ``stored_lists()``, calls with at least this many texts are kept on disk (a vocabulary, class names)
STORED_LIST_MIN = 64

log = logging.getLogger("mmvideo.encode.text")


def length_buckets(lengths: Sequence[int], batch_size: int, max_batch_tokens: int) -> list[np.ndarray]:
    """Group item indices into batches of similar length: sorted by length, at most ``batch_size`` items
    and (once padded to the batch's longest) at most ``max_batch_tokens`` tokens per batch.

    lengths: token counts >= 1. Returns index arrays (int64) covering every index exactly once.
    """
    if batch_size < 1 or max_batch_tokens < 1:
        raise ParameterError(f"batch_size and max_batch_tokens must be >= 1. Received: "
                             f"batch_size={batch_size}, max_batch_tokens={max_batch_tokens}")
    order = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable")[::-1]  # longest first
    batches: list[np.ndarray] = []
    start = 0
    while start < len(order):
        longest = max(int(lengths[order[start]]), 1)
        size = max(1, min(batch_size, max_batch_tokens // longest))
        batches.append(order[start:start + size])
        start += size
    return batches


class TextEncoder(Encoder):
    """all-MiniLM-L6-v2 sentence embeddings: ``encode(texts) -> EncoderOutput(embeddings (N, 384) float32)``.

    Each row has unit L2 norm; cosine similarity is a dot product. An empty (or whitespace-only) string is
    encoded as "[CLS] [SEP]", which gives one fixed unit vector (what sentence-transformers gives for ""),
    not zeros; callers that want "no text" to count as missing should skip blank strings themselves.
    """

    model_name = MODEL_NAME
    modality = "text"
    embedding_size = EMBEDDING_SIZE

    def __init__(self, model_dir: Path | str | None = None, *, device: str = "auto", backend: str = "auto",
                 batch_size: int | None = None, max_batch_tokens: int | None = None,
                 cache_size: int = 4096, num_threads: int | None = None) -> None:
        """Load the tokenizer and the model (LiteRT: ~0.5 s once converted; Keras: a few seconds).

        model_dir: a folder with ``MODEL_FILES`` (conversions go to its ``derived/``); default: the verified
        files in the mmvideo model cache (``SetupError`` naming ``mmvideo models fetch all_minilm_l6_v2``
        when absent). device: "auto", "cpu" or "gpu". backend: "litert" (CPU), "keras" (any Keras backend,
        CPU or GPU) or "auto" (keras on a GPU when one is asked for or seen, else litert). batch_size,
        max_batch_tokens: bounds on one model call, texts and padded tokens (default: 64 and 512 on a CPU,
        256 and 16384 on a GPU). cache_size: how many distinct strings' vectors to keep (0 disables the
        cache). num_threads: LiteRT threads (default: the CPUs this process may use).
        """
        for name, value in (("batch_size", batch_size), ("max_batch_tokens", max_batch_tokens)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ParameterError(f"{name} must be an int >= 1. Received: {name}={value!r}")
        if not isinstance(cache_size, int) or cache_size < 0:
            raise ParameterError(f"cache_size must be an int >= 0. Received: cache_size={cache_size!r}")
        self.backend, self.device = litert_or_keras(backend, device)
        default_batch, default_tokens = _BATCH_DEFAULTS["gpu" if "gpu" in self.device.lower() else "cpu"]
        self.batch_size = batch_size or default_batch
        self.max_batch_tokens = max_batch_tokens or default_tokens
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.cache_hits = 0
        self.cache_misses = 0
        self._stored_min: int | None = None  # set inside stored_lists()

        from mmvideo.models.store import model_files

        # each file is hashed once per machine and then trusted by its stat (models/store.py: verified.json)
        files, self._derived = model_files(MODEL_NAME, MODEL_FILES, model_dir)
        self._files = files
        from tokenizers import Tokenizer

        from mmvideo.encode.bert_config import BertConfig

        self.config = BertConfig.from_json(files["config.json"])
        try:
            st_config = json.loads(files["sentence_bert_config.json"].read_text(encoding="utf-8"))
            self.max_length = min(int(st_config["max_seq_length"]), self.config.max_positions)
            self.tokenizer = Tokenizer.from_file(str(files["tokenizer.json"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SetupError(f"model {MODEL_NAME!r}: unreadable tokenizer or config ({exc})") from exc
        except Exception as exc:  # noqa: BLE001 - tokenizers raises its own Exception subclass
            raise SetupError(f"model {MODEL_NAME!r}: unreadable tokenizer.json ({exc})") from exc
        self.tokenizer.no_padding()  # we pad per length bucket
        self.tokenizer.enable_truncation(self.max_length)  # counts [CLS] and [SEP], as transformers does
        self._pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        self.model: Any = None  # the Keras model (backend "keras", or while converting)
        self._runner: Any = None
        if self.backend == "litert":
            from mmvideo.encode.litert import LiteRTRunner

            self._runner = LiteRTRunner(self._tflite_path(), num_threads=num_threads)
            self._output_name = self._runner.output_names[0]
            self._backend = "litert"
        else:
            import keras

            with keras.device(self.device):
                self.model = self._keras_model()
            self._backend = keras.backend.backend()

    def _keras_model(self) -> Any:
        from mmvideo.encode.minilm import load_minilm

        return load_minilm(self._files["model.safetensors"], self.config)

    def _tflite_path(self) -> Path:
        """The float32 LiteRT conversion, made from the Keras model on first use (atomically)."""
        path = self._derived / TFLITE_FILE
        if not path.is_file():
            from mmvideo.encode.litert import convert_keras_to_tflite

            convert_keras_to_tflite(self._keras_model(), path)
        return path

    # ------------------------------------------------------------------------------------------ encoding

    def encode(self, batch: Sequence[str]) -> EncoderOutput:
        """Embed ``batch`` (a sequence of str, any length, duplicates and "" allowed).

        Returns EncoderOutput with embeddings (N, 384) float32, each row of unit L2 norm, in input order;
        scores None. A text's row does not depend on the other texts in the call (within float round-off,
        ~1e-6).
        """
        texts = _check_texts(batch)
        if self._stored_min is not None and len(texts) >= self._stored_min:
            return EncoderOutput(embeddings=self._encode_stored(texts))
        out = np.empty((len(texts), EMBEDDING_SIZE), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text)
                if hit is not None:
                    self._cache.move_to_end(text)
                    out[i] = hit
                    self.cache_hits += 1
                else:
                    todo.setdefault(text, []).append(i)
        if todo:
            unique = list(todo)
            vectors = self._embed_uncached(unique)
            with self._lock:
                self.cache_misses += len(unique)
                for text, vec in zip(unique, vectors):
                    out[todo[text]] = vec
                    if self.cache_size:
                        self._cache[text] = vec
                        self._cache.move_to_end(text)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return EncoderOutput(embeddings=out)

    @contextlib.contextmanager
    def stored_lists(self, min_texts: int = STORED_LIST_MIN):
        """Within the block, ``encode`` calls of at least ``min_texts`` texts read their vectors from (or write
        them to) ``derived/texts-<hash>.npy``, keyed by ``fingerprint()`` and the texts: the vectors a previous
        process computed for the same list, bit for bit. Meant for the fixed lists a tagger embeds at start-up
        (not thread-safe against concurrent ``encode`` calls from other threads)."""
        self._stored_min = min_texts
        try:
            yield self
        finally:
            self._stored_min = None

    def _stored_path(self, texts: list[str]) -> Path:
        key = hashlib.sha256(json.dumps([self.fingerprint(), texts], ensure_ascii=False).encode("utf-8"))
        return self._derived / f"texts-{key.hexdigest()[:24]}.npy"

    def _encode_stored(self, texts: list[str]) -> np.ndarray:
        """``encode`` of a long fixed list through the on-disk store (a bad or unwritable file: computed)."""
        path = self._stored_path(texts)
        vectors = None
        if path.is_file():
            try:
                vectors = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as exc:
                log.debug("%s: unreadable (%s); embedding again", path, exc)
            if vectors is not None and (vectors.shape != (len(texts), EMBEDDING_SIZE)
                                        or vectors.dtype != np.float32 or not np.all(np.isfinite(vectors))):
                log.debug("%s: shape %s %s does not fit; embedding again", path, vectors.shape, vectors.dtype)
                vectors = None
        if vectors is not None:
            with self._lock:
                self.cache_hits += len(texts)
                for text, vec in zip(texts, vectors):
                    if self.cache_size:
                        self._cache[text] = vec
                        self._cache.move_to_end(text)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            return vectors
        minimum, self._stored_min = self._stored_min, None
        try:
            vectors = self.encode(texts).embeddings
        finally:
            self._stored_min = minimum
        try:
            from mmvideo.models.store import atomic_write

            with atomic_write(path) as tmp, open(tmp, "wb") as fh:
                np.save(fh, vectors, allow_pickle=False)
        except (OSError, SetupError) as exc:  # a read-only model store: compute them every time
            log.debug("%s: not written (%s)", path, exc)
        return vectors

    def embed_labels(self, labels: Sequence[str], template: str = "{}") -> np.ndarray:
        """Vectors of tag / class names for zero-shot matching: (N, 384) float32 unit rows.

        ``template`` wraps each label before encoding (e.g. "a video of {}"); it must contain one "{}".
        Cached like any text, so asking for the same tag list again is free.
        """
        labels = _check_texts(labels)
        if template.count("{}") != 1:
            raise ParameterError(f"template must contain exactly one '{{}}'. Received: template={template!r}")
        return self.encode([template.format(label) for label in labels]).embeddings

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids of each text, with [CLS]/[SEP], truncated to ``max_length``."""
        return [e.ids for e in self.tokenizer.encode_batch(list(_check_texts(texts)))]

    def _embed_uncached(self, texts: list[str]) -> np.ndarray:
        ids = self.tokenize(texts)
        lengths = [len(x) for x in ids]
        result = np.empty((len(texts), EMBEDDING_SIZE), dtype=np.float32)
        for index in length_buckets(lengths, self.batch_size, self.max_batch_tokens):
            longest = max(lengths[i] for i in index)
            width = min(-(-longest // _PAD_MULTIPLE) * _PAD_MULTIPLE, self.config.max_positions)
            input_ids = np.full((len(index), width), self._pad_id, dtype=np.int32)
            mask = np.zeros((len(index), width), dtype=np.int32)
            for row, i in enumerate(index):
                input_ids[row, :lengths[i]] = ids[i]
                mask[row, :lengths[i]] = 1
            inputs = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
            result[index] = self._run(inputs)
        return result

    def _run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        if self._runner is not None:
            return self._runner.run(**inputs)[self._output_name]
        import keras

        with keras.device(self.device):
            return np.asarray(self.model.predict_on_batch(inputs), dtype=np.float32)

    def clear_cache(self) -> None:
        """Forget every cached vector."""
        with self._lock:
            self._cache.clear()

    def fingerprint(self) -> dict[str, str]:
        """Model name and version, backend and truncation length: what changes the vectors."""
        from mmvideo.models.registry import get_spec

        return {"model": self.model_name, "version": get_spec(self.model_name).version,
                "backend": self._backend, "max_length": str(self.max_length)}


def _check_texts(batch: Any) -> list[str]:
    """The batch as a list of str; ``ParameterError`` for a bare string or a non-str item."""
    if isinstance(batch, (str, bytes)):
        raise ParameterError("texts must be a sequence of str, not a single string. "
                             f"Received: {type(batch).__name__} {batch[:40]!r}")
    try:
        texts = list(batch)
    except TypeError:
        raise ParameterError(f"texts must be a sequence of str. Received: {type(batch).__name__}") from None
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ParameterError(f"texts[{i}] must be a str. Received: {type(text).__name__} {text!r:.40}")
    return texts
