"""decoder.onnx: a model's decoder as an ONNX file, so that a web page can decode codes itself (onnxruntime-web).

The file's contract (format "latent-explorer-decoder/1"):

    inputs    z      float32 [N, D]     N is dynamic; D = the model's latent_dim
              label  int64   [N]        conditional models (cvae) only: class ids 0..C-1
    output    image  float32 [N, H, W]  pixel probabilities in [0, 1] (the sigmoid applied, a grayscale model's one
                                        channel dropped; a colour model's is [N, 3, H, W]): what explorer.backends.autoencoder.AutoencoderBackend.decode returns
    opset 17; metadata_props: format, latent_dim, num_classes, image_shape (JSON list [C, H, W]) and weights_sha256
    (the sha256 of the folder's model.safetensors, so an export that predates a retrain is seen as stale).

    export_folder(folder)                       -> writes FOLDER/decoder.onnx from FOLDER's weights
    export_decoder(model, path, weights_sha256) -> writes one file from a model in memory
    check_decoder_file(path, ...)               -> None for a valid, current file, else what is wrong with it

Every file is written to a temporary name next to it and renamed into place, and only after onnxruntime (when it is
installed: a test dependency, not a runtime one) has decoded 100 random codes within 1e-5 of torch's decode.
Needs the `onnx` package (requirements.txt); the graph is traced by torch's TorchScript-based exporter.
"""
from __future__ import annotations

import copy
import io
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import checkpoint as ckpt
from .files import file_sha256
from .models import LatentModel

FORMAT = "latent-explorer-decoder/1"
DECODER_NAME = "decoder.onnx"
OPSET = 17
TOLERANCE = 1e-5          # max abs difference from torch's decode, in probability units
CHECK_CODES = 100         # random codes (and labels) decoded by both at export time
MAX_FILE_BYTES = 200_000_000


class ExportError(RuntimeError):
    """A decoder that cannot be exported, or whose export does not decode as torch does; the message says why."""


def _onnx():
    try:
        import onnx
    except ImportError as e:
        raise ExportError("the onnx package is not installed, so no decoder.onnx can be written or checked: "
                          "`pip install onnx==1.19.1` (see requirements.txt).") from e
    return onnx


class _DecoderGraph(nn.Module):
    """z (N, D) [, label (N,)] -> (N, H, W) probabilities ((N, C, H, W) for colour), through the decoder's own layers.

    Not model.decode: that goes through LatentModel._condition, whose checks on the labels (y.numel(), y.min(),
    y.max()) are Python branches on tensor values, which a trace freezes at the example batch's outcome. Here the
    one-hot is computed in the graph (label == 0..C-1), for any batch; an id outside 0..C-1 gives a row of zeros."""

    def __init__(self, decoder: nn.Module, num_classes: int, channels: int = 1):
        super().__init__()
        self.decoder = decoder
        self.grayscale = channels == 1       # one channel: the (N, H, W) output every grayscale file has had
        self.conditional = num_classes > 0
        self.register_buffer("classes", torch.arange(max(num_classes, 1)).view(1, -1), persistent=False)

    def forward(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        c = (label.view(-1, 1) == self.classes).to(z.dtype) if self.conditional else None
        out = torch.sigmoid(self.decoder(z, c))                                  # (N, C, H, W)
        return out.squeeze(1) if self.grayscale else out


def output_shape(image_shape) -> list[int]:
    """The "image" output's shape past the batch: [H, W] for one channel (as every grayscale decoder.onnx has
    been), [C, H, W] for colour. image_shape is (C, H, W), or (H, W) for grayscale."""
    shape = [int(s) for s in image_shape]
    return shape[-2:] if len(shape) == 2 or shape[0] == 1 else shape


def _output_layout(images: torch.Tensor) -> torch.Tensor:
    """model.decode's (N, C, H, W) in the file's layout: (N, H, W) for one channel, unchanged for colour."""
    return images[:, 0] if images.shape[1] == 1 else images


def _trace(model: LatentModel) -> bytes:
    """The decoder of an eval-mode CPU float32 model as ONNX bytes (no metadata yet)."""
    d, c = model.latent_dim, model.num_classes
    graph = _DecoderGraph(model.decoder, c, model.config.image_shape[0]).eval()
    example = (torch.zeros(2, d),) + ((torch.arange(2) % c,) if c else ())
    names = ["z", "label"][:len(example)]
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # Any value the trace would freeze is an error here, not a warning: the file must decode every batch alike.
        warnings.simplefilter("error", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message=".*feature will be removed.*")
        try:
            torch.onnx.export(graph, example, buf, dynamo=False, input_names=names, output_names=["image"],
                              dynamic_axes={n: {0: "N"} for n in names + ["image"]}, opset_version=OPSET,
                              do_constant_folding=True)
        except torch.jit.TracerWarning as e:
            raise ExportError(f"the decoder's trace depends on its example batch ({e}); "
                              "it cannot be exported as one graph.") from e
    return buf.getvalue()


def verify(data: bytes | str | Path, model: LatentModel, n: int = CHECK_CODES, seed: int = 0) -> float | None:
    """Decode n random codes (and random labels) with onnxruntime and with torch; return the max abs difference,
    or None when onnxruntime is not installed. Raises ExportError when it exceeds TOLERANCE."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(data if isinstance(data, bytes) else str(data), opts,
                                providers=["CPUExecutionProvider"])
    model = model if not model.training else copy.deepcopy(model).eval()
    g = torch.Generator().manual_seed(seed)
    worst = 0.0
    for size in (n, 1):   # a batch, and one code: N is dynamic
        z = torch.randn(size, model.latent_dim, generator=g) * 3
        y = torch.randint(0, model.num_classes, (size,), generator=g) if model.num_classes else None
        with torch.inference_mode():
            ref = model.decode(z.to(_device(model)), None if y is None else y.to(_device(model)))
        ref = _output_layout(ref).float().cpu().numpy()
        feed = {"z": z.numpy()} | ({"label": y.numpy()} if y is not None else {})
        out = sess.run(["image"], feed)[0]
        if out.shape != ref.shape:
            raise ExportError(f"onnxruntime decoded {size} codes to shape {list(out.shape)}, torch to "
                              f"{list(ref.shape)}; the export is wrong and was not kept.")
        diff = float(np.abs(out.astype(np.float64) - ref).max()) if np.isfinite(out).all() else float("inf")
        if not diff <= TOLERANCE:
            raise ExportError(f"onnxruntime's decode differs from torch's by up to {diff:.3g} on {size} random codes "
                              f"(the limit is {TOLERANCE:g}); the export is wrong and was not kept.")
        worst = max(worst, diff)
    return worst


def _device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def export_decoder(model: LatentModel, path: str | Path, *, weights_sha256: str | None = None,
                   check: bool = True) -> dict:
    """Write `model`'s decoder to `path` (atomically) as the contract above says; returns
    {"path", "bytes", "seconds", "max_abs_diff"} (max_abs_diff None when onnxruntime is absent or check=False).

    weights_sha256: the sha256 of the model.safetensors the model was loaded from; None takes that of the
    model.safetensors beside `path` (the usual case: FOLDER/decoder.onnx). Raises ExportError."""
    t0 = time.time()
    path = Path(path)
    if weights_sha256 is None:
        weights = path.parent / ckpt.WEIGHTS_NAME
        if not weights.is_file():
            raise ExportError(f"{weights} is missing, so decoder.onnx cannot record which weights it holds; "
                              "pass weights_sha256=.")
        weights_sha256 = file_sha256(weights)
    onnx = _onnx()
    m = copy.deepcopy(model).cpu().float().eval()   # the caller's model is left as it was (mode, device, buffers)
    proto = onnx.load_from_string(_trace(m))
    meta = {"format": FORMAT, "latent_dim": str(m.latent_dim), "num_classes": str(m.num_classes),
            "image_shape": json.dumps([int(s) for s in m.config.image_shape]), "weights_sha256": weights_sha256}
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    # The tracer names the output's height and width symbolically; they are fixed (and the page reads them here).
    for dim, size in zip(proto.graph.output[0].type.tensor_type.shape.dim[1:], output_shape(m.config.image_shape)):
        dim.Clear()
        dim.dim_value = int(size)
    onnx.checker.check_model(proto)
    onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)  # the declared shapes hold
    data = proto.SerializeToString()
    diff = verify(data, m) if check else None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ckpt._atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}.") from e
    return {"path": str(path), "bytes": len(data), "seconds": round(time.time() - t0, 3), "max_abs_diff": diff}


def export_folder(folder: str | Path, out: str | Path | None = None, *, check: bool = True) -> dict:
    """Export a model folder's decoder to FOLDER/decoder.onnx (or `out`), from the weights on disk: the file then
    records the sha256 of exactly those weights. Raises training.ModelLoadError or ExportError."""
    folder = Path(folder)
    model = ckpt.load_model(folder)
    sha = file_sha256(folder / ckpt.WEIGHTS_NAME)
    return export_decoder(model, out if out is not None else folder / DECODER_NAME, weights_sha256=sha, check=check)


def check_decoder_file(path: str | Path, latent_dim: int, num_classes: int, image_shape,
                       weights_sha256: str | None = None) -> str | None:
    """None when `path` is a decoder.onnx of this contract for a model of this latent size, class count and image
    shape ((H, W) or (C, H, W); output_shape gives the "image" output's), exported from the weights with this sha256 (when given); otherwise a phrase saying
    what is wrong, e.g. "takes codes of size 3, but the model's latent size is 4". Raises ExportError only when
    onnx is not installed."""
    onnx = _onnx()
    path = Path(path)
    if not path.is_file():
        return "is missing"
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        return f"is {size} bytes, far too large for a decoder"
    try:
        proto = onnx.load(str(path), load_external_data=False)
        onnx.checker.check_model(proto)
    except Exception as e:  # noqa: BLE001 - protobuf's DecodeError, onnx's ValidationError, ...
        return f"is not a readable ONNX model ({type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''})"
    meta = {p.key: p.value for p in proto.metadata_props}
    if meta.get("format") != FORMAT:
        return (f"was not written by this exporter (its format is {meta.get('format')!r}, "
                f"expected {FORMAT!r})")
    hw = output_shape(image_shape)

    def dims(value) -> list:
        t = value.type.tensor_type
        return [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]

    inputs = {i.name: i for i in proto.graph.input}
    outputs = {o.name: o for o in proto.graph.output}
    want_inputs = {"z", "label"} if num_classes else {"z"}
    if set(inputs) != want_inputs:
        return (f"has inputs {sorted(inputs)}, but a {'conditional' if num_classes else 'unconditional'} model's "
                f"decoder takes {sorted(want_inputs)}")
    z = inputs["z"]
    if z.type.tensor_type.elem_type != onnx.TensorProto.FLOAT or len(dims(z)) != 2:
        return "has a z input that is not float32 [N, D]"
    if dims(z)[1] != latent_dim:
        return f"takes codes of size {dims(z)[1]}, but the model's latent size is {latent_dim}"
    if num_classes:
        lab = inputs["label"]
        if lab.type.tensor_type.elem_type != onnx.TensorProto.INT64 or len(dims(lab)) != 1:
            return "has a label input that is not int64 [N]"
        if meta.get("num_classes") != str(num_classes):
            return f"was exported for {meta.get('num_classes')} classes, but the model has {num_classes}"
    if set(outputs) != {"image"}:
        return f"has outputs {sorted(outputs)}, expected ['image']"
    img = outputs["image"]
    if img.type.tensor_type.elem_type != onnx.TensorProto.FLOAT or dims(img)[1:] != hw:
        return f"makes images of shape {dims(img)[1:]}, but the model's are {hw}"
    if meta.get("latent_dim") != str(latent_dim) or (not num_classes and meta.get("num_classes") != "0"):
        return (f"records latent_dim {meta.get('latent_dim')} and num_classes {meta.get('num_classes')}, "
                f"but the model has {latent_dim} and {num_classes}")
    try:
        shape = json.loads(meta.get("image_shape", "null"))
    except ValueError:
        shape = None
    if not isinstance(shape, list) or output_shape(shape) != hw:
        return f"records image_shape {meta.get('image_shape')}, but the model's images are {hw}"
    if weights_sha256 is not None and meta.get("weights_sha256") != weights_sha256:
        return ("is stale: it was exported from other weights than the folder's model.safetensors "
                "(weights_sha256 differs)")
    return None


__all__ = ["FORMAT", "DECODER_NAME", "OPSET", "TOLERANCE", "ExportError", "export_decoder", "export_folder",
           "check_decoder_file", "verify", "file_sha256"]
