"""Triton Python-backend model: encoded image bytes -> the ResNet's float32 CHW input.

This file is copied verbatim into a generated model repository as
``<name>_preprocess/1/model.py``; it must stay self-contained (numpy + Pillow
only, no resnet_deploy import) because it runs inside the Triton container.
The preprocessing numbers come from the model's ``config.pbtxt`` parameters,
which ``resnet-deploy triton-repo`` fills from the artifact manifest, so this
code and ``resnet_deploy.preprocess`` must do the same thing: decode, convert
to 8-bit RGB (alpha over white), resize the shorter side, centre-crop, scale,
normalise, HWC -> CHW. With ``layout`` NHWC (a raw-pixel network, whose first
layer holds the normalisation) the uint8 HWC crop is returned as it is.
A test checks both agree on sample images.
"""

from __future__ import annotations

import io
import json

import numpy as np

try:  # provided by Triton's Python backend at run time
    import triton_python_backend_utils as pb_utils
except ImportError:  # pragma: no cover - imported outside Triton (docs, linters)
    pb_utils = None

_RESAMPLE = {"nearest": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3}


def _to_rgb(img):
    from PIL import Image

    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        img = Image.fromarray(arr.astype(np.uint8), mode="L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    return img.convert("RGB")


class Preprocessor:
    """The manifest's preprocessing, read from the model config parameters."""

    def __init__(self, params):
        self.resize = int(params["resize"])
        self.crop = int(params["crop"])
        self.mean = np.asarray([float(v) for v in params["mean"].split(",")], dtype=np.float32)
        self.std = np.asarray([float(v) for v in params["std"].split(",")], dtype=np.float32)
        self.scale = np.float32(float(params.get("scale", 1.0 / 255.0)))
        self.channel_order = params.get("channel_order", "RGB")
        self.resample = _RESAMPLE.get(params.get("interpolation", "bilinear"), 2)
        self.dtype = np.dtype(params.get("dtype", "float32"))  # the network's input type
        self.layout = params.get("layout", "NCHW")

    def __call__(self, data):
        """Encoded image bytes -> [3, crop, crop] array ([crop, crop, 3] uint8 for NHWC); ValueError if undecodable."""
        from PIL import Image

        if not data:
            raise ValueError("image bytes are empty (0 bytes); send an encoded JPEG/PNG")
        try:
            img = Image.open(io.BytesIO(bytes(data)))
            img.load()
        except Exception as exc:  # any decoder failure is a bad request
            raise ValueError(f"image bytes cannot be decoded as an image ({type(exc).__name__})") from exc
        img = _to_rgb(img)
        w, h = img.size
        if w <= h:
            nw, nh = self.resize, max(1, int(round(self.resize * h / w)))
        else:
            nw, nh = max(1, int(round(self.resize * w / h))), self.resize
        if (nw, nh) != (w, h):
            img = img.resize((nw, nh), resample=self.resample)
        left = int(round((nw - self.crop) / 2.0))
        top = int(round((nh - self.crop) / 2.0))
        img = img.crop((left, top, left + self.crop, top + self.crop))
        if self.layout == "NHWC":  # raw-pixel network: it normalises inside
            return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))
        arr = np.asarray(img, dtype=np.uint8).astype(np.float32) * self.scale
        if self.channel_order == "BGR":
            arr = arr[..., ::-1]
        arr = (arr - self.mean) / self.std
        return np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32).astype(self.dtype, copy=False)


class TritonPythonModel:
    """Triton's Python-backend entry points: initialize / execute / finalize."""

    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        self.preprocess = Preprocessor(params)
        self.input_name = params.get("input_name", "image")
        self.output_name = params.get("output_name", "input")

    def execute(self, requests):
        """One response per request; a bad image fails only its own request."""
        responses = []
        for request in requests:
            images = pb_utils.get_input_tensor_by_name(request, self.input_name).as_numpy()
            try:
                flat = images.reshape(-1)
                batch = np.stack([self.preprocess(item) for item in flat])
                out = pb_utils.Tensor(self.output_name, batch)
                responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
            except ValueError as exc:
                responses.append(
                    pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(str(exc)))
                )
        return responses

    def finalize(self):
        self.preprocess = None
