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
    k = iwae_k(metrics)   # the folder's own IWAE bound, whatever `-k` it was evaluated with
    cells = [f.format_card(metrics.get(f.key_at(k))) + (f" / {m['latent_dim']}" if f.of_latent else "")
             for f in FIGURES]
    lines = [
        f"# {folder.name}",
        "",
        f"A {m['arch']} {m['kind'].upper()} with a {m['latent_dim']}-dimensional latent space: {kind.description}.",
        "",
        "Load it with `training.load_model(\"<this folder>\")`. Weights are `model.safetensors`; the "
        "architecture and training settings are in `config.json`.",
        "",
        "## Data",
        "",
        data_line,
        "",
        "## Training",
        "",
        f"- epochs: {t.get('epochs')}, batch size {t.get('batch_size')}, AdamW lr {t.get('lr')}"
        + (f" (cosine decay to {t.get('lr') * t.get('lr_min_ratio', 1):.0e})" if t.get("lr_min_ratio", 1) < 1 else "")
        + (f", weight decay {t.get('weight_decay')}" if t.get("weight_decay") else "")
        + (f", beta {t.get('beta')}" if kind.stochastic else "")
        + (f", KL warm-up {t.get('kl_warmup_epochs')} epochs" if t.get("kl_warmup_epochs") else "")
        + (f", class MMD weight {t.get('class_mmd')}" if t.get("class_mmd") else "")
        + f", seed {t.get('seed')}",
    ]
    if t.get("ema"):
        lines.append(f"- the weights are an exponential moving average of the trained ones (decay {t['ema']} a step)")
    if t.get("classifier_weight"):
        lines.append(f"- an auxiliary classifier, trained on the real images alongside, scored prior samples decoded "
                     f"with a random class; its cross-entropy (weight {t['classifier_weight']}) was added to the loss "
                     "so that samples look like their class (`--classifier-weight`; the classifier is not shipped)")
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
        "## Figures (official test split, nats per image)",
        "",
        _row(f.card.format(k=k) for f in FIGURES),
        _rule(len(FIGURES)),
        _row(cells),
        "",
        "Reconstruction is the Bernoulli negative log-likelihood (BCE) of the grayscale test pixels; for the AE it is "
        "the BCE of decoding the code itself and there is no KL or likelihood bound. "
        "5-NN accuracy: a 5-nearest-neighbour classifier fit on the training-set means, scored on the test means.",
    ]
    if extra:
        lines += ["", extra]
    if history:
        lines += ["", "## Per-epoch history", "", "| epoch | train loss | test recon | test KL |", "|---|---|---|---|"]
        lines += [f"| {h['epoch']} | {h['train_loss']:.2f} | {h['test_recon']:.2f} | {h['test_kl']:.2f} |"
                  for h in history]
    path = folder / "README.md"
    ckpt.write_text(path, "\n".join(lines) + "\n")
    return path


def models_table(root: str | Path) -> str:
    """A markdown table of every model folder under `root`, for the project README."""
    head = ["model", "kind", "data", "latent", "epochs"]
    rows = [_row(head + [f.column for f in FIGURES]), _rule(len(head) + len(FIGURES))]
    for folder in sorted(p for p in Path(root).iterdir() if (p / ckpt.CONFIG_NAME).is_file()):
        c = ckpt.read_config(folder)
        m, d, t = c["model"], c.get("data", {}), c.get("train", {})
        x = ckpt.read_json(folder / METRICS_NAME, {}) or {}
        rows.append(_row([f"[{folder.name}]({folder.as_posix()}/README.md)", f"{m['arch']} {m['kind']}",
                          f"{d.get('dataset')} ({d.get('train_images')} train)", m["latent_dim"], t.get("epochs")]
                         + [f.format_card(x.get(f.key)) for f in FIGURES]))
    return "\n".join(rows)


def _row(cells) -> str:
    """One markdown table row: "| a | b |"."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _rule(columns: int) -> str:
    """The markdown row under a table's heading: "|---|---|"."""
    return "|" + "---|" * columns
