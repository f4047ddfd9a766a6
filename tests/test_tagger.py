"""ZeroShotTagger: synthetic text spaces with known answers, then the real all-MiniLM-L6-v2 (slow)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

pytest.importorskip("keras")

from mmvideo.encode.base import EncoderOutput  # noqa: E402
from mmvideo.errors import ParameterError  # noqa: E402
from mmvideo.fuse import maps  # noqa: E402
from mmvideo.config import RunConfig  # noqa: E402
from mmvideo.fuse.records import SegmentInput  # noqa: E402
from mmvideo.fuse.tagger import TaggerSettings, ZeroShotTagger  # noqa: E402
from mmvideo.fuse.vocab import default_vocabulary  # noqa: E402
from mmvideo.modalities import builtin  # noqa: E402
from mmvideo.modalities.classes import clean_name  # noqa: E402

MODALITIES = ("image", "audio", "text", "faces")


def make(encoder, vocabulary, *, image_classes=None, audio_classes=None, config=None, **kw) -> ZeroShotTagger:
    """A tagger over the four built-in modalities (a classifier without class names is never used)."""
    return ZeroShotTagger(encoder, vocabulary, modalities=builtin(config, image_classes=image_classes,
                                                                  audio_classes=audio_classes), **kw)

D = 128
IMAGE_NAMES = tuple(f"class {i}" for i in range(1000))
AUDIO_NAMES = tuple(maps.audioset_map())  # AudioSet display names, like YAMNet's
GOLDEN_RETRIEVER = 207


def vector(text: str) -> np.ndarray:
    v = np.random.default_rng(zlib.crc32(text.encode())).normal(size=D)
    return (v / np.linalg.norm(v)).astype(np.float32)


class FakeTextEncoder:
    """A text space where every string is its own random direction (unless ``same`` ties it to another)."""

    def __init__(self, same: dict[str, str] | None = None) -> None:
        self.same = same or {}
        self.calls: list[list[str]] = []

    def encode(self, texts):
        self.calls.append(list(texts))
        return EncoderOutput(embeddings=np.stack([vector(self.same.get(t, t)) for t in texts]))


def one_hot(size: int, index: int, value: float) -> np.ndarray:
    p = np.zeros(size, np.float32)
    p[index] = value
    return p


@pytest.fixture(scope="module")
def tagger():
    return make(FakeTextEncoder(), default_vocabulary(), image_classes=IMAGE_NAMES,
                          audio_classes=AUDIO_NAMES)


def labels(fused) -> list[str]:
    return [t.label for t in fused.tags]


def test_default_vocabulary_uses_the_curated_maps(tagger):
    assert tagger.uses_maps
    (fused,) = tagger.tag([SegmentInput(image_probs=one_hot(1000, GOLDEN_RETRIEVER, 0.8))])
    assert set(labels(fused)[:3]) == {"dog", "pet", "animal"}
    assert fused.modalities == ("image",)
    assert fused.tags[0].attention == {"image": 1.0, "audio": 0.0, "text": 0.0, "faces": 0.0}
    top = fused.columns["image_classes"][0]
    assert top["name"] == "class 207" and top["score"] == pytest.approx(0.8)


def test_audio_speech_and_silence(tagger):
    speech = one_hot(len(AUDIO_NAMES), AUDIO_NAMES.index("Speech"), 0.9)
    silence = one_hot(len(AUDIO_NAMES), AUDIO_NAMES.index("Silence"), 0.95)
    talk, quiet = tagger.tag([SegmentInput(audio_scores=speech), SegmentInput(audio_scores=silence)])
    assert set(labels(talk)[:2]) == {"speech", "person"}
    assert quiet.modalities == () and quiet.tags == ()  # a silent track says nothing
    assert quiet.columns["audio_classes"][0]["name"] == "Silence"  # raw classes still reported
    assert not np.any(quiet.embedding)


def test_faces_stand_for_people(tagger):
    (fused,) = tagger.tag([SegmentInput(face_confidence=0.9, faces=2)])
    boosted = 1 - (1 - 0.9) ** tagger.settings.supported_boost  # faces name "person": its score is raised
    assert labels(fused)[0] == "person" and fused.tags[0].score == pytest.approx(boosted, abs=1e-4)
    (weak,) = tagger.tag([SegmentInput(face_confidence=0.2)])
    assert weak.modalities == ()


def test_modalities_do_not_crowd_each_other_out(tagger):
    seg = SegmentInput(image_probs=one_hot(1000, GOLDEN_RETRIEVER, 0.8),
                       audio_scores=one_hot(len(AUDIO_NAMES), AUDIO_NAMES.index("Speech"), 0.9))
    (fused,) = tagger.tag([seg])
    top = labels(fused)[:5]
    assert "speech" in top and "dog" in top
    dog = fused.tags[top.index("dog")]
    assert dog.attention["image"] > 0.9 and sum(dog.attention.values()) == pytest.approx(1.0)
    assert fused.modality_weights["image"] > 0.2 and fused.modality_weights["audio"] > 0.2


def test_missing_modality_changes_nothing_else(tagger):
    image = one_hot(1000, GOLDEN_RETRIEVER, 0.8)
    a, b = tagger.tag([SegmentInput(image_probs=image),
                       SegmentInput(image_probs=image, audio_scores=np.zeros(len(AUDIO_NAMES), np.float32))])
    assert [(t.label, t.score) for t in a.tags] == [(t.label, t.score) for t in b.tags]
    np.testing.assert_array_equal(a.embedding, b.embedding)


def test_fused_embedding_is_a_unit_vector_in_the_text_space(tagger):
    (fused,) = tagger.tag([SegmentInput(text="a dog in a bathtub")])
    assert fused.embedding.shape == (D,) and fused.embedding.dtype == np.float32
    sentence = "a video of " + ", ".join(labels(fused) + [f["label"] for f in fused.columns["fine_tags"]])
    moved = vector("a dog in a bathtub") + tagger.settings.tag_text_weight * vector(sentence)
    np.testing.assert_allclose(fused.embedding, moved / np.linalg.norm(moved), atol=1e-6)
    plain = make(FakeTextEncoder(), default_vocabulary(), settings=TaggerSettings(tag_text_weight=0.0))
    (fused,) = plain.tag([SegmentInput(text="a dog in a bathtub")])
    np.testing.assert_allclose(fused.embedding, vector("a dog in a bathtub"), atol=1e-6)
    with_vectors = make(FakeTextEncoder(), default_vocabulary(), config=RunConfig(modality_embeddings=True))
    (fused,) = with_vectors.tag([SegmentInput(text="a dog in a bathtub")])
    np.testing.assert_allclose(fused.columns["text_embedding"], vector("a dog in a bathtub"), atol=1e-6)


def test_texts_are_embedded_once_per_batch_and_given_embeddings_are_used():
    encoder = FakeTextEncoder()
    tagger = make(encoder, ["dog", "cat", "creek"], image_classes=None, audio_classes=None)
    encoder.calls.clear()
    given = vector("creek")
    out = tagger.tag([SegmentInput(text="hello"), SegmentInput(text="hello"), SegmentInput(text="  "),
                      SegmentInput(text="ignored", text_embedding=given)])
    assert encoder.calls[0] == ["hello"]  # then at most one call for the batch's tag sentences
    assert len(encoder.calls) <= 2 and all(c[0].startswith("a video of ") for c in encoder.calls[1:])
    assert out[2].modalities == () and labels(out[3])[0] == "creek"


def test_custom_vocabulary_embeds_clean_class_names():
    names = list(IMAGE_NAMES)
    names[GOLDEN_RETRIEVER] = "golden retriever"
    names[134] = "crane (bird)"
    encoder = FakeTextEncoder(same={"golden retriever": "hound", "crane": "hound"})
    tagger = make(encoder, ["hound", "kitten", "music"], image_classes=names, audio_classes=AUDIO_NAMES)
    assert not tagger.uses_maps
    (fused,) = tagger.tag([SegmentInput(image_probs=one_hot(1000, GOLDEN_RETRIEVER, 0.7))])
    assert labels(fused)[0] == "hound"
    assert clean_name("crane (n02012849)") == "crane" and clean_name("crane (bird)") == "crane (bird)"
    silence = one_hot(len(AUDIO_NAMES), AUDIO_NAMES.index("Silence"), 0.95)
    (quiet,) = tagger.tag([SegmentInput(audio_scores=silence)])
    assert quiet.modalities == ()  # Silence carries no evidence with any vocabulary


def test_accepts_the_pipelines_segment_evidence(tagger):
    from mmvideo.pipeline.aggregate import SegmentEvidence
    from mmvideo.segment import Segment

    from mmvideo.modalities.faces import FacePool
    from mmvideo.modalities.pooling import ClassPool
    from mmvideo.modalities.text import TextPool

    ev = SegmentEvidence(segment=Segment(index=0, start=0.0, end=2.0),
                         pooled={"image": ClassPool(one_hot(1000, GOLDEN_RETRIEVER, 0.8), None, 1),
                                 "text": TextPool(""), "faces": FacePool(1, 0.95)})
    (fused,) = tagger.tag([ev])
    assert fused.modalities == ("image", "faces") and {"dog", "person"} <= set(labels(fused))


def test_settings_and_vocabulary_are_validated():
    with pytest.raises(ParameterError, match="Received: top_k=0"):
        TaggerSettings(top_k=0)
    with pytest.raises(ParameterError, match="audio_min_score"):
        TaggerSettings(audio_min_score=1.5)
    with pytest.raises(ParameterError, match="at least 2 labels"):
        make(FakeTextEncoder(), ["dog"])
    with pytest.raises(ParameterError, match="default vocabulary"):
        make(FakeTextEncoder(), ["dog", "cat"], settings=TaggerSettings(use_maps=True))


def test_top_k_and_attention_records(tagger):
    small = make(FakeTextEncoder(), default_vocabulary(), image_classes=IMAGE_NAMES, top_k=2)
    (fused,) = small.tag([SegmentInput(image_probs=one_hot(1000, GOLDEN_RETRIEVER, 0.8), face_confidence=0.9)])
    assert len(fused.tags) == 2
    for t in fused.tags:
        assert tuple(t.attention) == MODALITIES and t.attention["audio"] == 0.0 and t.attention["text"] == 0.0
    assert tagger.tag([]) == []


def test_scattered_weak_image_evidence_gives_no_tag(tagger):
    """Like a black or blurred frame: a little probability on many unrelated classes."""
    probs = np.zeros(1000, np.float32)
    probs[[207, 404, 430, 504, 527, 579, 817, 985, 970, 963]] = 0.02  # dog, airliner, basketball, mug, ...
    (fused,) = tagger.tag([SegmentInput(image_probs=probs)])
    assert fused.modalities == ("image",) and fused.tags == ()
    assert np.linalg.norm(fused.embedding) == pytest.approx(1.0, abs=1e-5)  # still searchable
    loose = make(FakeTextEncoder(), default_vocabulary(), image_classes=IMAGE_NAMES,
                           settings=TaggerSettings(min_score=0.0))
    assert len(loose.tag([SegmentInput(image_probs=probs)])[0].tags) == 5


def test_min_score_cuts_weak_tags_and_a_trained_layer_can_be_given():
    from mmvideo.fuse.layer import LabelQueryAttention

    seg = SegmentInput(image_probs=one_hot(1000, GOLDEN_RETRIEVER, 0.8))
    strict = make(FakeTextEncoder(), default_vocabulary(), image_classes=IMAGE_NAMES,
                            settings=TaggerSettings(min_score=0.5))
    (fused,) = strict.tag([seg])
    assert {t.label for t in fused.tags} == {"dog", "pet", "animal"}  # the rest of the vocabulary is near 0
    assert all(t.score >= 0.5 for t in fused.tags) and fused.modalities == ("image",)
    assert np.any(fused.embedding)
    layer = LabelQueryAttention(num_modalities=4, scale=[0.5, 1.0, 1.0, 1.0])
    halved = make(FakeTextEncoder(), default_vocabulary(), image_classes=IMAGE_NAMES, layer=layer)
    assert halved.layer is layer
    raw = 0.5 * 0.8  # peak 1 x length 0.8 x 0.5, then raised: the image's classes name "dog"
    boost = halved.settings.supported_boost
    assert halved.tag([seg])[0].tags[0].score == pytest.approx(1 - (1 - raw) ** boost, abs=1e-4)
    with pytest.raises(ParameterError, match="Received: num_modalities=2"):
        make(FakeTextEncoder(), ["a", "b"], layer=LabelQueryAttention(num_modalities=2))


# --- the real text encoder -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_tagger():
    from mmvideo.models.store import is_installed

    if not (is_installed("all_minilm_l6_v2") and is_installed("imagenet_labels")):
        pytest.skip("text model or ImageNet labels not installed (mmvideo models fetch all_minilm_l6_v2 "
                    "imagenet_labels)")
    from mmvideo.encode.image import imagenet_class_names
    from mmvideo.encode.text import TextEncoder

    return make(TextEncoder(device="cpu"), default_vocabulary(), image_classes=imagenet_class_names(),
                          audio_classes=AUDIO_NAMES)


@pytest.mark.slow
def test_real_text_space_known_answers(real_tagger):
    names = real_tagger.modalities[0].class_names
    audio = len(AUDIO_NAMES)
    segments = [
        SegmentInput(image_probs=one_hot(1000, names.index("golden retriever"), 0.8)),
        SegmentInput(image_probs=one_hot(1000, names.index("suit of clothes"), 0.4)),
        SegmentInput(audio_scores=one_hot(audio, AUDIO_NAMES.index("Speech"), 0.9)),
        SegmentInput(audio_scores=one_hot(audio, AUDIO_NAMES.index("Stream"), 0.6)),
        SegmentInput(text="the water of the creek runs over the stones"),
        SegmentInput(text="Walter, you're wonderful, in a loathsome sort of way.", face_confidence=0.9),
    ]
    out = real_tagger.tag(segments)
    assert "dog" in labels(out[0])[:3]
    # a suit: the fine-grained tag, and someone wears it (not "sport" or "wind")
    assert labels(out[1])[0] in ("suit", "person") and "person" in labels(out[1])[:2]
    assert labels(out[2])[0] in ("speech", "person") and "speech" in labels(out[2])[:2]
    assert "creek" in labels(out[3])[:3]
    assert "creek" in labels(out[4])[:3]
    assert labels(out[5])[0] == "person"  # dialogue that names no tag does not outvote the face


# --- real clips through the real encoders (what scripts/eval_zero_shot.py measures in full) ------------------

def _clip_evidence(path, segment: float = 2.0):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "eval_zero_shot.py"
    spec = importlib.util.spec_from_file_location("eval_zero_shot", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.evidence_of(path, segment), module._models()["audio"].class_names


@pytest.fixture(scope="module")
def clip_tagger(real_tagger):
    from mmvideo.models.store import is_installed

    for name in ("mobilenet_v2", "yamnet", "blazeface"):
        if not is_installed(name):
            pytest.skip(f"model {name} not installed (mmvideo models fetch {name})")
    return real_tagger


@pytest.mark.slow
@pytest.mark.parametrize("clip, first, top5", [
    ("whisper/jfk.flac", {"speech", "person"}, {"speech"}),
    ("mdn/friday.mp4", {"speech", "person"}, {"person", "speech"}),
    ("mdn/stream-of-water.webm", {"creek", "water", "river"}, {"water"}),
    ("mdn/flower.webm", {"plant", "flower", "insect"}, {"flower", "plant"}),
])
def test_real_clips(clip_tagger, shared_media, clip, first, top5):
    evidence, audio_names = _clip_evidence(shared_media / clip)
    tagger = make(clip_tagger._encoder, default_vocabulary(), image_classes=clip_tagger.modalities[0].class_names,
                            audio_classes=audio_names)
    fused = [f for f in tagger.tag(evidence) if f.tags]
    assert fused
    totals: dict[str, float] = {}
    for f in fused:
        for t in f.tags:
            totals[t.label] = totals.get(t.label, 0.0) + t.score
    ranked = sorted(totals, key=lambda k: -totals[k])[:5]
    assert ranked[0] in first, ranked
    assert top5 <= set(ranked), ranked
    if clip.endswith("flower.webm"):  # a silent track: YAMNet says "Silence", which must not become speech
        assert all("audio" not in f.modalities for f in fused)
        assert "speech" not in ranked and "whispering" not in ranked


GOOSE = IMAGE_NAMES.index("class 99")  # ImageNet index 99 is "goose"


def test_a_confident_audio_token_and_clear_image_evidence_both_get_slots(tagger):
    """Voices over a picture of a goose: speech may not take every slot from the image's goose."""
    scores = np.zeros(len(AUDIO_NAMES), np.float32)
    for name, value in (("Speech", 1.0), ("Conversation", 0.9), ("Male speech, man speaking", 0.9),
                        ("Female speech, woman speaking", 0.8), ("Chatter", 0.7), ("Crowd", 0.6)):
        scores[AUDIO_NAMES.index(name)] = value
    seg = SegmentInput(image_probs=one_hot(1000, GOOSE, 0.5), audio_scores=scores)
    (fused,) = tagger.tag([seg])
    owners = {max(t.attention, key=t.attention.get) for t in fused.tags}
    assert {"image", "audio"} <= owners
    assert "bird" in labels(fused) and "speech" in labels(fused)
    assert fused.columns["fine_tags"][0]["label"] == "goose"  # fine tags beside the five slots


def test_a_childs_evidence_reaches_its_parents_and_comes_first(tagger):
    assert maps.tag_parents()["goose"] == ("bird",) and "animal" in maps.tag_parents()["bird"]
    (fused,) = tagger.tag([SegmentInput(image_probs=one_hot(1000, GOOSE, 0.8))])
    top = labels(fused)
    assert "goose" not in top and top.index("bird") < top.index("animal")  # fine tags keep out of the slots
    fine = {f["label"]: f["score"] for f in fused.columns["fine_tags"]}
    scores = {t.label: t.score for t in fused.tags}
    assert scores["bird"] >= fine["goose"] - 1e-6 and scores["animal"] >= fine["goose"] - 1e-6
    slots = make(FakeTextEncoder(), default_vocabulary(), image_classes=IMAGE_NAMES, audio_classes=AUDIO_NAMES,
                 settings=TaggerSettings(fine_slots=5))
    (fused,) = slots.tag([SegmentInput(image_probs=one_hot(1000, GOOSE, 0.8))])
    top = labels(fused)
    assert top.index("goose") < top.index("bird") < top.index("animal")


def test_concept_embeddings_keep_what_the_classifier_saw(tagger):
    (fused,) = tagger.tag([SegmentInput(image_probs=one_hot(1000, GOOSE, 0.8))])
    concept = fused.concepts["image"]
    assert concept is not None and float(concept @ vector("class 99")) == pytest.approx(1.0, abs=1e-5)
    assert fused.columns["image_concept_embedding"] == pytest.approx(concept.tolist(), abs=1e-6)
    assert fused.concepts["audio"] is None and fused.columns["audio_concept_embedding"] is None
    (text,) = tagger.tag([SegmentInput(text="geese on a lake")])
    assert float(text.concepts["text"] @ vector("geese on a lake")) == pytest.approx(1.0, abs=1e-5)


def test_tags_no_evidence_names_give_way():
    """A dog's picture: the maps name dog, pet, animal; a text-space neighbour the maps do not name is cut."""
    near = FakeTextEncoder(same={"cat": "dog"})  # "cat" sits on "dog" in this text space
    seg = SegmentInput(image_probs=one_hot(1000, GOLDEN_RETRIEVER, 0.8))
    plain = make(near, default_vocabulary(), image_classes=IMAGE_NAMES,
                 settings=TaggerSettings(min_score=0.5, unsupported=1.0, supported_boost=1.0))
    gated = make(near, default_vocabulary(), image_classes=IMAGE_NAMES, settings=TaggerSettings(min_score=0.5))
    assert "cat" in labels(plain.tag([seg])[0])
    (fused,) = gated.tag([seg])
    assert "cat" not in labels(fused) and {"dog", "pet", "animal"} <= set(labels(fused))
    (text,) = gated.tag([SegmentInput(text="cat")])  # text names anything: nothing is cut
    assert labels(text)[0] in ("cat", "dog")


def test_masked_modalities_are_left_out_of_fusion_and_concepts():
    tagger = make(FakeTextEncoder(), default_vocabulary(), image_classes=IMAGE_NAMES, audio_classes=AUDIO_NAMES,
                  settings=TaggerSettings(mask=("audio", "text", "faces")))
    speech = one_hot(len(AUDIO_NAMES), AUDIO_NAMES.index("Speech"), 0.9)
    (fused,) = tagger.tag([SegmentInput(image_probs=one_hot(1000, GOOSE, 0.8), audio_scores=speech,
                                        face_confidence=0.9)])
    assert fused.modalities == ("image",) and "speech" not in labels(fused)
    assert fused.concepts["audio"] is None and fused.columns["audio_classes"][0]["name"] == "Speech"


def test_a_segment_leans_toward_its_neighbours_by_default(tagger):
    dog, cat = one_hot(1000, GOLDEN_RETRIEVER, 0.8), one_hot(1000, 281, 0.8)  # 281: tabby cat
    alone = tagger.tag([SegmentInput(image_probs=cat)])[0]
    middle = tagger.tag([SegmentInput(image_probs=p) for p in (dog, cat, dog)])[1]
    cat_score = lambda fused: next(t.score for t in fused.tags if t.label == "cat")  # noqa: E731
    assert TaggerSettings().context > 0
    assert cat_score(middle) < cat_score(alone) - 0.01  # its neighbours show no cat
    off = make(FakeTextEncoder(), default_vocabulary(), image_classes=IMAGE_NAMES, audio_classes=AUDIO_NAMES,
               settings=TaggerSettings(context=0.0))
    assert cat_score(off.tag([SegmentInput(image_probs=p) for p in (dog, cat, dog)])[1]) == pytest.approx(
        cat_score(off.tag([SegmentInput(image_probs=cat)])[0]))


def test_the_fused_embedding_leans_toward_what_was_seen():
    """Voices over a goose: the search embedding moves toward the picture's own fusion; tags stay the same."""
    speech = np.zeros(len(AUDIO_NAMES), np.float32)
    for name, value in (("Speech", 1.0), ("Conversation", 0.9), ("Male speech, man speaking", 0.9)):
        speech[AUDIO_NAMES.index(name)] = value
    seg = SegmentInput(image_probs=one_hot(1000, GOOSE, 0.5), audio_scores=speech)
    build = lambda **kw: make(FakeTextEncoder(), default_vocabulary(), image_classes=IMAGE_NAMES,  # noqa: E731
                              audio_classes=AUDIO_NAMES, settings=TaggerSettings(**kw))
    (off,) = build(visual_weight=0.0).tag([seg])
    (on,) = build().tag([seg])
    (seen,) = build(mask=("audio", "text")).tag([seg])  # the picture alone
    assert TaggerSettings().visual_weight > 0 and labels(on) == labels(off)
    assert float(on.embedding @ seen.embedding) > float(off.embedding @ seen.embedding) + 0.02
    assert float(np.linalg.norm(on.embedding)) == pytest.approx(1.0, abs=1e-5)
    (alone,) = build().tag([SegmentInput(image_probs=one_hot(1000, GOOSE, 0.5))])  # nothing else: unchanged
    (alone_off,) = build(visual_weight=0.0).tag([SegmentInput(image_probs=one_hot(1000, GOOSE, 0.5))])
    np.testing.assert_allclose(alone.embedding, alone_off.embedding, atol=1e-6)
