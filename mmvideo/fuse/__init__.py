"""Zero-shot fusion: every modality as a token in the text encoder's space, tags scored by label-query attention.

Modules: ``vocab`` (tag vocabularies), ``maps`` (curated ImageNet / AudioSet -> tag tables), ``tokens`` (pure
numpy: encoder outputs -> modality tokens), ``layer`` (the Keras ``LabelQueryAttention`` layer), ``records``
(the fusion stage's input/output records) and ``tagger`` (``ZeroShotTagger``: all of it for a batch of segments).
Keras is imported only by ``layer`` and ``tagger``, on use.
"""
