"""Trained fusion heads: your own labels in, a head out (``mmvideo train``, ``mmvideo evaluate``, ``--head``).

Layers of the package, each importing only those above it: ``labels`` (rows in, mapped onto segments), ``split``
(videos into train/validation/test), ``metrics``, ``dataset`` (evidence -> item-token arrays), ``layers`` and
``model`` (Keras 3), ``fit`` (training), ``report`` and ``card`` (evaluation, model card), ``head`` (the folder on
disk; light: no Keras until the model is loaded), ``tagger`` (the head in a pipeline), ``workflow`` (the commands'
work; the only module that runs a pipeline). ``synthetic`` makes labelled clips whose truth is known.
"""

FUSIONS = ("attention", "concat", "sum")
