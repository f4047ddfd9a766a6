"""Model store: a registry of pretrained models (in code) and a verified on-disk cache filled offline."""
