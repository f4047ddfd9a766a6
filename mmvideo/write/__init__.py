"""Writers: per-video parts in Parquet and JSON Lines, written atomically (temp name, then rename)."""
