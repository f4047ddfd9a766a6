"""Libraries at scale: content ids reused from the state store, compacted results, the search cache."""

import os
import time

import numpy as np
import pytest

import mmvideo.discover as discover_mod
from mmvideo.config import RunConfig
from mmvideo.discover import discover
from mmvideo.engines.local import run_local
from mmvideo.errors import MediaError
from mmvideo.progress import Reporter
from mmvideo.records import Analysis, SegmentRecord, VideoRecord
from mmvideo.state import ContentIds, State
from mmvideo.write.read import read_table

OLD = time.time() - 3600  # files older than state.HOT_NS, so their ids are remembered


class FakeAnalyzer:
    """One segment per file (``bad`` in the name: fails at probe); no models."""

    def __init__(self, fingerprint="fp1"):
        self.fingerprint = fingerprint
        self.calls = []

    def analyze(self, video, on_stage):
        self.calls.append(os.path.basename(video.path))
        if "bad" in video.path:
            raise MediaError(video.path, "not a media file", stage="probe")
        rng = np.random.default_rng(int(video.content_id[:8], 16))
        emb = rng.standard_normal(384).astype(np.float32)
        emb /= np.linalg.norm(emb)
        segs = tuple(SegmentRecord(video.content_id, video.path, i, float(i), i + 1.0, (), emb, ("image",))
                     for i in range(2))
        return Analysis(VideoRecord(video.content_id, video.path, "done", duration=2.0, segments=2), segs)


def make_files(folder, names, when=OLD):
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        p = folder / n
        p.write_bytes(n.encode() * 50)
        os.utime(p, (when, when))
    return folder


@pytest.fixture
def count_hashes(monkeypatch):
    """The names of the files discovery hashes."""
    hashed = []
    real = discover_mod.content_id

    def counting(path):
        hashed.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr(discover_mod, "content_id", counting)
    return hashed


def run(src, out, analyzer=None, **kw):
    return run_local([src], out, RunConfig(), analyzer or FakeAnalyzer(), Reporter(quiet=True), **kw)


# --- content ids reused ---------------------------------------------------------------------------

def test_rerun_hashes_only_touched_files(tmp_path, count_hashes):
    src = make_files(tmp_path / "in", ["a.mp4", "b.mp4", "bad.mp4", "c.mp4"])
    out = tmp_path / "out"
    run(src, out)
    assert sorted(count_hashes) == ["a.mp4", "b.mp4", "bad.mp4", "c.mp4"]
    count_hashes.clear()
    again = FakeAnalyzer()
    assert run(src, out, again).skipped == 4
    assert count_hashes == [] and again.calls == []
    os.utime(src / "b.mp4", (OLD + 5, OLD + 5))  # touched: same content, new mtime
    (src / "c.mp4").write_bytes(b"C.MP4" * 50)  # rewritten in place: same size...
    os.utime(src / "c.mp4", (OLD, OLD))  # ...and its old mtime back: the ctime moved
    third = FakeAnalyzer()
    summary = run(src, out, third)
    assert sorted(count_hashes) == ["b.mp4", "c.mp4"]
    assert third.calls == ["c.mp4"] and summary.skipped == 3  # b's content id is unchanged: not re-processed
    count_hashes.clear()
    run(src, out, FakeAnalyzer(), rehash=True)
    assert sorted(count_hashes) == ["a.mp4", "b.mp4", "bad.mp4", "c.mp4"]


def test_ids_are_rechecked_against_the_file_not_trusted_blindly(tmp_path):
    src = make_files(tmp_path / "in", ["a.mp4"])
    state = State(tmp_path / "out")
    ids = ContentIds(state)
    first = list(discover([src], ids=ids))
    ids.flush()
    assert ids.misses == 1 and ids.lookup(first[0].path, os.stat(first[0].path)) == first[0].content_id
    os.replace(make_files(tmp_path / "other", ["a.mp4"]) / "a.mp4", src / "a.mp4")  # same name, new inode
    (src / "a.mp4").write_bytes(b"x" * 5000)
    os.utime(src / "a.mp4", (OLD, OLD))
    again = list(discover([src], ids=ContentIds(state)))
    assert again[0].content_id == discover_mod.content_id(src / "a.mp4") != first[0].content_id
    state.close()


def test_recently_modified_files_are_not_remembered(tmp_path):
    src = make_files(tmp_path / "in", ["a.mp4"], when=time.time())
    state = State(tmp_path / "out")
    ids = ContentIds(state)
    list(discover([src], ids=ids))
    ids.flush()
    assert state.db.execute("SELECT count(*) FROM file_ids").fetchone()[0] == 0
    state.close()


def test_schema2_store_gains_the_id_table_in_place(tmp_path):
    state = State(tmp_path)
    state.mark_done("v1", "/x.mp4", "fp", 1.0)
    state.db.execute("DROP TABLE file_ids")
    state.db.execute("PRAGMA user_version = 2")
    state.close()
    state = State(tmp_path)
    assert state.get("v1").path == "/x.mp4"
    assert state.db.execute("SELECT count(*) FROM file_ids").fetchone()[0] == 0
    assert state.db.execute("PRAGMA user_version").fetchone()[0] == 3
    state.close()


# --- compaction -----------------------------------------------------------------------------------

def _library(tmp_path, n=7):
    src = make_files(tmp_path / "in", [f"v{i}.mp4" for i in range(n)] + ["bad.mp4"])
    out = tmp_path / "out"
    run(src, out, auto_compact=None)
    return src, out


def _rows_every_way(out, mmvideo=True):
    """Segment keys (video_id, segment, path, start) as pandas, pyarrow.dataset, DuckDB and (``mmvideo``)
    read_table see them."""
    import duckdb
    import pandas as pd
    import pyarrow.dataset as ds

    def keys(records):
        return sorted((r["video_id"], r["segment"], r["path"], r["start"]) for r in records)

    cols = ["video_id", "segment", "path", "start"]
    seg = out / "parquet" / "segments"
    return {"pandas": keys(pd.read_parquet(seg, columns=cols).to_dict("records")),
            "dataset": keys(ds.dataset(seg, format="parquet").to_table(columns=cols).to_pylist()),
            "duckdb": keys(duckdb.sql(f"SELECT {', '.join(cols)} FROM read_parquet('{seg}/*.parquet', "
                                      f"union_by_name=true)").df().to_dict("records")),
            **({"read_table": keys(read_table(out).to_pylist())} if mmvideo else {})}


def _video_ids(out):
    import pandas as pd

    return sorted(pd.read_parquet(out / "parquet" / "videos", columns=["video_id"])["video_id"])


def test_compaction_keeps_every_row_and_a_reprocessed_video_replaces_exactly_its_rows(tmp_path):
    from mmvideo.write.compact import compact, compacted_keys

    src, out = _library(tmp_path)
    before, videos_before = _rows_every_way(out), _video_ids(out)
    assert len(before["read_table"]) == 14 and len(videos_before) == 8
    done = compact(out, target_rows=6)  # 3 rows a video: 2 videos a file
    assert done.parts == 8 and len(done.files) == 4
    names = sorted(p.name for p in (out / "parquet" / "segments").iterdir())
    assert all(n.startswith("compact-") for n in names) and len(names) == 4
    assert _rows_every_way(out) == before and _video_ids(out) == videos_before

    state = State(out)
    target = state.get(discover_mod.content_id(src / "v3.mp4"))
    state.db.execute("UPDATE videos SET fingerprint = 'old' WHERE video_id = ?", (target.video_id,))
    state.close()

    class ThreeSegments(FakeAnalyzer):
        def analyze(self, video, on_stage):
            a = super().analyze(video, on_stage)
            extra = SegmentRecord(video.content_id, video.path, 2, 2.0, 3.0, (), a.segments[0].embedding, ("image",))
            return Analysis(a.video, a.segments + (extra,))

    again = ThreeSegments()
    run(src, out, again, auto_compact=None)
    assert again.calls == ["v3.mp4"]
    after = _rows_every_way(out)
    expected = sorted([r for r in before["read_table"] if r[0] != target.video_id]
                      + [(target.video_id, i, target.path, float(i)) for i in range(3)])
    assert all(rows == expected for rows in after.values()), after
    assert _video_ids(out) == videos_before
    assert (out / "parquet" / "segments" / f"{target.video_id}.parquet").exists()
    assert target.video_id not in compacted_keys(out)
    compact(out, target_rows=6)
    assert _rows_every_way(out)["duckdb"] == expected and _video_ids(out) == videos_before


def test_prune_and_moves_work_on_compacted_results(tmp_path):
    from mmvideo.write.compact import compact

    src, out = _library(tmp_path, n=4)
    compact(out)
    gone = read_table(out).to_pylist()[0]["path"]
    os.unlink(gone)
    os.rename(src / "v1.mp4", src / "moved.mp4")
    run(src, out, prune=True, auto_compact=None)
    rows = _rows_every_way(out)
    paths = {r[2] for r in rows["duckdb"]}
    assert all(r == rows["duckdb"] for r in rows.values())
    assert gone not in paths and str(src / "moved.mp4") in paths and str(src / "v1.mp4") not in paths
    assert len(rows["duckdb"]) == 6


def test_a_run_compacts_when_parts_pile_up(tmp_path):
    src = make_files(tmp_path / "in", [f"v{i}.mp4" for i in range(5)])
    out = tmp_path / "out"
    run(src, out, auto_compact=3)
    assert [p.name.startswith("compact-") for p in (out / "parquet" / "segments").iterdir()] == [True]
    assert len(read_table(out)) == 10


def test_a_killed_compaction_leaves_a_readable_folder_that_the_next_compact_finishes(tmp_path, monkeypatch):
    import mmvideo.write.compact as compaction

    _, out = _library(tmp_path)
    before, videos_before = _rows_every_way(out), _video_ids(out)
    real_rename, renames = compaction._rename, []

    def killed_midway(src, dst):  # the process dies in the second file's step, after its removes
        renames.append(dst)
        if len(renames) == 3:
            raise KeyboardInterrupt
        real_rename(src, dst)

    monkeypatch.setattr(compaction, "_rename", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        compaction.compact(out, target_rows=6)
    assert compaction.read_manifest(out)["phase"] == "swapping"
    for rows in _rows_every_way(out, mmvideo=False).values():  # plain readers may miss the rows being moved, never see one twice
        assert len(rows) == len(set(rows)) and set(rows) < set(before["read_table"])
    assert _video_ids(out) != videos_before
    # mmvideo's readers follow the journal (and roll it forward when they can take the lock)
    assert sorted((r["video_id"], r["segment"], r["path"], r["start"]) for r in read_table(out).to_pylist()) \
        == before["read_table"]
    assert compaction.read_manifest(out)["phase"] == "idle"
    assert _rows_every_way(out) == before and _video_ids(out) == videos_before
    monkeypatch.setattr(compaction, "_rename", real_rename)
    compaction.compact(out, target_rows=6)
    assert compaction.read_manifest(out)["phase"] == "idle"
    assert _rows_every_way(out) == before and _video_ids(out) == videos_before
    assert not [p for p in (out / "parquet").rglob(".*")]


def test_a_compaction_killed_while_writing_changes_nothing(tmp_path, monkeypatch):
    import mmvideo.write.compact as compaction

    _, out = _library(tmp_path)
    before = _rows_every_way(out)
    real_write, calls = compaction._write_row_group, []

    def dies_on_third(writer, table):  # the process dies while streaming the second file's rows
        calls.append(table.num_rows)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real_write(writer, table)

    monkeypatch.setattr(compaction, "_write_row_group", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        compaction.compact(out, target_rows=6)
    assert _rows_every_way(out) == before and compaction.read_manifest(out)["phase"] == "idle"
    monkeypatch.setattr(compaction, "_write_row_group", real_write)
    compaction.compact(out, target_rows=6)
    assert _rows_every_way(out) == before and not [p for p in (out / "parquet").rglob(".*")]


def test_compaction_streams_row_groups_and_merges_older_schemas(tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    import mmvideo.write.compact as compaction

    _, out = _library(tmp_path, n=6)
    seg = out / "parquet" / "segments"
    old_part = sorted(p for p in seg.iterdir() if p.name.endswith(".parquet"))[0]
    older = pq.read_table(old_part).drop_columns(["modalities"])  # written before a column existed
    pq.write_table(older, old_part)
    before = _rows_every_way(out)
    written = []
    real_write = compaction._write_row_group
    monkeypatch.setattr(compaction, "ROW_GROUP_ROWS", 4)
    monkeypatch.setattr(compaction, "_write_row_group", lambda w, t: written.append(t.num_rows) or real_write(w, t))
    done = compaction.compact(out)
    assert done.parts == 7 and len(done.files) == 1
    assert _rows_every_way(out) == before
    merged = pq.ParquetFile(seg / done.files[0])
    assert [merged.metadata.row_group(i).num_rows for i in range(merged.num_row_groups)] == [4, 4, 4]
    assert max(written) <= 4  # one row group in memory at a time, whatever the file's size
    table = merged.read()
    assert table.schema.field("modalities").type == pa.list_(pa.string())
    gone = older.column("video_id")[0].as_py()
    assert {r["video_id"] for r in table.to_pylist() if r["modalities"] is None} == {gone}


# --- search ---------------------------------------------------------------------------------------

class FixedEncoder:
    """Embeds every query as one fixed vector."""

    def __init__(self, vector):
        self.vector = np.asarray(vector, np.float32)

    def encode(self, texts):
        class Out:
            embeddings = np.stack([self.vector] * len(texts))
        return Out()


def _same_hits(a, b):
    """Same segments in the same order with the same tags, scores equal to float32 rounding."""
    return ([(h.video_id, h.segment, h.path, h.tags) for h in a] == [(h.video_id, h.segment, h.path, h.tags) for h in b]
            and np.allclose([h.score for h in a], [h.score for h in b], atol=1e-6))


def test_search_cache_ranks_as_the_full_read_and_follows_changes(tmp_path):
    from mmvideo.search import search, search_table
    from mmvideo.write.compact import compact

    def _search_table(out, query, k, enc):  # every part read whole (the table path)
        return search_table(out, enc.vector, k=k)

    src, out = _library(tmp_path, n=9)
    enc = FixedEncoder(read_table(out).to_pylist()[5]["embedding"])
    full = _search_table(out, "q", 6, enc)
    assert _same_hits(search(out, "q", k=6, encoder=enc, modality="fused"), full)  # builds the cache
    assert (out / ".mmvideo" / "search" / "index.json").exists()
    assert _same_hits(search(out, "q", k=6, encoder=enc, modality="fused"), full)  # reads it
    compact(out, target_rows=7)
    assert _same_hits(search(out, "q", k=6, encoder=enc, modality="fused"), full)  # compacted: rebuilt, same ranking
    (src / "v0.mp4").write_bytes(b"changed" * 30)
    os.utime(src / "v0.mp4", (OLD, OLD))
    run(src, out, auto_compact=None)
    assert _same_hits(search(out, "q", k=50, encoder=enc, modality="fused"), _search_table(out, "q", 50, enc))
    assert len(search(out, "q", k=50, encoder=enc, modality="fused")) == 20


def _near_ties(tmp_path, files=12, per_file=40, dim=24):
    """Parquet parts whose segments cluster around 5 directions (near-equal scores), with concept columns
    present on all (image), half (audio) and a few (text) segments."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(3)
    base = rng.standard_normal((5, dim)).astype(np.float32)
    vec = pa.list_(pa.float32(), dim)
    seg = tmp_path / "parquet" / "segments"
    seg.mkdir(parents=True)

    def column(share):
        m = base[rng.integers(0, 5, per_file)] + 0.05 * rng.standard_normal((per_file, dim)).astype(np.float32)
        keep = rng.random(per_file) < share
        return pa.array([m[i].tolist() if keep[i] else None for i in range(per_file)], vec)

    for f in range(files):
        vids = [f"f{f}v{i // 7}" for i in range(per_file)]
        pq.write_table(pa.table({
            "video_id": vids, "path": [f"/lib/{v}.mp4" for v in vids],
            "segment": pa.array(np.arange(per_file) % 7, pa.int32()), "start": np.arange(per_file) * 1.0,
            "end": np.arange(per_file) + 1.0, "tags": pa.array([[{"label": "x", "score": 0.5}]] * per_file),
            "embedding": column(1.0), "image_concept_embedding": column(0.9), "audio_concept_embedding": column(0.5),
            "text_concept_embedding": column(0.05)}), seg / f"p{f:03d}.parquet")
    return base


def test_search_cache_gives_the_table_paths_ranking_for_every_mode_and_rescores_few_rows(tmp_path, monkeypatch):
    import mmvideo.search_index as search_index
    from mmvideo.search import search_table, search_vectors

    base = _near_ties(tmp_path)
    rescored = []
    real_exact = search_index.Column.exact
    monkeypatch.setattr(search_index.Column, "exact",
                        lambda self, q, segs: rescored.append(len(segs)) or real_exact(self, q, segs))
    rng = np.random.default_rng(5)
    for trial in range(5):
        q = base[trial] + 0.1 * rng.standard_normal(base.shape[1]).astype(np.float32)
        for modality in ("any", "fused", "image", "text"):
            for videos in (False, True):
                for k in (1, 10, 200):
                    want = search_table(tmp_path, q, k=k, modality=modality, videos=videos)
                    got = search_vectors(tmp_path, q, k=k, modality=modality, videos=videos)
                    assert [(h.video_id, h.segment, h.matched, h.tags) for h in got] == \
                        [(h.video_id, h.segment, h.matched, h.tags) for h in want]
                    assert np.allclose([h.score for h in got], [h.score for h in want], atol=1e-6)
    assert (tmp_path / ".mmvideo" / "search" / "index.json").exists()
    assert np.median(rescored) < 480 / 4  # most segments are ranked out by their int8 bounds alone
