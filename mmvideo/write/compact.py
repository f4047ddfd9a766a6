"""Merge per-video Parquet parts into large files, so a folder of 100,000 videos stays quick to read.

Layout: ``OUT/parquet/<table>/compact-<generation>-<n>.parquet`` beside the per-video parts
``<key>.parquet``. A compacted file holds whole videos whose per-video parts were removed: every key lives in
exactly one visible file, so a plain glob (pandas, DuckDB) never sees a row twice. Each compacted file lists
its keys with their row counts, in order, in its Parquet metadata (``mmvideo.parts``), so one video's rows
can be split off again without trusting any column.

Every change of that set of files is a *swap* journalled in ``OUT/.mmvideo/compact.json``: the new files are
written whole under hidden names and fsynced, then the journal is written (phase ``swapping``: per new file
a step naming the files it replaces and the hidden name to rename), then the steps run, then the journal
says ``idle``. A kill at any point leaves either hidden leftovers (deleted by the next ``compact``) or a
journal that ``recover`` rolls forward (removes and renames are idempotent): the next run, ``compact`` or
mmvideo reader that can take the run lock does so. In each step the removes run before the rename, so a plain
reader listing the folder during a swap (or after a kill mid-swap, until it is rolled forward) may miss the
rows of one new file, never see a row twice; mmvideo's own readers (``visible_parts``) apply the journal and
see every row once at any moment.

A video processed again after compaction is first split back out of its compacted file into its own part
(``evict``, one swap for all of a run's videos), so the new part replaces it as before; its old rows stay
visible until then. JSON Lines parts are not compacted.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mmvideo.errors import SetupError
from mmvideo.write.target import is_remote

TABLES = ("segments", "videos")
PREFIX = "compact-"
MANIFEST = Path(".mmvideo") / "compact.json"
PARTS_KEY = b"mmvideo.parts"
TARGET_ROWS = 65_536  # rows (segments + videos) per compacted file (~100 MB of embeddings): what evicting one
                      # video rewrites
ROW_GROUP_ROWS = 8_192
MAX_PARTS = 8_192  # videos per compacted file, whatever their rows: bounds compaction's memory
READ_AHEAD = 16  # videos read ahead of the writer
AUTO_COMPACT_PARTS = 1_000  # a run ends with a compaction when this many per-video parts have piled up


@dataclass
class Compaction:
    """What one ``compact`` did: per-video parts merged, compacted files written and replaced, rows kept."""

    parts: int = 0
    files: list[str] = field(default_factory=list)
    replaced: int = 0
    rows: int = 0


# --- the journal -----------------------------------------------------------------------------------

def read_manifest(out_dir: os.PathLike | str) -> dict:
    """The journal: ``generation``, ``phase`` (idle / swapping), ``files`` (compacted names), ``steps`` (each:
    ``remove``, ``rename``; relative paths); an empty idle journal when the folder was never compacted."""
    try:
        with open(Path(out_dir) / MANIFEST, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return {"generation": 0, "phase": "idle", "files": [], "steps": []}
    except ValueError as exc:
        raise SetupError(f"{out_dir}: unreadable compaction journal {MANIFEST} ({exc})") from None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_manifest(out: Path, manifest: dict) -> None:
    path = out / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _rename(src: Path, dst: Path) -> None:
    os.replace(src, dst)


def _apply(out: Path, manifest: dict) -> None:
    """Run a journalled swap step by step (each step's removes, then its renames; all idempotent), then mark
    it done."""
    for step in manifest["steps"]:
        for rel in step["remove"]:
            try:
                (out / rel).unlink()
            except FileNotFoundError:
                pass
        for tmp, final in step["rename"]:
            if (out / tmp).exists():
                _rename(out / tmp, out / final)
    for table in TABLES:
        if (out / "parquet" / table).is_dir():
            _fsync_dir(out / "parquet" / table)
    _write_manifest(out, {**manifest, "phase": "idle", "steps": []})


def _swap(out: Path, files: list[str], steps: list[dict]) -> None:
    """Journal then apply one swap: ``steps`` of ``remove`` (relative paths) then ``rename`` ((hidden, final)
    pairs); ``files``: the compacted names once it is done."""
    manifest = read_manifest(out)
    manifest = {"generation": manifest["generation"] + 1, "phase": "swapping", "files": files,
                "steps": [{"remove": st["remove"], "rename": [list(r) for r in st["rename"]]} for st in steps]}
    _write_manifest(out, manifest)
    _apply(out, manifest)


def recover(out_dir: os.PathLike | str) -> bool:
    """Finish a swap a killed process left half done (call under the run lock); True if there was one."""
    out = Path(out_dir)
    manifest = read_manifest(out)
    if manifest["phase"] != "swapping":
        return False
    _apply(out, manifest)
    return True


# --- reading ---------------------------------------------------------------------------------------

def is_compacted(name: str) -> bool:
    """True for a compacted file's name (not a per-video part)."""
    return name.startswith(PREFIX)


def _listing(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as it:
            return [e.name for e in it if e.name.endswith(".parquet") and not e.name.startswith(".")]
    except FileNotFoundError:
        return []


def visible_parts(out_dir: os.PathLike | str, table: str) -> tuple[list[tuple[str, Path]], dict]:
    """(name, path) of the Parquet files holding ``table``'s rows, each row once, even mid-swap (a file not yet
    renamed is read at its hidden path); and the journal read. Sorted by name. Readers re-read the journal
    afterwards (``read_manifest``) and retry when it changed.
    """
    out = Path(out_dir)
    manifest = read_manifest(out)
    folder = out / "parquet" / table
    names = set(_listing(folder))
    paths = {}
    if manifest["phase"] == "swapping":
        prefix = f"parquet/{table}/"
        names -= {rel[len(prefix):] for st in manifest["steps"] for rel in st["remove"] if rel.startswith(prefix)}
        for tmp, final in (r for st in manifest["steps"] for r in st["rename"]):
            if final.startswith(prefix) and final[len(prefix):] not in names and (out / tmp).exists():
                paths[final[len(prefix):]] = out / tmp
    paths.update({n: folder / n for n in names})
    return [(n, paths[n]) for n in sorted(paths)], manifest


def parts_of(path: os.PathLike | str) -> list[tuple[str, int]]:
    """A compacted file's (key, rows) list, in row order; [] for any other file."""
    meta = pq.read_schema(path).metadata or {}
    return [tuple(p) for p in json.loads(meta[PARTS_KEY])] if PARTS_KEY in meta else []


def drop_superseded_rows(table: pa.Table, parts: list[tuple[str, int]], newer: set[str]) -> pa.Table:
    """``table`` (a compacted file's rows) without the rows of keys in ``newer`` (they have their own part)."""
    if not parts or not newer.intersection(k for k, _ in parts):
        return table
    keep, offset = [], 0
    for key, rows in parts:
        if key not in newer:
            keep.append(table.slice(offset, rows))
        offset += rows
    return pa.concat_tables(keep) if keep else table.slice(0, 0)


# --- writing ---------------------------------------------------------------------------------------

def _write_hidden(path: Path, table: pa.Table, parts: list[tuple[str, int]] | None) -> None:
    """Write ``table`` whole and fsynced at hidden ``path`` (``parts``: the compacted metadata)."""
    if parts is not None:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), PARTS_KEY: json.dumps(parts)})
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pq.write_table(table, fh, compression="zstd", row_group_size=ROW_GROUP_ROWS)
        fh.flush()
        os.fsync(fh.fileno())


def _clean_leftovers(out: Path) -> None:
    """Delete hidden files an interrupted compaction or eviction left (not referenced by an idle journal)."""
    for table in TABLES:
        folder = out / "parquet" / table
        if folder.is_dir():
            for p in folder.glob(".*.cmp-*"):
                p.unlink(missing_ok=True)


def _read(path: Path) -> pa.Table:
    return pq.read_table(path)


class _Batcher:
    """Collects whole videos (both tables) and writes a pair of compacted files per ``target_rows``."""

    def __init__(self, out: Path, generation: int, target_rows: int) -> None:
        self.out, self.generation, self.target = out, generation, target_rows
        self.tables: dict[str, list[pa.Table]] = {t: [] for t in TABLES}
        self.parts: dict[str, list[tuple[str, int]]] = {t: [] for t in TABLES}
        self.rows = 0
        self.steps: list[dict] = []  # per file written: what it replaces, (hidden, final) relative paths
        self.sources: list[str] = []  # what the rows collected so far replace
        self.names: list[str] = []
        self.total_rows = 0

    def add(self, key: str, tables: dict[str, pa.Table | None], sources: Iterable[str] = ()) -> None:
        """Add one video's rows (a table may be None: no part); ``sources``: the files they replace."""
        self.sources += [s for s in sources if s not in self.sources]
        for t in TABLES:
            data = tables.get(t)
            if data is not None:
                self.tables[t].append(data)
                self.parts[t].append((key, data.num_rows))
        self.rows += sum(d.num_rows for d in tables.values() if d is not None)
        if self.rows >= self.target or len(self.parts["videos"]) >= MAX_PARTS:
            self.flush()

    def flush(self) -> None:
        """Write what was collected as one compacted file per table."""
        if not any(self.parts[t] for t in TABLES):
            return
        name = f"{PREFIX}{self.generation:06d}-{len(self.names):04d}.parquet"
        step = {"remove": self.sources, "rename": []}
        for t in TABLES:
            if not self.parts[t]:
                continue
            merged = pa.concat_tables(self.tables[t], promote_options="default")
            hidden = f"parquet/{t}/.{name}.cmp-{os.getpid()}"
            _write_hidden(self.out / hidden, merged, self.parts[t])
            step["rename"].append((hidden, f"parquet/{t}/{name}"))
            self.total_rows += merged.num_rows if t == "segments" else 0
        self.names.append(name)
        self.steps.append(step)
        self.sources = []
        self.tables = {t: [] for t in TABLES}
        self.parts = {t: [] for t in TABLES}
        self.rows = 0


def per_video_keys(out_dir: os.PathLike | str) -> list[str]:
    """Keys of the per-video Parquet parts (not compacted), sorted."""
    out = Path(out_dir)
    keys: set[str] = set()
    for t in TABLES:
        keys.update(n[: -len(".parquet")] for n in _listing(out / "parquet" / t) if not is_compacted(n))
    return sorted(keys)


@dataclass
class _Video:
    """One video going into a compacted file: per table where its rows are (a per-video part, or a slice
    (offset, rows) of an old compacted file) and how many; the files it replaces."""

    key: str
    where: dict[str, tuple] = field(default_factory=dict)  # table -> (path,) or (path, offset, rows)
    rows: dict[str, int] = field(default_factory=dict)
    schemas: dict[str, pa.Schema] = field(default_factory=dict)  # until planned (then dropped: memory)
    sources: list[str] = field(default_factory=list)


class _Reader:
    """Reads a video's rows of one table; keeps the last old compacted file read (its videos come in a row)."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.table: pa.Table | None = None
        self.lock = threading.Lock()

    def __call__(self, where: tuple) -> pa.Table:
        if len(where) == 1:  # a per-video part
            return pq.ParquetFile(where[0]).read()
        path, offset, rows = where
        with self.lock:
            if path != self.path:
                self.path, self.table = None, None  # drop the previous file before reading the next
                self.table, self.path = _read(path), path
            return self.table.slice(offset, rows)

    def ahead(self, wheres: list[tuple], window: int = READ_AHEAD) -> Iterator[pa.Table]:
        """``self(where)`` for each of ``wheres``, in order, read on a second thread up to ``window`` ahead
        (Parquet reads release the GIL: reading overlaps compressing and writing)."""
        with ThreadPoolExecutor(1) as pool:
            pending: deque = deque()
            for where in wheres:
                pending.append(pool.submit(self, where))
                if len(pending) > window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()


def _plan(videos: Iterable[_Video], target_rows: int) -> Iterable[tuple[list[_Video], dict[str, pa.Schema]]]:
    """Group videos into compacted files of about ``target_rows`` rows (at most ``MAX_PARTS`` videos) and
    the schema of each table of each file (the videos' schemas unified, as ``concat_tables`` would)."""
    batch: list[_Video] = []
    schemas: dict[str, pa.Schema] = {}
    rows = parts = 0
    for video in videos:
        for t, schema in video.schemas.items():
            if t not in schemas:
                schemas[t] = schema
            elif not schemas[t].equals(schema, check_metadata=False):
                schemas[t] = pa.unify_schemas([schemas[t], schema], promote_options="default")
        video.schemas = {}  # a batch of 8,192 videos' schemas and footers would hold about a gigabyte
        batch.append(video)
        rows += sum(video.rows.values())
        parts += "videos" in video.where
        if rows >= target_rows or parts >= MAX_PARTS:
            yield batch, schemas
            batch, schemas, rows, parts = [], {}, 0, 0
    if batch:
        yield batch, schemas


def _conform_to(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s fields, in its order and types (missing ones null)."""
    if table.schema.equals(schema, check_metadata=False):
        return table
    n = table.num_rows
    cols = [table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(n, f.type)
            for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


def _write_row_group(writer: pq.ParquetWriter, table: pa.Table) -> None:
    writer.write_table(table, row_group_size=ROW_GROUP_ROWS)


def _write_streamed(path: Path, schema: pa.Schema, parts: list[tuple[str, int]], tables: Iterable[pa.Table]) -> None:
    """Write ``tables`` (one per video, in ``parts`` order) as one file at hidden ``path``, whole and fsynced,
    in row groups of ``ROW_GROUP_ROWS``: memory holds one row group, not the file."""
    schema = schema.with_metadata({**(schema.metadata or {}), PARTS_KEY: json.dumps(parts)})
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        with pq.ParquetWriter(fh, schema, compression="zstd") as writer:
            pending: list[pa.Table] = []
            rows = 0
            for table in tables:
                pending.append(_conform_to(table, schema))
                rows += table.num_rows
                if rows >= ROW_GROUP_ROWS:
                    merged = pa.concat_tables(pending)
                    full = rows // ROW_GROUP_ROWS * ROW_GROUP_ROWS
                    _write_row_group(writer, merged.slice(0, full))
                    pending, rows = [merged.slice(full)], rows - full
            if rows or not parts:
                _write_row_group(writer, pa.concat_tables(pending) if pending else schema.empty_table())
        fh.flush()
        os.fsync(fh.fileno())


def compact(out_dir: os.PathLike | str, *, target_rows: int = TARGET_ROWS) -> Compaction:
    """Merge every per-video Parquet part (and compacted files under half ``target_rows``) into compacted
    files of about ``target_rows`` rows (segments + videos), streaming: one video's rows and one row group in
    memory at a time. Call under the run lock (``mmvideo compact`` takes it)."""
    out = Path(out_dir)
    recover(out)
    _clean_leftovers(out)
    manifest = read_manifest(out)
    keys = per_video_keys(out)
    small = [n for n in manifest["files"] if sum(_rows(out / "parquet" / t / n) for t in TABLES) < target_rows // 2
             and len(parts_of(out / "parquet" / "videos" / n) if (out / "parquet" / "videos" / n).exists()
                     else []) < MAX_PARTS // 2]
    result = Compaction(parts=len(keys))
    if not keys and len(small) <= 1:
        return result
    generation = manifest["generation"] + 1
    steps, names, reader = [], [], _Reader()
    for batch, schemas in _plan(_videos(out, small, keys), target_rows):
        name = f"{PREFIX}{generation:06d}-{len(names):04d}.parquet"
        step = {"remove": list(dict.fromkeys(s for v in batch for s in v.sources)), "rename": []}
        for t in TABLES:
            members = [v for v in batch if t in v.where]
            if not members:
                continue
            hidden = f"parquet/{t}/.{name}.cmp-{os.getpid()}"
            _write_streamed(out / hidden, schemas[t], [(v.key, v.rows[t]) for v in members],
                            reader.ahead([v.where[t] for v in members]))
            step["rename"].append((hidden, f"parquet/{t}/{name}"))
            result.rows += sum(v.rows[t] for v in members) if t == "segments" else 0
        names.append(name)
        steps.append(step)
    reader.table = None
    files = [n for n in manifest["files"] if n not in small] + names
    _swap(out, files, steps)
    result.files, result.replaced = names, len(small)
    return result


def _videos(out: Path, small: list[str], keys: list[str]) -> Iterable[_Video]:
    """The videos to compact: those of the small compacted files (an old file goes in the step of the first
    new file that takes its rows), then the per-video parts."""
    for name in small:
        sources = [f"parquet/{t}/{name}" for t in TABLES]
        found: dict[str, _Video] = {}
        for t in TABLES:
            path = out / "parquet" / t / name
            if not path.exists():
                continue
            schema, offset = pq.read_schema(path).remove_metadata(), 0  # not its parts list
            for key, rows in parts_of(path):
                video = found.setdefault(key, _Video(key, sources=sources))
                video.where[t], video.rows[t], video.schemas[t] = (path, offset, rows), rows, schema
                offset += rows
        yield from found.values()
    for key in keys:
        video = _Video(key)
        for t in TABLES:
            part = out / "parquet" / t / f"{key}.parquet"
            try:
                footer = pq.read_metadata(part)
            except FileNotFoundError:
                continue
            video.where[t], video.rows[t] = (part,), footer.num_rows
            video.schemas[t] = footer.schema.to_arrow_schema()
            video.sources.append(f"parquet/{t}/{key}.parquet")
        if video.where:
            yield video


def _rows(path: Path) -> int:
    try:
        return pq.read_metadata(path).num_rows
    except FileNotFoundError:
        return 0


def _split(path: Path) -> dict[str, pa.Table]:
    """A compacted file's rows by key (from its ``mmvideo.parts`` metadata); {} when it is absent."""
    if not path.exists():
        return {}
    table, split, offset = _read(path), {}, 0
    for key, rows in parts_of(path):
        split[key] = table.slice(offset, rows)
        offset += rows
    return split


def compacted_keys(out_dir: os.PathLike | str) -> dict[str, str]:
    """Key -> the compacted file holding it (read from the files' metadata; call after ``recover``)."""
    out = Path(out_dir)
    found = {}
    for name in read_manifest(out)["files"]:
        for t in TABLES:
            path = out / "parquet" / t / name
            if path.exists():
                found.update((k, name) for k, _ in parts_of(path))
    return found


def evict(out_dir: os.PathLike | str, keys: Iterable[str]) -> int:
    """Split ``keys`` back out of their compacted files into per-video parts (one swap), so a run can replace or
    remove them part by part; returns how many were compacted. Call under the run lock."""
    if is_remote(out_dir):  # runs never compact an object store's parts
        return 0
    out = Path(out_dir)
    manifest = read_manifest(out)
    if not manifest["files"]:
        return 0
    recover(out)
    where = compacted_keys(out)
    wanted = {k for k in keys if k in where}
    if not wanted:
        return 0
    affected = sorted({where[k] for k in wanted})
    generation = manifest["generation"] + 1
    batch = _Batcher(out, generation, 1 << 62)
    steps = []
    for name in affected:  # one step per affected file: it goes, its other videos' new file and the parts come
        split = {t: _split(out / "parquet" / t / name) for t in TABLES}
        rename = []
        for key in dict.fromkeys(k for t in TABLES for k in split[t]):
            tables = {t: split[t].get(key) for t in TABLES}
            if key not in wanted:
                batch.add(key, tables)
                continue
            for t, data in tables.items():
                if data is not None:
                    hidden = f"parquet/{t}/.{key}.parquet.cmp-{os.getpid()}"
                    _write_hidden(out / hidden, data.replace_schema_metadata(None), None)
                    rename.append((hidden, f"parquet/{t}/{key}.parquet"))
        batch.flush()
        kept = batch.steps.pop()["rename"] if batch.steps else []
        steps.append({"remove": [f"parquet/{t}/{name}" for t in TABLES], "rename": kept + rename})
    files = [n for n in manifest["files"] if n not in affected] + batch.names
    _swap(out, files, steps)
    return len(wanted)


def loose_parts(out_dir: os.PathLike | str) -> int:
    """How many per-video Parquet parts the segments folder holds (what compaction would merge)."""
    return sum(1 for n in _listing(Path(out_dir) / "parquet" / "segments") if not is_compacted(n))
