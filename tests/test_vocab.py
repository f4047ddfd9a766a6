"""Tag vocabularies (default, --labels file, comma list) and the curated class -> tag maps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mmvideo.errors import ParameterError
from mmvideo.fuse import maps
from mmvideo.fuse.vocab import Tag, as_vocabulary, default_vocabulary, is_default, load_labels, parse_labels

REPO = Path(__file__).resolve().parents[1]
ONTOLOGY = REPO.parent / "shared" / "ontology"


def test_default_vocabulary_is_everyday_tags_with_descriptions():
    vocab = default_vocabulary()
    labels = [t.label for t in vocab]
    assert 300 <= len(vocab) <= 500  # the hand-written everyday tags, then the fine-grained ones
    for fine in ("goose", "swan", "drum kit", "skateboard", "crane", "sailboat"):
        assert fine in labels
    for expected in ("person", "speech", "music", "dog", "cat", "bird", "car", "bicycle", "airplane", "boat",
                     "train", "creek", "ocean", "forest", "flower", "fire", "snow", "kitchen", "office", "food",
                     "text"):
        assert expected in labels
    creek = vocab[labels.index("creek")]
    assert creek.text == "running water in a stream"
    assert vocab[labels.index("dog")].text == "dog"  # no description: the label is embedded
    assert is_default(vocab) and not is_default(vocab[:-1])


def test_labels_file_with_descriptions_comments_and_blank_lines(tmp_path):
    path = tmp_path / "labels.tsv"
    path.write_text("\ufeff# my tags\n\ndog\ncreek\trunning water in a stream\n  cat  \n# end\n", encoding="utf-8")
    assert load_labels(path) == (Tag("dog"), Tag("creek", "running water in a stream"), Tag("cat"))
    assert load_labels(str(path))[1].text == "running water in a stream"


def test_comma_separated_labels():
    assert load_labels("dog, cat ,music") == (Tag("dog"), Tag("cat"), Tag("music"))
    assert load_labels("wind instrument,piano")[0].label == "wind instrument"


@pytest.mark.parametrize("value, text", [
    ("dog,,cat", "empty item"),
    ("dog,cat,", "empty item"),
    ("dog", "no file named 'dog', and a comma-separated list needs at least 2 labels"),
    ("dog,Dog", "duplicate label 'Dog'"),
    ("missing/labels.txt", "labels file not found"),
    ("labels.tsv", "labels file not found"),
    ("   ", "empty value"),
])
def test_bad_label_values(value, text):
    with pytest.raises(ParameterError, match=text):
        load_labels(value)


@pytest.mark.parametrize("content, text", [
    ("dog\ncat\ndog\n", r"labels.txt:3: duplicate label 'dog' \(first at .*labels.txt:1\)"),
    ("dog\ncat, kitten\n", r"labels.txt:2: a label cannot contain ','"),
    ("dog\ncat\t\n", r"labels.txt:2: empty description"),
    ("dog\ncat\ta\tb\n", r"labels.txt:2: more than one TAB"),
    ("dog\n\tjust a description\n", r"labels.txt:2: empty label"),
    ("# nothing\n\n", r"at least 2 labels are needed.*Received: 0"),
])
def test_bad_label_files_name_the_line(tmp_path, content, text):
    path = tmp_path / "labels.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ParameterError, match=text):
        load_labels(path)


def test_unreadable_label_files(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9\nth\xe9\n".encode("latin-1"))
    with pytest.raises(ParameterError, match="not UTF-8"):
        load_labels(path)
    with pytest.raises(ParameterError, match="folder"):
        load_labels(tmp_path)


def test_as_vocabulary_accepts_config_pairs_and_strings():
    assert as_vocabulary([("creek", "running water"), "dog"]) == (Tag("creek", "running water"), Tag("dog"))
    assert as_vocabulary(tuple(tuple(t) for t in default_vocabulary())) == default_vocabulary()
    with pytest.raises(ParameterError, match="Received: 3"):
        as_vocabulary(["dog", 3])
    assert parse_labels("a\nb\n") == (Tag("a"), Tag("b"))


# --- curated maps --------------------------------------------------------------------------------------

def imagenet(name: str) -> tuple[str, ...]:
    text = (REPO / "mmvideo" / "data" / "imagenet_to_tags.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")][1:]
    (index,) = [int(r[0]) for r in rows if r[2] == name]
    return maps.imagenet_map()[index]


@pytest.mark.parametrize("name, expected, absent", [
    ("golden retriever", {"dog", "pet", "animal"}, {"cat"}),
    ("tabby", {"cat", "pet", "animal"}, {"dog"}),
    ("timber wolf", {"wild animal", "animal"}, {"dog", "pet"}),
    ("suit", {"person"}, {"sport", "wind"}),
    ("Windsor tie", {"person"}, {"bridge"}),
    ("seat belt", {"car", "person"}, {"wind"}),
    ("candle", {"candle"}, {"fire"}),  # its own fine-grained tag, never "fire"
    ("tub", {"bathroom", "water"}, set()),
    ("daisy", {"flower", "plant"}, set()),
    ("seashore", {"beach", "ocean"}, set()),
    ("sports car", {"car", "vehicle"}, set()),
    ("abacus", set(), set()),
])
def test_imagenet_classes_map_to_everyday_tags(name, expected, absent):
    tags = set(imagenet(name))
    assert expected <= tags and not (absent & tags)
    if not expected:
        assert not tags


@pytest.mark.parametrize("name, expected", [
    ("Speech", {"speech", "person"}),
    ("Male speech, man speaking", {"speech", "person"}),
    ("Conversation", {"speech", "conversation"}),
    ("Music", {"music"}),
    ("Guitar", {"music", "guitar"}),
    ("Dog", {"dog", "animal", "pet"}),
    ("Bark", {"dog", "animal"}),
    ("Stream", {"creek", "water"}),
    ("Crackle", {"fire"}),
    ("Silence", set()),
])
def test_audioset_classes_map_to_everyday_tags(name, expected):
    tags = set(maps.audioset_map()[name])
    assert expected <= tags and (expected or not tags)


def test_multi_parent_audio_classes_keep_only_shared_tags():
    assert maps.audioset_map()["Hiss"] == ()  # under Cat, Snake and Steam: none of them for sure
    assert "car" in maps.audioset_map()["Car alarm"]


def test_every_mapped_tag_is_in_the_default_vocabulary():
    labels = {t.label for t in default_vocabulary()}
    used = {t for row in maps.imagenet_map() for t in row}
    used |= {t for row in maps.audioset_map().values() for t in row}
    assert used <= labels
    assert len(maps.imagenet_map()) == 1000 and len(maps.audioset_map()) == 632
    assert sum(1 for row in maps.imagenet_map() if row) > 850


def test_class_tags_take_any_class_list():
    # the 1,000 ImageNet classes by index; any other list (a smaller classifier) by name or synset
    assert maps.class_tags("imagenet", ["goldfish", "n01440764", "not a class"]) == (
        maps.imagenet_map()[1], maps.imagenet_map()[0], None)
    with pytest.raises(ParameterError, match="table must be"):
        maps.class_tags("colour", ["red"])
    assert maps.class_tags("audio", ["Speech", "Not a class"]) == (maps.audioset_map()["Speech"], None)


def test_committed_maps_are_what_the_rules_build():
    if not (ONTOLOGY / "audioset" / "ontology.json").is_file():
        pytest.skip(f"ontology sources not found at {ONTOLOGY}")
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "build_tag_maps.py"), "--check",
                             "--ontology", str(ONTOLOGY)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_hierarchy_links_children_to_their_parents():
    parents = maps.tag_parents()
    labels = {t.label for t in default_vocabulary()}
    assert parents["goose"] == ("bird",) and parents["bird"] == ("animal",) and parents["swan"] == ("bird",)
    assert "drums" in parents["drum kit"] and "music" in parents["drums"]
    for child, ups in parents.items():
        assert child in labels and set(ups) <= labels and child not in ups

    def ancestors(tag, seen=()):
        assert tag not in seen, f"cycle through {tag}"
        return {p for up in parents.get(tag, ()) for p in {up} | ancestors(up, seen + (tag,))}

    for child in parents:
        ancestors(child)
    # a child's classes carry its parents' tags too, so its evidence reaches them
    goose = maps.imagenet_map()[99]
    assert {"goose", "bird", "animal"} <= set(goose)
    assert {"goose", "bird"} <= set(maps.audioset_map()["Goose"])
