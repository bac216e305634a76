"""Test-set figures of a text model, in nats per sentence, and its latent map (the test sentences and their codes).

    evaluate_text(model, data)        -> the figures of metrics.json (see FIGURES below)
    build_text_map(model, data.test)  -> arrays for latent_map.npz: texts, headwords, categories, labels, mu, 2-D maps
    tfidf_knn5(data)                  -> the TF-IDF + 5-NN category accuracy, the reference for the codes' 5-NN
    sample_figures(model, data)       -> distinct / copied / repeated-word shares of 500 prior samples
    kl_per_dim(model, texts)          -> each latent dimension's average KL (the traversal grid's row order)
    elbo_class_accuracy, sample_class_agreement
                                      -> a text CVAE: the category read back by -ELBO ranking, and the share of
                                         its samples for a category that a TF-IDF classifier labels so

The -ELBO uses one z per sentence and the true KL; the perplexity bound is exp(-ELBO / predicted tokens), tokens
being the words and <eos> of the tokenizer. Greedy reconstruction decodes each test sentence's posterior mean and
compares token by token, position by position, with the sentence (words and <eos>).
"""
from __future__ import annotations

import math
import re
import time

import numpy as np
import torch

from .text_models import EOS, PAD, TextModel
from .text_train import evaluate_text_loss

SAMPLES = 500
_WORD = re.compile(r"\w+", re.UNICODE)


def _ids(model: TextModel, texts: list[str]):
    ids, lengths = model.tokenizer.encode(list(texts), model.config.max_len)
    dev = model.embed.weight.device
    return ids.to(dev), lengths.to(dev)


@torch.inference_mode()
def encode_texts(model: TextModel, texts: list[str], labels: torch.Tensor | None = None,
                 batch_size: int = 1000) -> torch.Tensor:
    """Posterior means of every sentence: (N, latent_dim) on the CPU."""
    out = []
    for i in range(0, len(texts), batch_size):
        ids, lengths = _ids(model, texts[i:i + batch_size])
        y = labels[i:i + batch_size] if model.conditional else None
        out.append(model.encode_ids(ids[:, :int(lengths.max())], lengths, y).mu.cpu())
    return torch.cat(out)


@torch.inference_mode()
def kl_per_dim(model: TextModel, texts: list[str], labels: torch.Tensor | None = None,
               batch_size: int = 1000) -> list[float]:
    """The average KL(q(z | x) || N(0, I)) of each latent dimension over the sentences, in nats: what the
    explorer's traversal grid orders its rows by (read from metrics.json rather than re-encoded at run time)."""
    total = torch.zeros(model.latent_dim, dtype=torch.float64)
    for i in range(0, len(texts), batch_size):
        ids, lengths = _ids(model, texts[i:i + batch_size])
        y = labels[i:i + batch_size] if model.conditional else None
        mu, logvar = model.encode_ids(ids[:, :int(lengths.max())], lengths, y)
        total += (0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).double().sum(0).cpu()
    return (total / max(len(texts), 1)).tolist()


@torch.inference_mode()
def greedy_reconstruction(model: TextModel, texts: list[str], labels: torch.Tensor | None = None,
                          batch_size: int = 1000) -> dict:
    """Token accuracy and exact matches of greedy decodes of the posterior means, against the tokenised input."""
    right = total = exact = 0
    for i in range(0, len(texts), batch_size):
        ids, lengths = _ids(model, texts[i:i + batch_size])
        y = labels[i:i + batch_size] if model.conditional else None
        mu = model.encode_ids(ids[:, :int(lengths.max())], lengths, y).mu
        out = model.greedy_ids(mu, y)                                         # (B, <= max_len + 1)
        target = ids[:, 1:]                                                   # words, <eos>, <pad>s
        T = target.shape[1]
        out = torch.nn.functional.pad(out, (0, max(0, T - out.shape[1])), value=PAD)[:, :T]
        mask = torch.arange(T, device=ids.device)[None] < (lengths - 1)[:, None]
        hit = (out == target) & mask
        right += int(hit.sum())
        total += int(mask.sum())
        exact += int((hit.sum(1) == mask.sum(1)).sum())
    return {"token_accuracy": right / max(total, 1), "exact": exact / max(len(texts), 1)}


def _knn5(train_x, train_y, test_x, test_y, metric: str = "minkowski") -> float:
    from sklearn.neighbors import KNeighborsClassifier
    clf = KNeighborsClassifier(n_neighbors=5, metric=metric).fit(train_x, train_y)
    return float((clf.predict(test_x) == np.asarray(test_y)).mean())


def tfidf_knn5(data, max_train: int | None = None) -> float:
    """5-NN category accuracy of TF-IDF vectors (cosine), fit on the training sentences: the reference."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    texts = data.train.texts[:max_train] if max_train else data.train.texts
    labels = data.train.labels[:len(texts)].numpy()
    vec = TfidfVectorizer(sublinear_tf=True).fit(texts)
    return _knn5(vec.transform(texts), labels, vec.transform(data.test.texts), data.test.labels.numpy(), "cosine")


@torch.inference_mode()
def class_elbo_parts(model: TextModel, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A text CVAE: each of B tokenised sentences encoded and decoded (teacher forced, at the posterior mean) as every
    one of its C classes: (reconstruction cross-entropy (B, C), KL (B, C)) in nats; their sum is the -ELBO of the
    sentence under each class."""
    from .text_train import targets_mask
    C = model.num_classes
    ids = ids[:, :int(lengths.max())]
    B = len(ids)
    rep_ids, rep_len = ids.repeat_interleave(C, 0), lengths.repeat_interleave(C, 0)
    y = torch.arange(C, device=ids.device).repeat(B)
    out = model(rep_ids, rep_len, y, sample=False)
    target, mask = targets_mask(model, rep_ids, rep_len)
    ce = torch.nn.functional.cross_entropy(out.logits.float().transpose(1, 2), target, reduction="none")
    kl = 0.5 * (out.mu.pow(2) + out.logvar.exp() - 1 - out.logvar)
    return (ce * mask).sum(1).reshape(B, C), kl.sum(1).reshape(B, C)


@torch.inference_mode()
def elbo_class_accuracy(model: TextModel, texts: list[str], labels: torch.Tensor, batch_size: int = 100) -> float:
    """A text CVAE as a classifier: the class of the lowest -ELBO (class_elbo_parts) is its guess of a sentence's
    category; the share of guesses that are its true category."""
    right = 0
    for i in range(0, len(texts), batch_size):
        recon, kl = class_elbo_parts(model, *_ids(model, texts[i:i + batch_size]))
        right += int(((recon + kl).argmin(1).cpu() == labels[i:i + batch_size]).sum())
    return right / max(len(texts), 1)


def sample_class_agreement(model: TextModel, data, per_class: int = 100, seed: int = 0) -> dict:
    """How a text CVAE generates a chosen category: per_class prior samples decoded as each category, labelled by a
    TF-IDF + logistic-regression classifier fit on the training sentences (an independent judge). Returns the share
    labelled as the category they were decoded as, and the same classifier's accuracy on the real test sentences
    (its own ceiling)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2).fit(data.train.texts)
    clf = LogisticRegression(max_iter=1000, C=4.0).fit(vec.transform(data.train.texts), data.train.labels.numpy())
    real = float((clf.predict(vec.transform(data.test.texts)) == data.test.labels.numpy()).mean())
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(model.num_classes).repeat_interleave(per_class)
    texts = model.decode_text(torch.randn(len(y), model.latent_dim, generator=g), y)
    hits = clf.predict(vec.transform(texts)) == y.numpy()
    per = {model.class_names[c] if c < len(model.class_names) else str(c): float(hits[y.numpy() == c].mean())
           for c in range(model.num_classes)}
    return {"sample_class_agreement": float(hits.mean()), "sample_class_agreement_per_class": per,
            "tfidf_classifier_test_accuracy": real}


def knn5_leave_one_out(points: np.ndarray, labels: np.ndarray) -> float:
    from .evaluate import knn5_leave_one_out as loo
    return loo(points, labels)


def has_repeated_word(text: str) -> bool:
    """An immediately repeated word ("the the"), the tell-tale of a decoder that ignores its input."""
    words = _WORD.findall(text.lower())
    return any(a == b for a, b in zip(words, words[1:]))


@torch.inference_mode()
def sample_figures(model: TextModel, data, n: int = SAMPLES, seed: int = 0) -> dict:
    """n prior samples (a cvae: the classes in turn): the share that are distinct, that copy a training sentence
    exactly, and that have no immediately repeated word; plus a few of them to read."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, model.latent_dim, generator=gen)
    y = torch.arange(n) % model.num_classes if model.conditional else None
    texts = model.decode_text(z, y)
    train = set(data.train.texts)
    norm = [t.strip() for t in texts]
    return {"samples": n, "distinct": len(set(norm)) / n, "copies": sum(t in train for t in norm) / n,
            "no_repeated_word": 1 - sum(has_repeated_word(t) for t in norm) / n, "examples": norm[:12]}


@torch.inference_mode()
def evaluate_text(model: TextModel, data, *, seed: int = 0, log=print, with_reference: bool = True) -> dict:
    """Every figure of a text model on data.test (a text_data.TextDataset), for metrics.json."""
    t0 = time.time()
    ids, lengths = _ids(model, data.test.texts)
    r = evaluate_text_loss(model, ids, lengths, data.test.labels.to(ids.device), seed=seed)
    m = {"modality": "text", "kind": model.kind, "n_test": len(data.test), "neg_elbo": r["neg_elbo"],
         "recon": r["recon"], "kl": r["kl"], "active_units": r["active_units"], "latent_dim": model.latent_dim,
         "tokens_per_sentence": r["tokens"],
         "perplexity_bound": math.exp(r["neg_elbo"] / max(r["tokens"], 1e-9)),
         "token_accuracy_teacher_forced": r["token_accuracy_teacher_forced"],
         "units": "nats per sentence (cross-entropy of the words and <eos>); -ELBO with the true KL, one z each"}
    if model.has_latent:
        rec = greedy_reconstruction(model, data.test.texts, data.test.labels)
        m.update(greedy_token_accuracy=rec["token_accuracy"], exact_reconstructions=rec["exact"])
        mu_train = encode_texts(model, data.train.texts, data.train.labels)
        mu_test = encode_texts(model, data.test.texts, data.test.labels)
        m["kl_per_dim"] = kl_per_dim(model, data.test.texts, data.test.labels)
        m["knn5_accuracy"] = _knn5(mu_train.numpy(), data.train.labels.numpy(), mu_test.numpy(),
                                   data.test.labels.numpy())
        m.update({f"sample_{k}": v for k, v in sample_figures(model, data, seed=seed).items()})
        if model.conditional:   # the category: read back from a sentence (-ELBO ranking), and written by samples
            m["elbo_class_accuracy"] = elbo_class_accuracy(model, data.test.texts[:1000], data.test.labels[:1000])
            m.update(sample_class_agreement(model, data, seed=seed))
    if with_reference:
        m["tfidf_knn5_accuracy"] = tfidf_knn5(data)
    m["seconds"] = round(time.time() - t0, 1)
    log(f"text figures in {m['seconds']}s: -ELBO {m['neg_elbo']:.2f}, KL {m['kl']:.2f}, "
        f"{m['active_units']} active units")
    return m


@torch.inference_mode()
def build_text_map(model: TextModel, test, *, seed: int = 0, tsne: bool = True, umap: bool = True) -> dict:
    """latent_map.npz for a text model: the test sentences with their headwords, categories and labels, their
    posterior means and 2-D PCA / t-SNE / UMAP coordinates (the same projections as an image map)."""
    from sklearn.decomposition import PCA

    from .evaluate import map_3d, tsne_2d, umap_2d, umap_available
    mu = encode_texts(model, test.texts, test.labels).numpy().astype(np.float32)
    arrays = {"texts": np.array(test.texts, dtype=np.str_), "headwords": np.array(test.headwords, dtype=np.str_),
              "categories": np.array(test.categories, dtype=np.str_),
              "labels": test.labels.numpy().astype(np.int64), "mu": mu}
    pca = PCA(n_components=2, random_state=seed).fit(mu)
    arrays.update(pca=pca.transform(mu).astype(np.float32), pca_mean=pca.mean_.astype(np.float32),
                  pca_components=pca.components_.astype(np.float32))                # (2, D): new codes go on it
    if tsne:
        arrays["tsne"] = tsne_2d(mu, seed).astype(np.float32)
    if umap and umap_available():
        arrays["umap"] = umap_2d(mu, seed).astype(np.float32)
    arrays.update(map_3d(mu, seed, umap=umap))       # the 3-D views, as an image map's
    return arrays


def finish_text_folder(model: TextModel, folder, data, *, tsne: bool = True, umap: bool = True,
                       command: str | None = None, wall_start: float | None = None, log=print) -> dict:
    """Evaluate a text model on the test split, store its latent map (with each projection's 5-NN accuracy in the
    figures) and write metrics.json and the model card: what finish_folder does for an image model."""
    from pathlib import Path

    from . import checkpoint as ckpt
    from .evaluate import save_latent_map
    from .map_quality import map_quality
    from .figures import METRICS_NAME
    folder = Path(folder)
    metrics = evaluate_text(model, data, log=log)
    if model.has_latent:   # a language model has no codes to map
        t1 = time.time()
        arrays = build_text_map(model, data.test, tsne=tsne, umap=umap)
        metrics.update(map_quality(arrays))   # each 2-D view's trustworthiness and 5-NN
        save_latent_map(folder, arrays)
        log(f"{folder.name}: latent map of {len(data.test)} sentences in {time.time() - t1:.0f}s")
    ckpt.write_json(folder / METRICS_NAME, metrics)
    write_text_model_card(folder, command=command,
                          wall_seconds=None if wall_start is None else time.time() - wall_start)
    return metrics


# (key, label, format) of the card's figures table; a missing key is left out
CARD_FIGURES = [
    ("neg_elbo", "test -ELBO (nats per sentence)", "{:.2f}"), ("recon", "reconstruction", "{:.2f}"),
    ("kl", "KL", "{:.2f}"), ("active_units", "active units", "{}"),
    ("perplexity_bound", "perplexity bound (per token)", "{:.1f}"),
    ("tokens_per_sentence", "tokens per sentence (words + <eos>)", "{:.2f}"),
    ("greedy_token_accuracy", "greedy reconstruction, token accuracy", "{:.1%}"),
    ("exact_reconstructions", "exact reconstructions", "{:.1%}"),
    ("knn5_accuracy", "5-NN category accuracy of the test means", "{:.3f}"),
    ("tfidf_knn5_accuracy", "TF-IDF 5-NN (reference)", "{:.3f}"),
    ("map_knn5_pca", "5-NN in the 2-D PCA map", "{:.3f}"), ("map_knn5_tsne", "5-NN in the t-SNE map", "{:.3f}"),
    ("map_knn5_umap", "5-NN in the UMAP map", "{:.3f}"),
    ("sample_distinct", "500 prior samples: distinct", "{:.1%}"),
    ("sample_copies", "500 prior samples: copies of a training sentence", "{:.1%}"),
    ("sample_no_repeated_word", "500 prior samples: no immediately repeated word", "{:.1%}"),
    ("elbo_class_accuracy", "category read back by -ELBO ranking (1,000 test definitions)", "{:.1%}"),
    ("sample_class_agreement", "samples decoded as a category that a TF-IDF classifier labels so", "{:.1%}"),
    ("tfidf_classifier_test_accuracy", "that classifier on the real test definitions (its ceiling)", "{:.1%}"),
]


def write_text_model_card(folder, *, command: str | None = None, wall_seconds: float | None = None):
    """README.md of a text model folder: what it is, its data, its figures and a few prior samples."""
    from pathlib import Path

    from . import checkpoint as ckpt
    from .figures import METRICS_NAME

    folder = Path(folder)
    config = ckpt.read_config(folder)
    m, t, d = config["model"], config.get("train", {}), config.get("data", {})
    metrics = ckpt.read_json(folder / METRICS_NAME, {}) or {}
    history = (ckpt.read_json(folder / "history.json", {"epochs": []}) or {}).get("epochs", [])
    from .text_models import TEXT_KINDS
    lines = [f"# {folder.name}", "",
             f"A text {m['kind'].upper()} with a {m['latent_dim']}-dimensional latent space, "
             f"{TEXT_KINDS[m['kind']].description.split(': ', 1)[-1]} ({m['decoder']} decoder, {m['enc_layers']} gated convolutions "
             f"of {m['enc_channels']} channels, embeddings of {m['embed_dim']}, GRU state {m['dec_hidden']}).", "",
             "Load it with `training.load_model(\"<this folder>\")`: `encode_text(list_of_str)` gives (mu, logvar), "
             "`decode_text(z)` the greedy sentences. Weights are `model.safetensors`, the tokenizer "
             f"`tokenizer.json` ({t.get('tokenizer', '?')}, {m['vocab_size']} tokens), the settings `config.json`.",
             "", "## Data", "",
             f"{d.get('source', d.get('dataset', '?'))}: {d.get('train_texts', '?')} training sentences, "
             f"{d.get('test_texts', '?')} test sentences (a fixed, seeded {d.get('test_fraction', '?')} hold-out of "
             f"{d.get('kept', '?')} kept of {d.get('read', '?')} read: at most {d.get('max_tokens', '?')} "
             f"{d.get('length_unit', 'tokens')}, duplicates removed). "
             + (str(d.get("license", "")) if d.get("license") else ""), "",
             "## Figures (test split)", "", "| figure | value |", "|---|---|"]
    for key, label, fmt in CARD_FIGURES:
        if metrics.get(key) is not None:
            lines.append(f"| {label} | {fmt.format(metrics[key])} |")
    if metrics.get("sample_examples"):
        lines += ["", "Prior samples, z ~ N(0, I), greedy:", ""] + [f"- {s}" for s in metrics["sample_examples"][:8]]
    lines += ["", "## Training", "",
              f"{len(history)} epochs, batch {t.get('batch_size')}, lr {t.get('lr')}, free bits "
              f"{t.get('free_bits')} nats per dimension, word dropout {t.get('word_dropout')}, KL warm-up "
              f"{t.get('kl_warmup_epochs')} epochs"
              + (f", bag-of-words weight {t.get('bow_weight')}" if t.get("bow_weight") else "")
              + f", encoder pooling {config['model'].get('enc_pool', 'mean')}"
              + (f"; {wall_seconds:.0f} s in all" if wall_seconds else "") + "."]
    if command:
        lines += ["", "```bash", command, "```"]
    ckpt.write_text(folder / "README.md", "\n".join(lines) + "\n")
