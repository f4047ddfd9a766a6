"""mmvideo: multimodal video analysis batch processor.

Stages, top to bottom: discover -> media (probe, demux) -> segment -> encode -> fuse -> write.
Importing this package is light: no TensorFlow, no Ray (they load when a command needs them).
"""

__version__ = "0.1.0"
