"""Registry entries, one module per role; each defines ``SPECS: tuple[ModelSpec, ...]``."""
