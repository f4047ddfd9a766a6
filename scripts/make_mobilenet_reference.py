"""Write tests/data/mobilenet_v2_reference.npz: torch's MobileNetV2 outputs on scikit-image photos.

The reference for mmvideo's Keras/LiteRT port. Runs in a throwaway venv, never in mmvideo's (torch is not a
dependency). torchvision's compiled ops do not load against the CPU torch wheel available here, so the
forward pass below is torchvision's ``MobileNetV2.forward`` written out with ``torch.nn.functional`` over the
state dict that ``torch.load`` reads (torch's own reader, independent of mmvideo's numpy one); layer order,
padding (1 on every side for 3x3 convs), BatchNorm eps 1e-5 (eval statistics) and ReLU6 as torchvision.

How it was run (2026-11-29):
    python3 -m venv /tmp/torchref
    /tmp/torchref/bin/pip install torch==2.13.0 numpy scikit-image==0.26.0 opencv-python-headless==5.0.0.93
    /tmp/torchref/bin/python scripts/make_mobilenet_reference.py \
        ~/.cache/mmvideo/models/mobilenet_v2/1/mobilenet_v2-b0353104.pth

Also writes the two tiny state dicts the reader's tests use (see ``write_tiny_state_dicts``).

Inputs: each photo centre-cropped to a square, resized to 224x224 with cv2.INTER_AREA (the image encoder's
"crop" policy), uint8; its sha256 is stored so the test knows it feeds the very same pixels.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import cv2
import numpy as np
import skimage.data
import torch
import torch.nn.functional as F

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "stereo_motorcycle")
SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "mobilenet_v2_reference.npz"


def photo(name: str) -> np.ndarray:
    img = getattr(skimage.data, name)()
    img = img[0] if isinstance(img, tuple) else img
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return cv2.resize(np.ascontiguousarray(img[top:top + s, left:left + s]), (224, 224),
                      interpolation=cv2.INTER_AREA)


def conv_bn(sd: dict, x: torch.Tensor, conv: str, bn: str, stride: int = 1, groups: int = 1,
            relu6: bool = True) -> torch.Tensor:
    w = sd[f"{conv}.weight"]
    x = F.conv2d(x, w, None, stride=stride, padding=(w.shape[-1] - 1) // 2, groups=groups)
    x = F.batch_norm(x, sd[f"{bn}.running_mean"], sd[f"{bn}.running_var"], sd[f"{bn}.weight"],
                     sd[f"{bn}.bias"], training=False, eps=1e-5)
    return F.relu6(x) if relu6 else x


def forward(sd: dict, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = conv_bn(sd, x, "features.0.0", "features.0.1", stride=2)
    cin, idx = 32, 1
    for t, c, n, s in SETTING:
        for i in range(n):
            stride = s if i == 0 else 1
            p = f"features.{idx}.conv"
            y, j = x, 0
            if t != 1:
                y = conv_bn(sd, y, f"{p}.0.0", f"{p}.0.1")
                j = 1
            y = conv_bn(sd, y, f"{p}.{j}.0", f"{p}.{j}.1", stride=stride, groups=cin * t)
            y = conv_bn(sd, y, f"{p}.{j + 1}", f"{p}.{j + 2}", relu6=False)
            x = x + y if stride == 1 and cin == c else y
            cin, idx = c, idx + 1
    x = conv_bn(sd, x, f"features.{idx}.0", f"features.{idx}.1")
    emb = F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)
    return emb, F.linear(emb, sd["classifier.1.weight"], sd["classifier.1.bias"])


def write_tiny_state_dicts() -> None:
    """tests/data/tiny_state_dict_{legacy,zip}.pt: a few tensors with known values, in both torch formats,
    for mmvideo's torch-free reader (shared storage, storage offset, non-contiguous stride, dtypes)."""
    from collections import OrderedDict

    big = torch.arange(10, dtype=torch.float64)
    sd = OrderedDict(
        a=torch.arange(6, dtype=torch.float32).reshape(2, 3),
        b=torch.arange(12, dtype=torch.int64).reshape(3, 4).t(),  # stride (1, 4)
        c=torch.tensor(3.5),  # 0-d
        d=big[2:5],  # storage offset 2, storage shared with e
        e=big,
        h=torch.tensor([0.5, -2.0], dtype=torch.float16),
    )
    torch.save(sd, OUT.parent / "tiny_state_dict_legacy.pt", _use_new_zipfile_serialization=False)
    torch.save(sd, OUT.parent / "tiny_state_dict_zip.pt")


def main(pth: str) -> None:
    write_tiny_state_dicts()
    sd = torch.load(pth, map_location="cpu", weights_only=True)
    imgs = np.stack([photo(n) for n in PHOTOS])
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255.0
    with torch.no_grad():
        emb, logits = forward(sd, (x - MEAN) / STD)
    emb, logits = emb.numpy(), logits.numpy()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        OUT,
        photos=np.array(PHOTOS),
        input_sha256=np.array([hashlib.sha256(im.tobytes()).hexdigest() for im in imgs]),
        logits=logits.astype(np.float32),  # (5, 1000)
        top5=np.argsort(-logits, axis=1)[:, :5],
        embedding_head=emb[:, :16].astype(np.float32),  # first 16 of the 1280 values
        embedding_norm=np.linalg.norm(emb, axis=1).astype(np.float32),
        torch_version=np.array(torch.__version__),
    )
    for name, top in zip(PHOTOS, np.argsort(-logits, axis=1)[:, :5]):
        print(name, top.tolist())
    print("wrote", OUT)


if __name__ == "__main__":
    main(sys.argv[1])
