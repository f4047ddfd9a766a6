"""Zero-shot fusion: every modality as a token in the text encoder's space, tags scored by label-query attention.

Modules: ``vocab`` (tag vocabularies), ``maps`` (curated ImageNet / AudioSet -> tag tables), ``tokens`` (pure
numpy: encoder outputs -> modality tokens), ``layer`` (the Keras ``LabelQueryAttention`` layer) and
``layer_numpy`` (its zero-shot forward pass in numpy, what runs use), ``records`` (the fusion stage's
input/output records) and ``tagger`` (``ZeroShotTagger``: all of it for a batch of segments).
Keras is imported only by ``layer``, and by ``tagger`` when it is given a Keras layer.
"""
