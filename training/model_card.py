"""The model card (README.md of a model folder), written from config.json, metrics.json and history.json."""
from __future__ import annotations

from pathlib import Path

from . import checkpoint as ckpt
from .figures import FIGURES, METRICS_NAME, iwae_k
from .models import MODEL_KINDS


def write_model_card(folder: str | Path, *, command: str | None = None, wall_seconds: float | None = None,
                     extra: str = "") -> Path:
    folder = Path(folder)
    config = ckpt.read_config(folder)
    m, t, d = config["model"], config.get("train", {}), config.get("data", {})
    kind = MODEL_KINDS[m["kind"]]
    metrics = ckpt.read_json(folder / METRICS_NAME, {}) or {}
    history = (ckpt.read_json(folder / "history.json", {"epochs": []}) or {}).get("epochs", [])
    dataset = d.get("dataset", t.get("dataset", "?"))
    source = d.get("source", "?")
    if dataset == "mnist" and d.get("train_images", 0) < 60000 and source != "image-folder":
        data_line = (f"MNIST, trained on the first {d.get('train_images')} images of the official 60,000-image "
                     "training set (the prefix the offline build reads); evaluated on the official "
                     f"{d.get('test_images')}-image test set. Online, the same command trains on all 60,000.")
    else:
        data_line = (f"{dataset}: {d.get('train_images')} training images, {d.get('test_images')} test images "
                     f"(source: {source}).")
    shape = [int(s) for s in m.get("image_shape", (1, 28, 28))]
    if shape != [1, 28, 28]:
        data_line += (f" Images are {'RGB' if shape[0] == 3 else 'grayscale'} {shape[1]}x{shape[2]} "
                      f"(`--channels {shape[0]} --image-size {shape[1]}`"
                      f"{', resized and centre-cropped on load' if t.get('resize') else ''}).")
    k = iwae_k(metrics)   # the folder's own IWAE bound, whatever `-k` it was evaluated with
    gan = kind.adversarial
    figures = [f for f in FIGURES if f.applies(gan, kind.conditional)]
    cells = [f.format_card(metrics.get(f.key_at(k))) + (f" / {m['latent_dim']}" if f.of_latent else "")
             for f in figures]
    description = kind.description
    if m.get("likelihood", "bernoulli") == "gaussian":
        description = description.replace("Bernoulli decoder, loss = BCE", "Gaussian decoder, loss = Gaussian NLL")
    lines = [
        f"# {folder.name}",
        "",
        f"A {m['arch']} {m['kind'].upper()} with a {m['latent_dim']}-dimensional latent space: {description}.",
        "",
        "Load it with `training.load_model(\"<this folder>\")`. Weights are `model.safetensors`; the "
        "architecture and training settings are in `config.json`.",
    ]
    if gan:
        lines += ["", _GAN_NOTE]
    lines += [
        "",
        "## Data",
        "",
        data_line,
        "",
        "## Training",
        "",
        _training_line(t, kind),
    ]
    if t.get("ema"):
        lines.append(f"- the weights are an exponential moving average of the trained ones (decay {t['ema']} a step)")
    if t.get("classifier_weight"):
        lines.append(f"- an auxiliary classifier, trained on the real images alongside, scored prior samples decoded "
                     f"with a random class; its cross-entropy (weight {t['classifier_weight']}) was added to the loss "
                     "so that samples look like their class (`--classifier-weight`; the classifier is not shipped)")
    if m.get("disc_minibatch_std"):
        lines.append("- the discriminator also saw the spread of its features across each batch (minibatch standard "
                     "deviation), so a batch of near-identical samples stood out")
    if m.get("likelihood", "bernoulli") == "gaussian":
        sigma = (f"fixed sigma {m['gaussian_sigma']}" if m.get("gaussian_sigma") else
                 "one learned global sigma" + (f" (now {metrics['sigma']:.4f})" if metrics.get("sigma") else ""))
        lines.append(f"- likelihood: Gaussian, mean sigmoid(decoder output), {sigma} (`--likelihood gaussian`)")
    else:
        lines.append("- likelihood: Bernoulli (binary cross-entropy of the pixels)")
    if m.get("pixel_bias"):
        lines.append("- the decoder has a learned logit offset per output pixel")
    if t.get("precision") == "bf16":
        lines.append("- trained with the layers under bfloat16 autocast (losses in float32); evaluated in float32")
    if history:
        lines.append(f"- training time: {sum(h['seconds'] for h in history):.0f} s for {len(history)} epochs "
                     "on a 2-core CPU")
    if wall_seconds is not None:
        lines.append(f"- wall time of the whole build step (data, training, evaluation, map): {wall_seconds:.0f} s")
    if command:
        lines.append(f"- command: `{command}`")
    lines += [
        "",
        "## Figures (official test split, nats per image)" if not gan else
        "## Figures (official test split; reconstruction in nats per image)",
        "",
        _row((f.card_inverted if gan and f.card_inverted else f.card).format(k=k) for f in figures),
        _rule(len(figures)),
        _row(cells),
        "",
    ]
    if gan:
        lines += _gan_figures_text(metrics, m)
    else:
        lines.append(_likelihood_text(m, metrics) +
                     " 5-NN accuracy: a 5-nearest-neighbour classifier fit on the training-set means, scored on the "
                     "test means.")
    if extra:
        lines += ["", extra]
    if history and gan:
        lines += ["", "## Per-epoch history", "",
                  "D loss and G loss are the discriminator's and the generator's losses; D(x) and D(G(z)) the "
                  "discriminator's mean probability of \"real\" for the real and the generated images of each batch.",
                  "", "| epoch | D loss | G loss | D(x) | D(G(z)) |", "|---|---|---|---|---|"]
        lines += [f"| {h['epoch']} | {h['d_loss']:.3f} | {h['g_loss']:.3f} | {h['d_real']:.3f} | {h['d_fake']:.3f} |"
                  for h in history]
    elif history:
        lines += ["", "## Per-epoch history", "", "| epoch | train loss | test recon | test KL |", "|---|---|---|---|"]
        lines += [f"| {h['epoch']} | {h['train_loss']:.2f} | {h['test_recon']:.2f} | {h['test_kl']:.2f} |"
                  for h in history]
    path = folder / "README.md"
    ckpt.write_text(path, "\n".join(lines) + "\n")
    return path


def models_table(root: str | Path) -> str:
    """A markdown table of every image model folder under `root`, for the project README. A figure no folder has (a
    GAN's, under a root of autoencoders) gets no column. Text models (nats per sentence, other figures) are left out:
    their cards and benchmarks/text_quality.py give theirs."""
    head = ["model", "kind", "data", "latent", "epochs"]
    folders = []
    for folder in sorted(p for p in Path(root).iterdir() if (p / ckpt.CONFIG_NAME).is_file()):
        c = ckpt.read_config(folder)
        if c["model"].get("modality", "image") != "image":
            continue
        folders.append((folder, c, ckpt.read_json(folder / METRICS_NAME, {}) or {}))
    figures = [f for f in FIGURES if any(x.get(f.key) is not None for _, _, x in folders)] or list(FIGURES)
    rows = [_row(head + [f.column for f in figures]), _rule(len(head) + len(figures))]
    for folder, c, x in folders:
        m, d, t = c["model"], c.get("data", {}), c.get("train", {})
        rows.append(_row([f"[{folder.name}]({folder.as_posix()}/README.md)", f"{m['arch']} {m['kind']}",
                          f"{d.get('dataset')} ({d.get('train_images')} train)", m["latent_dim"], t.get("epochs")]
                         + [f.format_card(x.get(f.key)) for f in figures]))
    return "\n".join(rows)


_GAN_NOTE = (
    "The folder holds the generator only (`model.safetensors`; with EMA, the moving average of its weights); the "
    "discriminator it was trained against stays in the resume state (`train_state.safetensors`, not shipped). It has "
    "no encoder: the code of an image (each test image on the latent map, a picture you draw) is found by GAN "
    "inversion, Adam on z from the best of a pool of random codes, minimising the Bernoulli error of G(z) plus a "
    "small prior penalty (`training/inversion.py`). Its reconstruction figure is that of G(z*) for those codes.")


def _training_line(t: dict, kind) -> str:
    """The card's line of training settings: the optimiser and what the kind's loss depends on."""
    lr, ratio = t.get("lr"), t.get("lr_min_ratio", 1)
    decay = f" (cosine decay to {lr * ratio:.0e})" if lr is not None and ratio < 1 else ""
    if kind.adversarial:
        from .gan import ADAM_BETAS

        loss = {"ns": "the non-saturating loss, -log D(G(z))", "hinge": "the hinge loss"}.get(t.get("gan_loss"),
                                                                                            t.get("gan_loss"))
        d_ratio = t.get("disc_lr_ratio", 1)
        return (f"- epochs: {t.get('epochs')}, batch size {t.get('batch_size')}, {loss}; Adam lr {lr}{decay}, betas "
                f"{ADAM_BETAS}, for both networks" + (f" (the discriminator's lr {d_ratio} times that)"
                                                       if d_ratio != 1 else "") + f", seed {t.get('seed')}")
    return (f"- epochs: {t.get('epochs')}, batch size {t.get('batch_size')}, AdamW lr {lr}{decay}"
            + (f", weight decay {t.get('weight_decay')}" if t.get("weight_decay") else "")
            + (f", beta {t.get('beta')}" if kind.stochastic else "")
            + (f", KL warm-up {t.get('kl_warmup_epochs')} epochs" if t.get("kl_warmup_epochs") else "")
            + (f", class MMD weight {t.get('class_mmd')}" if t.get("class_mmd") else "")
            + f", seed {t.get('seed')}")


def _gan_figures_text(metrics: dict, m: dict) -> list[str]:
    """What a GAN's figures mean, and the judge's class histogram of its samples."""
    inv = metrics.get("inversion") or {}
    how = ""
    if {"steps", "starts", "pool", "bce_median"} <= set(inv):
        starts = ("the best code" if inv["starts"] == 1 else f"the {inv['starts']} best codes, then the best of them,")
        how = (f" ({inv['steps']} Adam steps from {starts} of {inv['pool']:,} random ones; median "
               f"{inv['bce_median']:.1f} nats)")
    n = metrics.get("fd_samples")
    lines = [
        f"Reconstruction is the Bernoulli negative log-likelihood (BCE) of the grayscale test pixels under G(z*), z* "
        f"found for each test image by GAN inversion{how}: an optimiser's code, not an encoder's. 5-NN accuracy: a "
        "5-nearest-neighbour vote among the inverted test codes, leave-one-out. The Fréchet distance compares the "
        f"judge classifier's features (`training/judge.py`, trained on the real training images) of "
        f"{f'{n:,} ' if n else ''}prior samples{', balanced over the classes,' if m.get('num_classes') else ''} with "
        "those of the test images; the floor is the same distance for real training images, what a perfect "
        "generator would score. The class shares are how the judge labels the samples: about 1 / classes each for "
        "a generator that draws every class (a share near 0 is a class it dropped, mode collapse)."
        + (" Samples labelled as their class: how often a sample decoded as class c is labelled c."
           if m.get("num_classes") else "")]
    hist = metrics.get("class_histogram")
    names = m.get("class_names") or [str(i) for i in range(len(hist or []))]
    if hist and len(names) == len(hist):
        lines += ["", "Share of the samples the judge gives each class:", "", _row(["class"] + list(names)),
                  _rule(len(hist) + 1), _row(["share"] + [f"{h:.1%}" for h in hist])]
        per_class = metrics.get("sample_accuracy_per_class")
        if per_class and len(per_class) == len(hist):
            lines.append(_row(["labelled as their class"] + [f"{a:.1%}" for a in per_class]))
    return lines


def _likelihood_text(m: dict, metrics: dict) -> str:
    """The card's sentence on what the reconstruction figure is, for the model's likelihood."""
    if m.get("likelihood", "bernoulli") != "gaussian":
        return ("Reconstruction is the Bernoulli negative log-likelihood (BCE) of the grayscale test pixels; for the "
                "AE it is the BCE of decoding the code itself and there is no KL or likelihood bound.")
    bpd = metrics.get(f"bits_per_dim_iwae_k{iwae_k(metrics)}") or metrics.get("bits_per_dim_recon")
    return ("Reconstruction is the Gaussian negative log-likelihood of the 8-bit test images: the density of the "
            "uniformly dequantised pixels, (k + u) / 256, plus D log 256 nats, an upper bound on -log P of the "
            "8-bit image. These nats are not comparable with a Bernoulli model's BCE, which is not a likelihood of "
            "8-bit data." + (f" In bits per dimension: {bpd:.3f}." if bpd else ""))


def _row(cells) -> str:
    """One markdown table row: "| a | b |"."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _rule(columns: int) -> str:
    """The markdown row under a table's heading: "|---|---|"."""
    return "|" + "---|" * columns
