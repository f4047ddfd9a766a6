"""File-name extensions that say what a file claims to be: media, sidecars, non-media, partial downloads.

One table shared by discovery (which files to pick) and probing (how to word an error). Lower case, with the
dot, compared against ``os.path.splitext(name)[1].lower()``.
"""

from __future__ import annotations

VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mts", ".m2ts", ".ts", ".m2t", ".mpg", ".mpeg",
    ".vob", ".wmv", ".asf", ".flv", ".f4v", ".3gp", ".3g2", ".ogv", ".dv", ".mxf",
})
AUDIO_EXTENSIONS = frozenset({
    ".flac", ".mp3", ".wav", ".m4a", ".ogg", ".opus", ".aac", ".mka", ".wma", ".aif", ".aiff", ".amr",
    ".ac3",
})
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS | AUDIO_EXTENSIONS
# Media extensions that other common files share (".ts": TypeScript source): discovery checks their content.
AMBIGUOUS_EXTENSIONS = frozenset({".ts"})

SUBTITLE_EXTENSIONS = frozenset({".srt", ".vtt", ".ass", ".ssa", ".sub", ".idx", ".sup", ".smi", ".sami",
                                 ".ttml", ".dfxp", ".lrc", ".sbv"})
# Obvious non-media: text, data, images, documents, archives, code. Never probed, never picked.
NOT_MEDIA_EXTENSIONS = SUBTITLE_EXTENSIONS | frozenset({
    ".txt", ".md", ".rst", ".json", ".jsonl", ".csv", ".tsv", ".xml", ".html", ".htm", ".yaml", ".yml",
    ".toml", ".ini", ".cfg", ".log", ".nfo", ".xmp", ".pdf", ".doc", ".docx", ".odt", ".rtf",
    ".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".heic", ".heif", ".avif", ".svg",
    ".ico", ".psd", ".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".thm",
    ".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".rar",
    ".py", ".sh", ".js", ".c", ".h", ".exe", ".dll", ".so", ".dylib", ".bin", ".iso",
    ".parquet", ".arrow", ".npy", ".npz", ".pkl", ".db", ".sqlite", ".m3u", ".m3u8", ".pls", ".cue",
    ".torrent", ".lnk", ".url", ".ds_store",
})
# Downloads still in progress: the final name appears when they are complete.
PARTIAL_EXTENSIONS = frozenset({".part", ".crdownload", ".tmp", ".download", ".partial"})
