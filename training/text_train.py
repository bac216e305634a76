"""The text VAE's training loop, which train.py hands a text model to; it reads top to bottom like train.py.

Batches hold sentences of about one length (length_batches). Per batch of sentences: encode, draw z, decode with
word dropout, and minimise

    loss = recon + beta * sum_j max(free_bits, mean_batch KL_j) [+ bow_weight * bag-of-words NLL from z]

recon is the cross-entropy of every real token after <bos> (words and <eos>), summed per sentence: nats per
sentence. KL_j is dimension j's KL from N(0, I). Free bits (Kingma et al. 2016) stop the KL term pushing a dimension
below `free_bits` nats, and the KL warm-up (beta from beta_start to beta over kl_warmup_epochs, Bowman et al. 2016)
lets the decoder learn to use z before the KL weighs on it: without a remedy the GRU decoder learns to ignore z
(posterior collapse). The reported -ELBO always uses the true KL, whatever the floor or the weight.

The model folder gets config.json, model.safetensors and tokenizer.json (written before the weights: the tokenizer
is trained once, on the training sentences, and never changes). The optimizer and RNG states are the resume state,
checkpointed atomically after every epoch, as for the image models.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import checkpoint as ckpt
from . import distributed
from .config import TextModelConfig, TrainConfig
from .text_models import PAD, TextModel, build_text_model, length_mask


class TextLoss(NamedTuple):
    loss: torch.Tensor        # what is minimised (free bits and beta applied), batch mean
    recon: torch.Tensor       # nats per sentence, batch mean
    kl: torch.Tensor          # true KL, nats per sentence, batch mean (0 for the lm)
    kl_per_dim: torch.Tensor  # (latent_dim,) batch-mean KL of each dimension
    tokens: torch.Tensor      # mean number of predicted tokens per sentence (words + <eos>)
    correct: torch.Tensor     # mean number of them the decoder's argmax got right (teacher forcing)


def targets_mask(model: TextModel, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The tokens a decoder predicts, ids[:, 1:], and which of them count: the words and <eos> for the GRU; for the
    positional decoder every position, since its <pad>s are how it says where the sentence ends."""
    target = ids[:, 1:]
    if model.config.decoder == "positional":
        return target, torch.ones_like(target, dtype=torch.bool)
    return target, length_mask(lengths - 1, target.shape[1])


def text_loss(model: TextModel, ids: torch.Tensor, lengths: torch.Tensor, y: torch.Tensor | None = None, *,
              beta: float = 1.0, free_bits: float = 0.0, word_dropout: float = 0.0, bow_weight: float = 0.0,
              sample: bool = True,
              generator: torch.Generator | None = None, count_correct: bool = False,
              eps: torch.Tensor | None = None, drop: torch.Tensor | None = None,
              world: distributed.World | None = None, global_rows: int = 0) -> TextLoss:
    """The loss of a batch (see the module's docstring); count_correct also counts the teacher-forced argmax
    hits (an evaluation figure: a tenth of a training step's time, so training leaves it out).

    Under torchrun (world, and global_rows: the global batch's size; eps and drop: this process's rows of its
    draws) the loss is this process's part of the global batch's, such that the mean over the processes, which
    DistributedDataParallel takes of the gradients, is the global batch's loss: each term weighted by this
    process's share of the rows, and free bits decided on the global batch's mean KL of each dimension (one
    all_reduce)."""
    if model.config.decoder == "gru":
        ids = ids[:, :int(lengths.max())]                       # no step is spent on a column of <pad>s
    out = model(ids, lengths, y, word_dropout=word_dropout, sample=sample, generator=generator, eps=eps,
                drop=None if drop is None else drop[:, :ids.shape[1] - 1])
    parts = world is not None and world.distributed
    share = len(ids) * world.size / global_rows if parts else 1.0
    target, mask = targets_mask(model, ids, lengths)
    ce = F.cross_entropy(out.logits.float().transpose(1, 2), target, reduction="none")   # (B, T - 1)
    recon = (ce * mask).sum(1).mean()
    correct = ((out.logits.argmax(2) == target) & mask).sum(1).float().mean() if count_correct else recon.new_zeros(())
    if out.mu is None:
        zero = recon.new_zeros(())
        return TextLoss(recon * share, recon, zero, recon.new_zeros(model.latent_dim), mask.sum(1).float().mean(),
                        correct)
    kl_bd = 0.5 * (out.mu.pow(2) + out.logvar.exp() - 1 - out.logvar)                     # (B, D)
    kl_per_dim = kl_bd.mean(0)
    if parts:
        # The global batch's mean KL per dimension decides which dimensions are above the floor; those count
        # with this process's share, the others as the floor, a constant. The mean over processes is the
        # global batch's sum_j max(free_bits, mean KL_j), and so is the mean of the gradients.
        mean_kl = world.sum(kl_bd.detach().sum(0)) / global_rows
        above = mean_kl > free_bits if free_bits > 0 else torch.ones_like(mean_kl, dtype=torch.bool)
        kl_term = (kl_per_dim * above).sum() * share + free_bits * (~above).sum()
    else:
        kl_term = kl_per_dim.clamp_min(free_bits).sum() if free_bits > 0 else kl_per_dim.sum()
    loss = recon * share + beta * kl_term
    if bow_weight > 0 and model.bow is not None:
        c = model._condition(y, len(ids), ids.device)                                       # None, or one-hot
        logp = F.log_softmax(model.bow(out.z if c is None else torch.cat([out.z, c], 1)).float(), 1)  # (B, vocab)
        words = length_mask(lengths - 1, target.shape[1])                                      # words and <eos>
        loss = loss + share * bow_weight * -(logp.gather(1, target) * words).sum(1).mean()
    return TextLoss(loss, recon, kl_per_dim.sum(), kl_per_dim, mask.sum(1).float().mean(), correct)


class _TextStep(nn.Module):
    """text_loss as a module, so that DistributedDataParallel runs the whole forward pass and averages the
    gradients over the processes in backward (train.py's _Step, for text)."""

    def __init__(self, model: TextModel):
        super().__init__()
        self.model = model

    def forward(self, ids, lengths, y, **kw) -> TextLoss:
        return text_loss(self.model, ids, lengths, y, **kw)


@torch.no_grad()
def evaluate_text_loss(model: TextModel, ids: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor | None,
                       batch_size: int = 500, seed: int = 0) -> dict:
    """Test figures of a split: recon, KL and -ELBO (nats per sentence, one z per sentence), token accuracy under
    teacher forcing, and active units (dimensions whose posterior mean varies over the split: Cov > 0.01)."""
    model.eval()
    gen = torch.Generator(device=ids.device).manual_seed(seed)
    sums = {"recon": 0.0, "kl": 0.0, "tokens": 0.0, "correct": 0.0}
    mus = []
    for i in range(0, len(ids), batch_size):
        sl = slice(i, i + batch_size)
        y = None if labels is None or not model.conditional else labels[sl]
        t = text_loss(model, ids[sl], lengths[sl], y, generator=gen, count_correct=True)
        n = len(ids[sl])
        for k in sums:
            sums[k] += float(getattr(t, k)) * n
        if model.has_latent:
            mus.append(model.encode_ids(ids[sl][:, :int(lengths[sl].max())], lengths[sl], y).mu)
    n = len(ids)
    r = {k: v / n for k, v in sums.items()}
    r["neg_elbo"] = r["recon"] + r["kl"]
    r["token_accuracy_teacher_forced"] = r.pop("correct") / max(r["tokens"], 1e-9)
    r["active_units"] = int((torch.cat(mus).var(0) > 0.01).sum()) if mus else 0
    return r


def length_batches(lengths: torch.Tensor, batch_size: int, generator: torch.Generator,
                   pool: int = 50) -> list[torch.Tensor]:
    """One epoch's batches of sentence indices, each of sentences of about one length (bucketing, as fairseq and
    torchtext do): a random order cut into pools of `pool` batches, each pool sorted by length and cut into batches,
    then the batches shuffled. A GRU steps to the longest sentence of its batch, so random batches of WordNet's
    definitions (13.8 tokens on average) would spend about a third of the steps on padding. Every sentence appears
    once; ceil(N / batch_size) batches, as without bucketing; the same generator state gives the same batches."""
    perm = torch.randperm(len(lengths), generator=generator)
    batches = []
    for start in range(0, len(perm), pool * batch_size):
        chunk = perm[start:start + pool * batch_size]
        chunk = chunk[torch.argsort(lengths[chunk].cpu(), stable=True)]
        batches += list(chunk.split(batch_size))
    order = torch.randperm(len(batches), generator=generator)
    return [batches[i] for i in order.tolist()]


def load_training_text(cfg: TrainConfig):
    """The text corpus a TrainConfig names: wordnet (data_dir: the WordNet folder) or text-file (data_file, else
    data_dir: the file), with a line's length counted in characters for the char tokenizer; train_limit keeps the
    first N training sentences."""
    from .text_data import TextSplit, load_text_dataset
    kw = {"seed": cfg.seed}
    if cfg.dataset == "text-file":
        kw["tokenizer_kind"] = "char" if cfg.tokenizer == "char" else "word"
    data = load_text_dataset(cfg.dataset, cfg.data_file or cfg.data_dir, **kw)
    if cfg.train_limit:
        n, tr = cfg.train_limit, data.train
        data.train = TextSplit(tr.texts[:n], tr.labels[:n], tr.headwords[:n], tr.categories[:n])
        data.provenance["train_limit"] = n
    return data


def train_text(model_cfg: TextModelConfig, cfg: TrainConfig, out: Path, data, device: torch.device, *,
               resume: bool = False, history: list | None = None, progress: bool = True, log=print,
               world: distributed.World = distributed.World()) -> TextModel:
    """Train a text model on data (a text_data.TextDataset) into `out`; returns it in eval mode. Under torchrun
    (world), rank 0 trains the tokenizer and writes the folder; every process takes its rows of each batch."""
    from .tokenizer import TextTokenizer, train_tokenizer
    from .train import TrainingDiverged, _load_state, _save_state, after_step, beta_at, lr_at, make_ema

    history = list(history or [])
    if not resume and world.main:
        t0 = time.time()
        # Characters are kept from their first sighting: a poem corpus is small and every character counts.
        tokenizer = train_tokenizer(data.train.texts, kind=cfg.tokenizer, vocab_size=cfg.vocab_size,
                                    min_frequency=1 if cfg.tokenizer == "char" else 2)
        log(f"tokenizer: {cfg.tokenizer}, {tokenizer.vocab_size} tokens, trained in {time.time() - t0:.1f}s")
        tokenizer.save(out)          # before any weights: it is trained once, on the training sentences
    distributed.barrier(world)       # the other processes read rank 0's tokenizer
    if resume or not world.main:
        tokenizer = TextTokenizer.load(out)
    model_cfg = TextModelConfig.from_dict({**model_cfg.to_dict(), "vocab_size": tokenizer.vocab_size})
    torch.manual_seed(cfg.seed)
    model = build_text_model(model_cfg).to(device)
    model.tokenizer = tokenizer
    # word dropout's and z's draws; the batches' order needs no generator state (seed + epoch, as for images)
    drop_gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    start_epoch, step = 0, 0
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                            fused=device.type in ("cpu", "cuda"))
    saved_weights = None
    if resume:
        model = ckpt.load_model(out, device=device).train()
        saved_weights = {k: v.clone() for k, v in model.state_dict().items()}
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                                fused=device.type in ("cpu", "cuda"))
        start_epoch, step = _load_state(out, opt, drop_gen, device, model, modality="text")
        history = history[:start_epoch]
        log(f"resumed from {out} after epoch {start_epoch}")
    ema = make_ema(model, cfg, saved_weights, step)
    keep = ema.module if ema is not None else model
    keep.tokenizer = tokenizer
    step_fn = _TextStep(model)
    if world.distributed:
        step_fn = nn.parallel.DistributedDataParallel(step_fn, device_ids=[device.index] if device.type == "cuda"
                                                      else None)

    ids, lengths = tokenizer.encode(data.train.texts, model_cfg.max_len)          # (N, max_len + 2), (N,)
    ids, lengths, labels = ids.to(device), lengths.to(device), data.train.labels.to(device)
    sub = torch.randperm(len(data.test), generator=torch.Generator().manual_seed(1234))[:cfg.history_test_images]
    t_ids, t_len = tokenizer.encode([data.test.texts[i] for i in sub.tolist()], model_cfg.max_len)
    t_ids, t_len, t_lab = t_ids.to(device), t_len.to(device), data.test.labels[sub].to(device)
    n = len(ids)
    meta = {"train": cfg.to_dict(), "data": data.provenance}
    gru = model_cfg.decoder == "gru"

    with distributed.stopping_on_lost(world, out, TrainingDiverged):
        for epoch in range(start_epoch, cfg.epochs):
            t0 = time.time()
            model.train()
            # the epoch's batches, seeded with seed + epoch: the same global batches in every process
            batches = length_batches(lengths, cfg.batch_size, torch.Generator().manual_seed(cfg.seed + epoch))
            steps_per_epoch = len(batches)
            total_steps = cfg.epochs * steps_per_epoch
            sums = torch.zeros(6, dtype=torch.float64)
            bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress,
                       leave=False, dynamic_ncols=True)
            for b in bar:
                lr = lr_at(cfg, step, total_steps)
                for group in opt.param_groups:
                    group["lr"] = lr
                beta = beta_at(cfg, epoch + b / steps_per_epoch)
                idx = batches[b].to(device)
                kw = {}
                if world.distributed:
                    if len(idx) < world.size:
                        continue    # a batch of fewer sentences than processes cannot be split: skipped by all
                    # This process's rows of the batch and of the draws one process would make for all of it (z's
                    # noise first, then word dropout's, as the model draws them).
                    g_rows, cols = len(idx), (int(lengths[idx].max()) if gru else ids.shape[1]) - 1
                    kw = {"world": world, "global_rows": g_rows,
                          "eps": world.noise(g_rows, model.latent_dim, generator=drop_gen, device=device)
                          if model.has_latent else None}
                    if cfg.word_dropout > 0:
                        kw["drop"] = world.noise(g_rows, cols, generator=drop_gen, device=device,
                                                 uniform=True) < cfg.word_dropout
                    idx = world.rows(idx)
                y = labels[idx] if model.conditional else None
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
                    t = step_fn(ids[idx], lengths[idx], y, beta=beta, free_bits=cfg.free_bits,
                                word_dropout=cfg.word_dropout, bow_weight=cfg.bow_weight, generator=drop_gen, **kw)
                if not torch.isfinite(t.loss):
                    raise TrainingDiverged(
                        f"loss became {t.loss.item()} at epoch {epoch + 1}, batch {b + 1}; training stopped. "
                        f"The last good checkpoint (epoch {epoch}) is kept in {out}. Try a lower --lr (now {cfg.lr}).")
                opt.zero_grad(set_to_none=True)
                t.loss.backward()           # under DDP: the processes' gradients averaged, the global batch's
                torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)   # a GRU's rare gradient spikes
                opt.step()
                step += 1
                after_step(model, ema, world, epoch)
                # the loss as the global batch's share (its mean over processes is the global batch's loss); the
                # other figures per sentence of this process
                rows = len(idx)
                sums += torch.tensor([t.loss.item() * kw.get("global_rows", rows) / world.size, t.recon.item() * rows,
                                      t.kl.item() * rows, t.tokens.item() * rows, t.correct.item() * rows, rows],
                                     dtype=torch.float64)
                if b % 20 == 0:
                    bar.set_postfix(recon=f"{t.recon.item():.1f}", kl=f"{t.kl.item():.1f}", beta=f"{beta:.2f}")
            sums = world.sum(sums.to(device)).cpu()
            train_loss, train_recon, train_kl = (sums[:3] / sums[5]).tolist()
            if not world.main:
                continue                                         # rank 0 evaluates, writes and reports
            test = evaluate_text_loss(keep, t_ids, t_len, t_lab, seed=cfg.seed)
            history.append({"epoch": epoch + 1, "train_loss": train_loss, "train_recon": train_recon,
                            "train_kl": train_kl, "test_loss": test["neg_elbo"], "test_recon": test["recon"],
                            "test_kl": test["kl"], "test_active_units": test["active_units"],
                            "test_token_accuracy": test["token_accuracy_teacher_forced"],
                            "test_sentences": len(t_ids), "beta": beta, "free_bits": cfg.free_bits,
                            "kl_floor": cfg.free_bits * model_cfg.latent_dim, "lr": lr, "seconds": time.time() - t0})
            ckpt.save_model(keep, out, **meta)
            _save_state(out, opt, drop_gen, epoch + 1, step, raw_model=model if ema is not None else None,
                        modality="text")
            ckpt.write_json(out / "history.json", {"epochs": history})
            log(f"epoch {epoch + 1}/{cfg.epochs}  train {train_loss:.2f} (recon {train_recon:.2f}, kl "
                f"{train_kl:.2f})  test -ELBO {test['neg_elbo']:.2f} (recon {test['recon']:.2f}, kl "
                f"{test['kl']:.2f}, {test['active_units']} active)  beta {beta:.2f}  {time.time() - t0:.1f}s")
    return keep.eval()
