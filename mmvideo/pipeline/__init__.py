"""The per-video pipeline: probe -> demux -> segment -> encode -> aggregate -> fuse, as one ``analyze`` call."""
