"""Quality of the shipped text models against their targets, on WordNet's fixed test split (nats per sentence).

    python benchmarks/text_quality.py                          # assets/wordnet-vae (and wordnet-cvae if shipped)
    python benchmarks/text_quality.py --models runs/my-text-vae
    python benchmarks/text_quality.py --quick                  # a tiny smoke test of the script itself

References trained in the same run (cached in benchmarks/.cache/, gitignored, keyed by their settings):
  lm        the same GRU decoder with no code (kind lm), trained with the shipped model's own recipe (tokenizer,
            epochs, batch, lr; no KL): the model a text VAE's -ELBO is measured against (Bowman et al. 2016: VAE
            101 vs LM 100 nats on the Penn Treebank)
  tf-idf    TF-IDF vectors of the definitions (sublinear tf), 5-NN by cosine, fit on the training split: what the
            codes' 5-NN category accuracy must reach
  classifier (a text CVAE) TF-IDF (words and pairs) + logistic regression fit on the training split, labelling the
            CVAE's samples for each category; its accuracy on the real test definitions is printed beside them
Targets (TARGETS): -ELBO within 5% of the LM's; KL >= 12 nats; active units >= 16 of 32; greedy reconstruction
token accuracy >= 40%; 5-NN category accuracy of the test means (10 groups) >= TF-IDF's; of 500 prior samples >= 90%
distinct, <= 5% exact copies of a training definition, >= 90% without an immediately repeated word. Reported beside
them: exact reconstructions, a perplexity bound (exp of -ELBO per token), 5-NN in each 2-D map, the tokenizer's
per-token figures, and the decode time of one slider move (the median of 50 greedy decodes of one code, one
thread), with the time of one bare forward pass of a 1-token batch through the GRU as the machine's reference.
A text CVAE also gets the category read back from 1,000 test definitions by ranking the categories by -ELBO, and the
share of its samples for a category that the classifier above labels so.

Prints a table and writes benchmarks/results/text_quality.json. A script that prints figures, not a pass/fail test.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from training import load_model  # noqa: E402
from training import checkpoint as ckpt  # noqa: E402
from training.config import TextModelConfig, TrainConfig  # noqa: E402
from training.text_evaluate import evaluate_text, knn5_leave_one_out, tfidf_knn5  # noqa: E402
from training.text_train import load_training_text  # noqa: E402

TARGETS = {"elbo_over_lm_max": 1.05, "kl_min": 12.0, "active_min": 16, "token_accuracy_min": 0.40,
           "distinct_min": 0.90, "copies_max": 0.05, "no_repeat_min": 0.90}


def lm_reference(model_folder: Path, data, cache: Path, *, epochs: int | None = None, log=print) -> Path:
    """Train (or reuse) the LM with the model's own recipe; returns its folder."""
    from training.train import train
    cfg = ckpt.read_config(model_folder)
    t = {**cfg["train"]}
    if epochs is not None:
        t["epochs"] = epochs
    # An LM has no encoder and no code: the encoder's settings and the bag-of-words head are not part of it.
    m = {k: v for k, v in cfg["model"].items()
         if k not in ("num_classes", "class_names", "enc_pool", "bow") and not k.startswith("enc_")}
    m["kind"] = "lm"
    t.update(free_bits=0.0, kl_warmup_epochs=0, beta=1.0, word_dropout=0.0)   # no code: nothing to protect
    t.pop("bow_weight", None)
    from training.train import bf16_is_native, pick_device
    if t.get("precision") == "bf16" and not bf16_is_native(pick_device(t.get("device", "auto"))):
        t["precision"] = "fp32"   # as build-assets does: emulated bf16 is slower, and fp32 is within run-to-run noise
    key = json.dumps({"model": m, "train": {k: v for k, v in t.items() if k != "device"}}, sort_keys=True)
    import hashlib
    folder = cache / f"lm-{hashlib.sha256(key.encode()).hexdigest()[:10]}"
    state = folder / ckpt.STATE_JSON
    if state.is_file() and json.loads(state.read_text()).get("epoch") == t["epochs"]:
        log(f"  lm reference: cached in {folder}")
        return folder
    log(f"  lm reference: training {t['epochs']} epochs into {folder}")
    t0 = time.time()
    train(TextModelConfig.from_dict(m), TrainConfig.from_dict(t), folder, data=data, progress=False,
          resume=state.is_file(), log=lambda msg: log("    " + msg))
    log(f"  lm reference: trained in {time.time() - t0:.0f}s")
    return folder


@torch.inference_mode()
def slider_decode_ms(model, repeats: int = 50) -> dict:
    """Median ms of one greedy decode of one code (what a slider move costs the server), beside a bare GRU step."""
    torch.set_num_threads(1)
    z = torch.randn(1, model.latent_dim)
    y = torch.zeros(1, dtype=torch.long) if model.conditional else None
    times = []
    for i in range(repeats + 3):
        t0 = time.perf_counter()
        model.decode_text(z, y)
        if i >= 3:
            times.append((time.perf_counter() - t0) * 1000)
    gru = model.decoder.gru
    x = torch.randn(1, 1, gru.input_size)
    ref = []
    for i in range(repeats + 3):
        t0 = time.perf_counter()
        gru(x)
        if i >= 3:
            ref.append((time.perf_counter() - t0) * 1000)
    return {"decode_ms_median": statistics.median(times), "gru_step_ms_median": statistics.median(ref)}


def row(name, value, target="", ok=None, fmt="{:.2f}"):
    text = fmt.format(value) if isinstance(value, (int, float)) else str(value)
    return {"name": name, "value": value, "text": text, "target": target,
            "verdict": "" if ok is None else ("PASS" if ok else "FAIL")}


def judge_folder(folder: Path, data, args, log=print) -> dict:
    model = load_model(folder)
    log(f"== {folder.name}: text {model.kind}, latent {model.latent_dim}, {model.tokenizer.kind} tokenizer "
        f"({model.tokenizer.vocab_size} tokens)")
    t0 = time.time()
    m = evaluate_text(model, data, log=lambda *a: None)
    lm_folder = lm_reference(folder, data, Path(args.cache), epochs=args.lm_epochs, log=log)
    lm_model = load_model(lm_folder)
    same_tokens = lm_model.tokenizer.to_json() == model.tokenizer.to_json()   # trained alike on the same sentences
    lm = evaluate_text(lm_model, data, log=lambda *a: None, with_reference=False)
    from training.evaluate import load_latent_map
    maps = {}
    if (folder / "latent_map.npz").is_file():
        arrays = load_latent_map(folder)
        maps = {k: knn5_leave_one_out(arrays[k], arrays["labels"]) for k in ("pca", "tsne", "umap") if k in arrays}
    unk = model.tokenizer.unk_rate(data.test.texts)
    speed = slider_decode_ms(model)
    T = TARGETS
    ratio = m["neg_elbo"] / lm["neg_elbo"]
    rows = [
        row("LM reference -ELBO (= its NLL)", lm["neg_elbo"],
            "reference" + ("" if same_tokens else " (another tokenizer!)")),
        row("-ELBO", m["neg_elbo"], f"<= {T['elbo_over_lm_max']:.2f} x LM = {T['elbo_over_lm_max'] * lm['neg_elbo']:.2f}",
            ratio <= T["elbo_over_lm_max"]),
        row("-ELBO / LM", ratio, "", None, "{:.3f}"),
        row("  reconstruction", m["recon"], "informative"),
        row("KL (nats per sentence)", m["kl"], f">= {T['kl_min']:.0f}", m["kl"] >= T["kl_min"]),
        row("active units", m["active_units"], f">= {T['active_min']} of {model.latent_dim}",
            m["active_units"] >= T["active_min"], "{}"),
        row("perplexity bound per token (LM)", f"{m['perplexity_bound']:.1f} ({lm['perplexity_bound']:.1f})",
            "informative"),
        row("tokens per sentence (words + <eos>)", m["tokens_per_sentence"], "informative"),
        row("greedy reconstruction, token accuracy", m["greedy_token_accuracy"],
            f">= {T['token_accuracy_min']:.0%}", m["greedy_token_accuracy"] >= T["token_accuracy_min"], "{:.3f}"),
        row("exact reconstructions", m["exact_reconstructions"], "reported", None, "{:.3f}"),
        row("5-NN category accuracy of the test means", m["knn5_accuracy"],
            f">= TF-IDF {m['tfidf_knn5_accuracy']:.3f}", m["knn5_accuracy"] >= m["tfidf_knn5_accuracy"], "{:.3f}"),
        *[row(f"5-NN in the 2-D {k} map (leave-one-out)", v, "reported", None, "{:.3f}") for k, v in maps.items()],
        row("500 prior samples: distinct", m["sample_distinct"], f">= {T['distinct_min']:.0%}",
            m["sample_distinct"] >= T["distinct_min"], "{:.3f}"),
        row("500 prior samples: copies of a training definition", m["sample_copies"], f"<= {T['copies_max']:.0%}",
            m["sample_copies"] <= T["copies_max"], "{:.3f}"),
        row("500 prior samples: no immediately repeated word", m["sample_no_repeated_word"],
            f">= {T['no_repeat_min']:.0%}", m["sample_no_repeated_word"] >= T["no_repeat_min"], "{:.3f}"),
        *([row("CVAE: category read back by -ELBO ranking (1,000 test definitions)", m["elbo_class_accuracy"],
               "reported", None, "{:.3f}"),
           row("CVAE: samples a TF-IDF classifier labels as their category", m["sample_class_agreement"],
               f"reported (that classifier on real test definitions: {m['tfidf_classifier_test_accuracy']:.3f})",
               None, "{:.3f}")] if model.conditional else []),
        row("tokenizer: test sentences with an <unk>", unk["texts_with_unk"], "informative", None, "{:.3f}"),
        row("slider move: one greedy decode, ms (bare GRU step)",
            f"{speed['decode_ms_median']:.1f} ({speed['gru_step_ms_median']:.2f})", "informative"),
    ]
    log(format_table(folder.name, rows))
    log("  prior samples: " + " | ".join(m["sample_examples"][:6]))
    try:
        lm_name = str(lm_folder.resolve().relative_to(REPO))
    except ValueError:
        lm_name = str(lm_folder)
    return {"metrics": m, "lm": lm, "lm_folder": lm_name, "maps": maps, "tokenizer": unk, "speed": speed,
            "rows": rows, "seconds": round(time.time() - t0, 1)}


def format_table(name: str, rows: list[dict]) -> str:
    w = max(len(r["name"]) for r in rows)
    lines = [f"\n{name}", f"  {'figure'.ljust(w)}  {'value':>16}  {'target':<28} verdict"]
    lines += [f"  {r['name'].ljust(w)}  {r['text']:>16}  {r['target']:<28} {r['verdict']}" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", help="text model folders (default: assets/wordnet-vae, assets/wordnet-cvae)")
    p.add_argument("--cache", default=str(REPO / "benchmarks" / ".cache"))
    p.add_argument("--lm-epochs", type=int, help="epochs of the LM reference (default: the model's own)")
    p.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "text_quality.json"))
    p.add_argument("--quick", action="store_true", help="a 2,000-sentence training subset and a 1-epoch LM")
    args = p.parse_args(argv)
    folders = [Path(f) for f in (args.models or [REPO / "assets" / "wordnet-vae", REPO / "assets" / "wordnet-cvae"])]
    folders = [f for f in folders if (f / "config.json").is_file()]
    if not folders:
        print("no text model folder found: train one (docs/training.md, 'Text models') or pass --models FOLDER")
        return 0
    results = {"command": " ".join(["python benchmarks/text_quality.py", *(argv or sys.argv[1:])]),
               "targets": TARGETS, "models": {}}
    t0 = time.time()
    for folder in folders:
        tcfg = TrainConfig.from_dict(ckpt.read_config(folder)["train"])
        if args.quick:
            tcfg.train_limit, args.lm_epochs = 2000, 1
        data = load_training_text(tcfg)
        results["models"][folder.name] = judge_folder(folder, data, args)
    results["wall_seconds"] = round(time.time() - t0, 1)
    if not args.quick:
        ckpt.write_json(Path(args.json), results)
        print(f"\nwritten to {args.json} ({results['wall_seconds']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
