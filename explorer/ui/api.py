"""Every named API endpoint in one table: name -> (function, inputs, outputs). "Use via API" in the page footer
lists them; gradio_client calls them as client.predict(..., api_name="/decode").

Each endpoint is a plain function over explorer.tools with its docstring as the API description. The inputs and
outputs are hidden components that give the endpoints their typed signature; every one takes raw JSON
(preprocess=False) and checks it in explorer.validation, like the page's own events.
"""
from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import gradio as gr
import numpy as np
from gradio.utils import get_upload_folder

from ..modalities.image import as_unit_float, sheet
from ..tools import (arithmetic, compare, drawing, dynamics, explore, export, interpolation, neighbours, selection,
                     traversal, typed_text)
from ..validation import InputError
from .context import PageContext, friendly
from .gradio_patches import explain_bad_files
from .tabs.drawing import IMAGE_INPUT_ERROR


def endpoints(reg) -> dict:
    """name -> the endpoint's function (each wrapped by friendly: mistakes come back as messages)."""

    @friendly
    def decode(model: str, z: list, label: int = -1):
        """Decode latent vector z (a list of latent_dim floats) with a model; label is a class id for
        conditional models, -1 otherwise. Returns a 280x280 grayscale image (a text model: the greedy sentence, a
        string)."""
        return explore.decode_image(reg, model, z, label)

    @friendly
    def reconstruct(model: str, index: int):
        """Reconstruct test image `index` (0..9999) of a model's latent map. Returns the original image,
        its reconstruction (both 280x280), z, the code it was decoded from, and {source, bce, note}: source "encoder"
        (z is the latent mean) or, for a GAN, "inversion" (z is the code an optimiser found for the image, stored in
        the map; the reconstruction is G(z)), bce the reconstruction error in nats."""
        return explore.reconstruct_point(reg, model, index)

    @friendly
    def list_models():
        """Every model the app offers, with kind, dataset, latent_dim, class names and test metrics."""
        return explore.list_models(reg)

    @friendly
    def interpolate(model: str, index_a: int, index_b: int, steps: int = 8, mode: str = "linear",
                    class_mode: str = "fixed"):
        """Decode the path between test images index_a and index_b (0..N-1): `steps` images (2..32, both ends
        included), mode "linear" or "slerp"; for a conditional model class_mode "fixed" (A's class throughout) or
        "sweep" (A's class, then B's). Returns the labelled strip (PNG) and {z, t, labels, captions, path, note}."""
        loaded = reg.get(model)
        res = interpolation.interpolate(loaded, index_a, index_b, steps, mode, class_mode)
        info = {k: res[k] for k in ("z", "t", "labels", "captions", "path", "note")}
        info.update(a=res["a"]["name"], b=res["b"]["name"])
        if explore.is_text(loaded):  # the homotopy: the sentences along the path, as text and as a list
            info["texts"] = [str(t) for t in res["images"]]
            return interpolation.strip_text(res), info
        return interpolation.strip_image(res), info

    @friendly
    def traverse(model: str, z: list, label: int = -1):
        """Traversal grid around z (a list of latent_dim floats): one row per latent dimension, 9 columns where that
        dimension takes -3..3, rows ordered by KL per dimension (variance of the codes for an AE); label: class id
        for a conditional model, -1 otherwise. Returns the labelled grid (PNG) and its rows
        [{dim, name, score, active, values}], the measure and a note."""
        loaded = reg.get(model)
        res = traversal.traverse(loaded, z, label)
        rows = [{k: r[k] for k in ("dim", "name", "score", "active", "values")} for r in res["rows"]]
        if explore.is_text(loaded):  # a table of sentences: each row's 9 decodes
            for r, texts in zip(rows, res["images"]):
                r["sentences"] = [str(t) for t in texts]
            return traversal.traversal_text(res), {"rows": rows, "measure": res["measure"], "note": res["note"]}
        return traversal.traversal_image(res), {"rows": rows, "measure": res["measure"], "note": res["note"]}

    @friendly
    def neighbours_(model: str, z: list, k: int = neighbours.N_NEIGHBOURS):
        """The k (1..64, default 8) test images whose latent means are nearest to z, nearest first. Returns them as
        one sheet (PNG) and a list of {index, label, class_name, distance}."""
        loaded = reg.get(model)
        found = neighbours.nearest_neighbours(loaded, z, k)
        if explore.is_text(loaded):
            keys = ("index", "label", "class_name", "distance", "headword", "category", "text")
            return neighbours.neighbours_text(found), [{key: n[key] for key in keys} for n in found]
        grid = sheet(np.stack([as_unit_float(n["image"]) for n in found]), nrow=len(found), scale=4)
        return grid, [{key: n[key] for key in ("index", "label", "class_name", "distance")} for n in found]

    @friendly
    def move_towards(model: str, z: list, from_class: int, to_class: int, strength: float = 1.0):
        """Attribute arithmetic on an unconditional model: z + strength * (mean code of to_class - mean code of
        from_class), class means over the test images' codes (a GAN's: their inverted codes); strength in -3..3.
        Returns the decoded image (280x280) and the new z."""
        loaded = reg.get(model)
        res = arithmetic.move_towards(loaded, z, from_class, to_class, strength)
        return loaded.modality.array(res["images"][-1]), res["z"]

    @friendly
    def encode_image(model: str, image: str):
        """Encode your own picture of a digit or garment: it is prepared like MNIST (grayscale, light ink on dark,
        cropped to the ink, longer side 20 px, centred by mass in 28x28). Returns the prepared image and its
        reconstruction (280x280), z (its latent mean; for a GAN, which has no encoder, the code GAN inversion finds),
        for a conditional VAE every class ranked by -ELBO ([{class_id, class_name, neg_elbo, recon, kl, prob}], best
        first; [] otherwise), and {source ("encoder" or "inversion"), bce (nats), label, note}."""
        return drawing.encode_image(reg, model, image, "image", get_upload_folder())

    @friendly
    def encode_text(model: str, text: str):
        """A text model: encode your own sentence (at most 2,000 characters are read; control characters are
        dropped, with a note). Returns its greedy reconstruction (a string), z (its latent mean as slider values),
        for a text CVAE every category ranked by -ELBO ([{class_id, class_name, neg_elbo, recon, kl, prob}], best
        first; [] otherwise), and {text (as encoded), notes, label, class_name, neighbours: the nearest test
        definitions [{index, headword, text, category, distance}], a reverse dictionary}."""
        return typed_text.encode_text(reg, model, text)

    @friendly
    def compare_models(dataset: str, seed: int = 0):
        """The AE, VAE and CVAE trained on `dataset` (e.g. "mnist", "fashion-mnist"), each decoding the same 80
        codes z ~ N(0, I) drawn with `seed` (the CVAE: row r as class r). Returns three sample grids (ae, vae,
        cvae; None where no such model is loaded) and {dataset, seed, why, missing, models: {kind: {name,
        metrics}}}."""
        res = compare.compare_models(reg, dataset, seed)
        grids = [res["models"][k]["grid"] if k in res["models"] else None for k in compare.KINDS]
        return *grids, compare.compare_summary(res)

    @friendly
    def training_history(model: str):
        """Per-epoch train/test reconstruction and KL (history.json) and the average KL of each latent dimension
        (metrics.json) of a model: {model, kind, epochs: [{epoch, train_recon, train_kl, test_recon, test_kl,
        beta}], kl_per_dim, active_units}."""
        return dynamics.training_history(reg, model)

    @friendly
    def export_map_csv(model: str):
        """The model's latent map as a CSV file: index, label, class_name and x, y of every stored projection
        (pca, tsne, and umap where present) for each test image."""
        return str(export.export_map_csv(reg, model))

    @friendly
    def generate_dataset(model: str, per_class: int, seed: int = 0):
        """A labelled synthetic data set from a conditional model (cvae or cgan): per_class (1..5000) prior samples
        decoded as each class. Returns the .npz file (images uint8 N x 28 x 28, labels, class_names), a PNG sheet of the
        first 16 samples per class, and {n, per_class, classes, seconds, images_per_second}. A text CVAE: per_class
        (1..2000) sentences per category as a .csv (text, label, class_name), and a few of them as text in place of
        the sheet (/generate_text_dataset also writes JSONL)."""
        res = export.generate_dataset(reg, model, per_class, seed)
        if "file" in res:  # a text model's sentences
            return str(res["file"]), res["sample_text"], export.dataset_summary(res)
        return str(res["npz"]), res["sheet_image"], export.dataset_summary(res)

    @friendly
    def generate_text_dataset(model: str, per_class: int, seed: int = 0, format: str = "csv"):
        """A text CVAE's labelled synthetic sentences: per_class (1..2000) prior samples decoded (greedy) as each
        category group, as a .csv (text, label, class_name) or, with format "jsonl", a .jsonl file ({"text",
        "label", "class_name"} a line). Returns the file, the first 3 sentences of each category (one a line,
        "class_name: sentence") and {n, per_class, classes, seconds, images_per_second (sentences per second)}."""
        loaded = reg.get(model)
        if not explore.is_text(loaded):
            raise InputError(f"{loaded.info.name} is an image model; its labelled data set comes from "
                             "/generate_dataset (an .npz of images).")
        res = export.generate_dataset(reg, model, per_class, seed, fmt=format)
        return str(res["file"]), res["sample_text"], export.dataset_summary(res)

    @friendly
    def select(model: str, indices: list):
        """A selection of map points (a list of point indices, 0..N-1, as the map's lasso or box gives them):
        {count, split, class_counts [{label, class_name, count}] most first, mean_z (the selected codes' mean, a
        latent_dim list), indices (sorted, distinct)}, a sheet of the first 100 selected images (a text model: their
        definitions, one a line) and a CSV of every selected point (index, split, label, class_name, x and y on
        every stored projection)."""
        loaded = reg.get(model)
        summary = selection.summarize(loaded, indices)
        return selection_view(loaded, summary), summary, str(selection.selection_csv(loaded, summary))

    neighbours_.__name__ = "neighbours"
    return {fn.__name__: fn for fn in (decode, reconstruct, list_models, interpolate, traverse, neighbours_,
                                       move_towards, encode_image, encode_text, compare_models, training_history,
                                       export_map_csv, generate_dataset, generate_text_dataset, select)}


def selection_view(loaded, summary: dict):
    """The selected items as one picture (10 a row), or a text model's as lines of "headword: definition"."""
    items = selection.grid_items(loaded, summary)
    if explore.is_text(loaded):
        lmap = loaded.latent_map
        return "\n".join(f"{lmap.headwords[i]}: {lmap.texts[i]}" for i in summary["indices"][:selection.MAX_GRID])
    return sheet(np.stack([as_unit_float(im) for im in items]), nrow=min(10, len(items)), scale=2)


def warm_plan(reg, fns: dict | None = None) -> list[tuple[str, object]]:
    """The background warm-up's steps (ModelRegistry.warm_up), in the order the first clicks need them:

    1. the default model (this imports torch) and what the page shows first: its decoded image (the page's PNG and
       the /decode array) and its map figure on every stored projection;
    2. every other model the same way, in the model picker's order (a model switch then finds them loaded);
    3. the first call of every endpoint on every model, the default first: that imports torchvision (the sheets)
       and fills the tools' caches (traversal's dimension scores, arithmetic's class means); a GAN's encode_image is
       its first inversion (autograd's first backward pass), so the first picture a person sends is inverted as fast
       as the later ones. Calls a model cannot
       make (a CVAE's move_towards, an AE's generate_dataset) are left out, and the file-writing exports run once,
       small: their first-call cost is imports and folders, the rest is their own work.
    Each step is a (label, callable) pair; every callable runs the same functions the requests run.
    """
    fns = fns or endpoints(reg)
    order = reg.warm_order()
    steps: list[tuple[str, object]] = []

    def first_view(name: str) -> None:
        loaded = reg.get(name)
        z = [0.0] * loaded.latent_dim
        label = 0 if loaded.num_classes else None
        for projection in loaded.latent_map.coords:
            explore.figure_for(reg, name, projection)
        for projection in loaded.latent_map.coords3:          # the 3-D views, where the map has them
            explore.figure_for(reg, name, projection, 3)
        PageContext.z_updates(loaded, explore.decoded_view(loaded, z, label, "pca"))  # the page's PNG data URIs
        fns["decode"](name, z, -1 if label is None else label)

    for name in order:
        steps += [(f"load {name}", functools.partial(reg.get, name)),
                  (f"first view {name}", functools.partial(first_view, name))]
    steps.append(("list_models", fns["list_models"]))
    datasets = set()
    for k, name in enumerate(order):
        info = reg.info(name)
        caps = info.capabilities
        d = info.latent_dim or 0
        z, label = [0.0] * d, (0 if caps.conditional else -1)
        calls = [("reconstruct", (name, 0)), ("interpolate", (name, 0, 1, 8, "linear", "fixed")),
                 ("traverse", (name, z, label)), ("neighbours", (name, z)), ("training_history", (name,))]
        if not caps.conditional:  # a 3 towards an 8 (MNIST); the first two classes of a map with fewer
            pair = (3, 8) if len(info.class_names) > 8 else (0, 1)
            calls.append(("move_towards", (name, z, *pair, 1.0)))
        if caps.modality == "text":
            calls.append(("encode_text", (name, "a small domesticated animal")))
        elif caps.code_of_picture:  # an encoder's pass, or a GAN's first inversion (its pool and autograd warm up)
            calls.append(("encode_image", (name, _WARM_IMAGE)))
        if not caps.lacks(*export.NEEDS):
            calls.append(("generate_dataset", (name, 1, 0)))
            if caps.text:
                calls.append(("generate_text_dataset", (name, 1, 0, "jsonl")))
        calls.append(("select", (name, [0, 1, 2])))   # the lasso's first summary, sheet and CSV
        if k == 0:
            calls.append(("export_map_csv", (name,)))
        key = compare.dataset_key(info.dataset)
        if key in compare.comparison_datasets(reg) and key not in datasets:
            datasets.add(key)
            calls.append(("compare_models", (key, 0)))
        steps += [(f"{endpoint} {name}", functools.partial(fns[endpoint], *args)) for endpoint, args in calls]
    return steps


def warm_requests(url: str, reg) -> list[tuple[str, object]]:
    """Warm-up steps that call the running app over HTTP, as a script does: /list_models and /decode on the
    default model through gradio's REST route (POST, event stream, PNG download). They take gradio's own first-call
    work (its queue, the event stream, writing and serving an image file, the first import of what those use) out
    of the first real request. Plain urllib from 127.0.0.1; each one a single call."""
    import json
    import urllib.request

    base = url.rstrip("/")

    def call(name: str, data: list) -> None:
        post = urllib.request.Request(f"{base}/gradio_api/call/{name}", data=json.dumps({"data": data}).encode(),
                                      headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(post, timeout=60) as r:
            event_id = json.loads(r.read())["event_id"]
        with urllib.request.urlopen(f"{base}/gradio_api/call/{name}/{event_id}", timeout=60) as r:
            text = r.read().decode()
        if "event: complete" not in text:
            raise RuntimeError(f"/{name} answered {text[-200:]!r}")
        payload = json.loads(text.split("event: complete", 1)[1].split("data:", 1)[1].strip().splitlines()[0])
        for value in payload:
            if isinstance(value, dict) and value.get("url"):
                with urllib.request.urlopen(value["url"], timeout=60) as r:
                    r.read()

    steps = [("request /list_models", functools.partial(call, "list_models", []))]
    if reg.default and not reg.info(reg.default).error:
        info = reg.info(reg.default)
        label = 0 if info.capabilities.conditional else -1
        steps.append((f"request /decode {reg.default}",
                      functools.partial(call, "decode", [reg.default, [0.0] * (info.latent_dim or 0), label])))
    return steps


# A stroke on a dark 28x28 canvas: what encode_image's warm-up call prepares and encodes (a "1").
_WARM_IMAGE = np.zeros((28, 28), np.uint8)
_WARM_IMAGE[4:24, 13:16] = 255


def atomic_cache_writes() -> None:
    """Make gradio write its cached output files so that a file being downloaded is never truncated.

    gradio names an output image (and a saved byte string) after the hash of its content and writes it with
    Path.write_bytes, in place: when two calls make the same image (two scripts decoding the same z), the second
    truncates the file that the first caller may be downloading at that moment, and that download ends short:
    "peer closed connection without sending complete message body (received 0 bytes, expected 1460)" in httpx and
    gradio_client (20 gradio_client users decoding the same z 25 times each: 76 of 500 calls failed so). Here the
    same name and bytes are written once, to a temporary file renamed into place (a download already open keeps
    reading what it opened), and a file that is there already is only touched, for gradio's hourly delete_cache.
    gradio's own save_file_to_cache already works this way. Idempotent."""
    from gradio import processing_utils as pu

    if getattr(pu.save_pil_to_cache, "atomic", False):
        return

    def write_once(path: Path, data: bytes) -> str:
        path = path.resolve()
        try:
            if path.stat().st_size == len(data):  # the same name is the same content hash
                os.utime(path)
                return str(path)
        except OSError:
            pass
        fd, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(staging, 0o644)
            os.replace(staging, path)
        except BaseException:
            Path(staging).unlink(missing_ok=True)
            raise
        return str(path)

    def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
        data = pu.encode_pil_to_bytes(img, format)
        folder = Path(cache_dir) / pu.hash_bytes(data)
        folder.mkdir(exist_ok=True, parents=True)
        return write_once(folder / f"{name}.{format}", data)

    def save_bytes_to_cache(data: bytes, file_name: str, cache_dir: str) -> str:
        folder = Path(cache_dir) / pu.hash_bytes(data)
        folder.mkdir(exist_ok=True, parents=True)
        if not Path(file_name).suffix:
            file_name = file_name + pu.detect_audio_format(data)
        return write_once(folder / Path(file_name).name, data)

    save_pil_to_cache.atomic = save_bytes_to_cache.atomic = True
    pu.save_pil_to_cache, pu.save_bytes_to_cache = save_pil_to_cache, save_bytes_to_cache


def ImageOrText(**kwargs) -> gr.Image:
    """An image output of the named API that carries a string as it is: a text model's outputs are sentences, so
    /decode, /reconstruct, /interpolate, /traverse, /neighbours, /move_towards and /generate_dataset send text
    where an image model sends a picture (an endpoint never returns a file path here: images are arrays). A plain
    gr.Image whose postprocess is wrapped: a subclass would be a "custom component" whose frontend the page looks
    for, and does not find."""
    component = gr.Image(**kwargs)
    image_postprocess = component.postprocess

    def postprocess(value):
        return value if isinstance(value, str) else image_postprocess(value)

    component.postprocess = postprocess
    return component


def build(ctx: PageContext) -> None:
    """The hidden components and the named endpoints (call inside the page's gr.Blocks)."""
    atomic_cache_writes()
    reg = ctx.registry
    default = reg.info(reg.default) if reg.default else None
    d0 = (default and default.latent_dim) or 2
    datasets = compare.comparison_datasets(reg)
    generators = [n for n in reg.names() if not reg.info(n).capabilities.lacks(*export.NEEDS)]

    def image(label):
        return ImageOrText(label=label, type="numpy", format="png")

    # Defaults make the "Use via API" snippets show real values (the default model, its zero vector).
    with gr.Column(visible=False):
        model = gr.Textbox(reg.default, label="model")
        z = gr.JSON([0.0] * d0, label="z")
        label = gr.Number(-1, label="label", precision=0)
        index = gr.Number(0, label="index", precision=0)
        index_a = gr.Number(0, label="index_a", precision=0)
        index_b = gr.Number(1, label="index_b", precision=0)
        steps = gr.Number(8, label="steps", precision=0)
        mode = gr.Textbox("linear", label="mode")
        class_mode = gr.Textbox("fixed", label="class_mode")
        k = gr.Number(neighbours.N_NEIGHBOURS, label="k", precision=0)
        from_class = gr.Number(3, label="from_class", precision=0)
        to_class = gr.Number(8, label="to_class", precision=0)
        strength = gr.Number(1.0, label="strength")
        upload = explain_bad_files(gr.Image(label="image", type="filepath"), IMAGE_INPUT_ERROR)
        dataset = gr.Textbox(datasets[0] if datasets else "mnist", label="dataset")
        seed = gr.Number(0, label="seed", precision=0)
        generator = gr.Textbox(generators[0] if generators else "", label="model")
        text_generators = [n for n in generators if reg.info(n).capabilities.text]
        text_generator = gr.Textbox(text_generators[0] if text_generators else "", label="model")
        per_class = gr.Number(100, label="per_class", precision=0)
        text = gr.Textbox("a small domesticated animal", label="text")
        fmt = gr.Textbox("csv", label="format")
        indices = gr.JSON([0, 1, 2], label="indices")
        table = {
            "decode": ([model, z, label], image("image")),
            "reconstruct": ([model, index], [image("original"), image("reconstruction"), gr.JSON(label="z"),
                                             gr.JSON(label="info")]),
            "list_models": (None, gr.JSON(label="models")),
            "interpolate": ([model, index_a, index_b, steps, mode, class_mode],
                            [image("strip"), gr.JSON(label="interpolation")]),
            "traverse": ([model, z, label], [image("grid"), gr.JSON(label="rows")]),
            "neighbours": ([model, z, k], [image("neighbours"), gr.JSON(label="neighbours")]),
            "move_towards": ([model, z, from_class, to_class, strength], [image("image"), gr.JSON(label="z")]),
            "encode_image": ([model, upload], [image("prepared"), image("reconstruction"), gr.JSON(label="z"),
                                               gr.JSON(label="ranking"), gr.JSON(label="info")]),
            "encode_text": ([model, text], [gr.Textbox(label="reconstruction"), gr.JSON(label="z"),
                                            gr.JSON(label="ranking"), gr.JSON(label="info")]),
            "compare_models": ([dataset, seed], [*[image(f"{k}_samples") for k in compare.KINDS],
                                                 gr.JSON(label="summary")]),
            "training_history": ([model], gr.JSON(label="history")),
            "export_map_csv": ([model], gr.File(label="csv")),
            "generate_dataset": ([generator, per_class, seed], [gr.File(label="dataset"), image("sheet"),
                                                                gr.JSON(label="info")]),
            "generate_text_dataset": ([text_generator, per_class, seed, fmt],
                                      [gr.File(label="dataset"), gr.Textbox(label="samples"), gr.JSON(label="info")]),
            "select": ([model, indices], [image("selection"), gr.JSON(label="summary"), gr.File(label="csv")]),
        }
        buttons = {name: gr.Button(name) for name in table}

    fns = endpoints(reg)
    for name, (inputs, outputs) in table.items():
        fn = fns[name]
        # preprocess=False: the raw JSON values go to explorer.validation; the documented types stay.
        buttons[name].click(fn, inputs, outputs, api_name=name, api_description=" ".join(fn.__doc__.split()),
                            preprocess=False)
