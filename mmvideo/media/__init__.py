"""Media layer: find ffmpeg, probe files (PyAV) and demux frames, audio and subtitles (ffmpeg CLI)."""
