"""Tiny synthetic model folders for tests, benchmarks and development (no dataset, no training).

    python -m explorer.testing OUT_DIR     # writes OUT_DIR/fake-ae, fake-vae, fake-cvae
    python -m explorer.testing OUT_DIR --gan   # and fake-gan, fake-cgan
    python -m explorer.testing OUT_DIR --text  # and fake-text-vae, fake-text-cvae (make_text_folder)

Each folder has what a shipped folder has: config.json + model.safetensors (an untrained, small MLP model; a GAN's is
a small conv generator), latent_map.npz (a few hundred random images, their real latent means under the untrained
model, a PCA plane fitted with numpy and a stand-in "t-SNE"; a GAN's map holds random codes and the images the
generator makes of them, so each code is the exact inversion of its image), metrics.json and history.json (a GAN's
with its own figures and loss curves).
"""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

CLASS_NAMES = [f"class {i}" for i in range(10)]


@contextmanager
def serve(registry):
    """The explorer on `registry`, launched on 127.0.0.1 in this process as app.py launches it; yields the
    gr.Blocks (its `local_url` answers) and closes it afterwards. For tests that call the live app."""
    from ..ui import build_demo, launch_kwargs
    demo = build_demo(registry)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True, **launch_kwargs())
    try:
        yield demo
    finally:
        demo.close()


def make_model_folder(folder: str | Path, kind: str = "vae", latent_dim: int = 4, n_points: int = 300,
                      seed: int = 0, num_classes: int = 10, arch: str = "mlp", small: bool = True,
                      image_shape: tuple = (1, 28, 28), train_points: int = 0) -> Path:
    """Write a complete model folder and return its path (small=False: the default, full-size layers).
    train_points > 0: the map holds that many training images after the n_points test images (its "split" array),
    saved as training does (training.evaluate.save_latent_map: the images in files of their own past 12,000).
    kind "gan" / "cgan": a conv generator (arch is ignored), see make_gan_folder. image_shape (C, H, W): a colour
    (3, ...) or larger model; the map's images are then (N, H, W, 3) or (N, H, W)."""
    from training import save_model

    from ..backends import backend_spec
    from ..backends.autoencoder import AutoencoderBackend

    if backend_spec(kind).capabilities.invert:  # a generator without an encoder: a gan or cgan
        return make_gan_folder(folder, kind, latent_dim, n_points, seed, num_classes, small)
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    names = CLASS_NAMES[:num_classes]
    caps = backend_spec(kind).capabilities
    backend = AutoencoderBackend.untrained(
        seed, kind=kind, arch=arch, latent_dim=latent_dim, num_classes=num_classes if caps.conditional else 0,
        class_names=names, image_shape=tuple(image_shape),
        **(({"mlp_hidden": 32} if arch == "mlp" else
            {"conv_channels": (4, 8, 8)[:2 if image_shape[1] <= 32 else 3], "conv_hidden": 16}) if small else {}))
    save_model(backend.model, folder, data={"dataset": "synthetic", "note": "explorer.testing fake"})

    total = n_points + train_points
    labels = rng.integers(0, num_classes, total).astype(np.int64)
    # Blobby images whose brightness depends on the class, so classes differ a little.
    shape = backend.output_shape                     # (28, 28), or (H, W, 3) for colour
    brightness = ((labels + 1) / num_classes).reshape(-1, *([1] * len(shape)))
    images = (rng.random((total, *shape)) * 255 * brightness).astype(np.uint8)
    mu = backend.encode_mean(images.astype(np.float32) / 255, labels if caps.conditional else None)
    split = np.repeat(np.array([0, 1], np.uint8), [n_points, train_points]) if train_points else None
    _save_map(folder, mu, labels, images, rng, split)
    ae = not caps.kl  # an AE has no KL term, hence no ELBO
    metrics = {"neg_elbo": None if ae else 543.2, "iwae_k64": None if ae else 540.1, "recon": 530.0,
               "kl": None if ae else 13.2, "active_units": latent_dim, "knn5_accuracy": 0.1,
               "kl_per_dim": [0.0] * latent_dim, "n_test": n_points}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "history.json").write_text(json.dumps({"epochs": []}))
    return folder


def make_gan_folder(folder: str | Path, kind: str = "gan", latent_dim: int = 4, n_points: int = 300,
                    seed: int = 0, num_classes: int = 10, small: bool = True) -> Path:
    """A GAN (or cgan) folder: an untrained DCGAN generator (small: conv_channels (4, 8), conv_hidden 16, as
    training.create_model(kind="gan", ...) builds it), a map of `n_points` codes z ~ N(0, I) with the images the
    generator makes of them (stored as the "test images", so G(z) of a point's code is its image, up to uint8
    rounding), GAN metrics (Fréchet distance and its floor, class histogram, mode coverage, inversion
    reconstruction, 5-NN accuracy of the inverted codes) and a few epochs of GAN history."""
    from training import save_model

    from ..backends import backend_spec
    from ..backends.gan import GanBackend

    folder = Path(folder)
    rng = np.random.default_rng(seed)
    names = CLASS_NAMES[:num_classes]
    conditional = backend_spec(kind).capabilities.conditional
    backend = GanBackend.untrained(
        seed, kind=kind, arch="conv", latent_dim=latent_dim, num_classes=num_classes if conditional else 0,
        class_names=names, dense_batch_norm=True,
        **({"conv_channels": (4, 8), "conv_hidden": 16, "disc_channels": (4, 8), "disc_hidden": 16} if small
           else {"conv_channels": (64, 128), "conv_hidden": 256, "disc_channels": (32, 64), "disc_hidden": 512}))
    backend.settle_untrained(seed)
    save_model(backend.model, folder, data={"dataset": "synthetic", "note": "explorer.testing fake"})

    labels = rng.integers(0, num_classes, n_points).astype(np.int64)
    mu = rng.standard_normal((n_points, latent_dim)).astype(np.float32)
    images = (backend.decode(mu, labels if conditional else None) * 255 + 0.5).astype(np.uint8)
    _save_map(folder, mu, labels, images, rng)
    metrics = {"fd": 41.5, "fd_floor": 2.1, "class_histogram": [1 / num_classes] * num_classes,
               "mode_coverage_min": 0.05, "mode_coverage_max": 0.15, "recon": 180.0, "knn5_accuracy": 0.1,
               "n_test": n_points}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    epochs = [{"epoch": e, "d_loss": 1.2 - 0.1 * e, "g_loss": 0.9 + 0.2 * e, "d_real": 0.6 + 0.02 * e,
               "d_fake": 0.4 - 0.02 * e, "lr": 2e-4, "seconds": 1.0} for e in range(1, 5)]
    (folder / "history.json").write_text(json.dumps({"epochs": epochs}))
    return folder


def _save_map(folder: Path, mu: np.ndarray, labels: np.ndarray, images: np.ndarray, rng, split=None) -> None:
    """latent_map.npz of codes mu (N, D), labels (N,) and images (N, 28, 28) uint8: a PCA plane fitted with numpy
    and a stand-in "t-SNE" (class clusters); with `split` (N,) 0/1, written by training's own save_latent_map."""
    n_points, latent_dim = mu.shape
    mean = mu.mean(axis=0)
    _, _, vt = np.linalg.svd(mu - mean, full_matrices=False)
    comps = np.zeros((2, latent_dim), np.float32)
    comps[: min(2, vt.shape[0])] = vt[:2]
    pca = ((mu - mean) @ comps.T).astype(np.float32)
    tsne = (rng.normal(size=(n_points, 2)) * 10 + labels[:, None] * 5).astype(np.float32)
    arrays = dict(mu=mu, labels=labels, images=images, pca=pca, tsne=tsne, pca_mean=mean.astype(np.float32),
                  pca_components=comps)
    if split is None:
        np.savez_compressed(folder / "latent_map.npz", **arrays)
    else:
        from training.evaluate import save_latent_map
        save_latent_map(folder, {**arrays, "split": split})


# A synthetic two-category corpus for the text folders (as tests/test_text_models.py's): "a red cat that runs".
TEXT_COLOURS = ["red", "green", "blue", "small", "large", "old", "young", "quiet"]
TEXT_ANIMALS = ["cat", "dog", "bird", "fish", "horse", "mouse"]
TEXT_TOOLS = ["hammer", "knife", "spoon", "brush", "needle", "saw"]
TEXT_ACTS = ["runs", "sleeps", "swims", "waits", "sings", "hides"]
TEXT_CLASSES = ["animal", "tool"]


def text_corpus(n: int = 240, seed: int = 0):
    """A training.text_data.TextDataset of n synthetic definitions of two category groups (animal / tool), with
    headwords and fine categories ("noun.animal", "noun.artifact"); a tenth held out as the test split."""
    import random

    from training.text_data import TextDataset, _Rows  # _Rows: the corpus loaders' parallel columns -> TextSplit

    rng = random.Random(seed)
    rows, seen = _Rows(), set()
    while len(rows.texts) < n:
        label = rng.randrange(2)
        noun = rng.choice(TEXT_ANIMALS if label == 0 else TEXT_TOOLS)
        t = (f"a {rng.choice(TEXT_COLOURS)} {noun} that {rng.choice(TEXT_ACTS)}"
             + (" at night" if rng.random() < .5 else ""))
        if t not in seen:
            seen.add(t)
            rows.add(t, label, noun, ["noun.animal", "noun.artifact"][label])
    k = max(1, n // 10)

    def split(sl):
        return rows.take(list(range(n))[sl])
    return TextDataset("text-file", split(slice(k, None)), split(slice(0, k)), list(TEXT_CLASSES),
                       {"source": "explorer.testing synthetic corpus"})


def make_text_folder(folder: str | Path, kind: str = "vae", latent_dim: int = 4, n_sentences: int = 240,
                     seed: int = 0, tokenizer: str = "word", scale: float = 3.0) -> Path:
    """A complete text model folder (as training.text_evaluate.finish_text_folder writes one): config.json,
    model.safetensors and tokenizer.json of an untrained tiny text VAE / CVAE / lm whose weights are multiplied by
    `scale` (so greedy decodes differ from code to code), latent_map.npz of the test sentences (build_text_map, PCA
    only, plus stand-in t-SNE and UMAP coordinates), a small metrics.json and a few epochs of history.json."""
    from training import save_model
    from training.evaluate import save_latent_map
    from training.text_evaluate import build_text_map
    from training.tokenizer import train_tokenizer

    from ..backends import backend_spec
    from ..backends.text import TextBackend

    folder = Path(folder)
    data = text_corpus(n_sentences, seed)
    tok = train_tokenizer(data.train.texts, kind=tokenizer, vocab_size=200 if tokenizer == "word" else 300,
                          min_frequency=1)
    conditional = backend_spec(kind, "text").capabilities.conditional
    made = TextBackend.untrained(seed, tok, scale, kind=kind, num_classes=len(TEXT_CLASSES) if conditional else 0,
                                 class_names=list(TEXT_CLASSES), latent_dim=latent_dim, embed_dim=16,
                                 enc_channels=16, enc_layers=2, dec_hidden=24, max_len=10)
    model = made.model if isinstance(made, TextBackend) else made  # a language model has no backend
    save_model(model, folder, train={"tokenizer": tokenizer, "free_bits": 0.1},
               data={"source": "synthetic", "dataset": "synthetic-text", "note": "explorer.testing fake"})
    if not model.has_latent:
        return folder
    arrays = build_text_map(model, data.test, seed=seed, tsne=False, umap=False)
    rng = np.random.default_rng(seed)
    n = len(data.test)
    labels = arrays["labels"]
    arrays["tsne"] = (rng.normal(size=(n, 2)) * 3 + labels[:, None] * 6).astype(np.float32)
    arrays["umap"] = (rng.normal(size=(n, 2)) + labels[:, None] * 4).astype(np.float32)
    save_latent_map(folder, arrays)
    metrics = {"modality": "text", "kind": kind, "n_test": n, "neg_elbo": 30.5, "recon": 28.0, "kl": 2.5,
               "active_units": latent_dim, "latent_dim": latent_dim, "tokens_per_sentence": 7.0,
               "greedy_token_accuracy": 0.2, "knn5_accuracy": 0.6}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    epochs = [{"epoch": e, "train_recon": 40 - 3 * e, "train_kl": 0.5 * e, "test_loss": 41 - 2.5 * e,
               "test_recon": 40.5 - 3 * e, "test_kl": 0.5 * e, "test_active_units": min(latent_dim, e),
               "beta": min(1.0, e / 3), "free_bits": 0.1, "kl_floor": 0.1 * latent_dim,
               "test_token_accuracy": 0.1 * e} for e in range(1, 5)]
    (folder / "history.json").write_text(json.dumps({"epochs": epochs}))
    return folder


def make_assets(out: str | Path, latent_dim: int = 4, n_points: int = 300, gan: bool = False,
                text: bool = False) -> Path:
    """fake-ae, fake-vae and fake-cvae under `out` (an assets-like folder); gan=True adds fake-gan and fake-cgan
    (same synthetic data set, so the VAE is the GANs' same-dataset VAE); text=True adds fake-text-vae and
    fake-text-cvae."""
    out = Path(out)
    kinds = ["ae", "vae", "cvae"] + (["gan", "cgan"] if gan else [])
    for i, kind in enumerate(kinds):
        make_model_folder(out / f"fake-{kind}", kind=kind, latent_dim=latent_dim, n_points=n_points, seed=i)
    if text:
        for kind in ("vae", "cvae"):
            make_text_folder(out / f"fake-text-{kind}", kind=kind, latent_dim=latent_dim)
    return out


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a not in ("--gan", "--text")]
    if len(args) != 1:
        sys.exit("usage: python -m explorer.testing OUT_DIR [--gan] [--text]")
    print(make_assets(args[0], gan="--gan" in sys.argv[1:], text="--text" in sys.argv[1:]))
