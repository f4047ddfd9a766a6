"""Encoders: a batch of items in, per-item embeddings (and class scores) out; one module per modality."""
