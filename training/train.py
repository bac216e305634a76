"""The training loop (AdamW): reads top to bottom (lr, forward, loss, backward, step, log; evaluate and checkpoint each epoch).

Checkpoints are written at the end of every epoch, atomically; `resume=True` continues from the last completed
epoch with the optimizer moments and random-number states restored, so a resumed run matches an uninterrupted one.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn
from tqdm.auto import tqdm

from . import checkpoint as ckpt
from . import distributed
from .distributed import ProcessLost  # noqa: F401  (the CLI's exit code 8)
from .config import ConfigError, ModelConfig, TrainConfig
from .data import Dataset, Split, image_shape_of, load_dataset, unit_images
from .losses import class_mmd, kl_per_image, recon_nll
from .models import LatentModel, ModelOutput, SampleClassifier, build_model


_SLOW_BATCH_S = float(os.environ.get("VAE_EXPLORER_SLOW_BATCH_S", "0") or 0)
_LOSE_RANK = int(os.environ["VAE_EXPLORER_LOSE_RANK"]) if os.environ.get("VAE_EXPLORER_LOSE_RANK") else None


def after_step(model: nn.Module, ema, world: distributed.World, epoch: int) -> None:
    """What every training loop does after an optimizer step: the weights' moving average (--ema), and the test
    hooks (VAE_EXPLORER_SLOW_BATCH_S widens the window for a kill mid-epoch; VAE_EXPLORER_LOSE_RANK loses that
    process of a torchrun run after the first checkpoint)."""
    if ema is not None:
        ema.update_parameters(model)
    if _SLOW_BATCH_S:
        time.sleep(_SLOW_BATCH_S)
    if _LOSE_RANK is not None and world.rank == _LOSE_RANK and epoch >= 1:
        os._exit(17)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class _Step(nn.Module):
    """One process's loss (loss_terms) as a module, so that DistributedDataParallel runs the whole forward pass
    (encoder, draw and decoder) and averages the gradients over the processes in backward."""

    def __init__(self, model: LatentModel):
        super().__init__()
        self.model = model

    def forward(self, x, y, beta: float, mmd: float, precision: str, eps: torch.Tensor | None) -> LossTerms:
        return loss_terms(self.model, x, y, beta, mmd=mmd, precision=precision, eps=eps)


def pick_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for, but torch sees no CUDA GPU; use --device cpu or auto.")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


class LossTerms(NamedTuple):
    loss: torch.Tensor                # what is minimised: mean over the batch
    recon: torch.Tensor               # mean reconstruction BCE, nats per image
    kl: torch.Tensor                  # mean KL, nats per image
    sample_ce: torch.Tensor | None    # with a classifier: its cross-entropy on the decoded prior samples


def loss_terms(model: LatentModel, x: torch.Tensor, y: torch.Tensor | None, beta: float,
               generator: torch.Generator | None = None, sample: bool = True, mmd: float = 0.0,
               precision: str = "fp32", classifier: nn.Module | None = None,
               classifier_weight: float = 0.0, eps: torch.Tensor | None = None) -> LossTerms:
    """The batch's loss and its parts, each a mean over the batch, in nats per image.

    The reconstruction term is the model's likelihood (losses.recon_nll): Bernoulli, or with --likelihood gaussian
    a Gaussian of the dequantised pixels with mean sigmoid(logits).
    mmd > 0 (cvae) adds mmd * class_mmd(z, y): each class's codes should fill the prior on their own.
    classifier_weight > 0 (cvae) also decodes one prior code per image, z ~ N(0, I) with a random class c, in the
    same decoder pass, and adds classifier_weight * the classifier's cross-entropy for c on those samples; the
    classifier's own weights get no gradient from it (train_classifier_step trains them on the real images).
    precision="bf16" runs the network under bfloat16 autocast; the loss terms are computed in float32.
    eps: the reparameterisation noise (B, D), given instead of drawn (a torchrun process's rows of the global batch's).
    """
    use_classifier = classifier is not None and classifier_weight > 0 and model.conditional
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        if not use_classifier:
            out = model(x, y, sample=sample, generator=generator, eps=eps)
        else:
            b = x.shape[0]
            mu, logvar = model.encode(x, y)
            z = model.draw(mu, logvar, generator) if sample else mu
            z_prior = torch.randn(z.shape, generator=generator, device=z.device, dtype=z.dtype)
            y_prior = torch.randint(model.num_classes, (b,), generator=generator, device=x.device)
            logits = model.decode_logits(torch.cat([z, z_prior]), torch.cat([y, y_prior]))   # one pass, 2B codes
            out = ModelOutput(logits[:b], mu, logvar, z)
            classifier.requires_grad_(False)
            class_logits = classifier(torch.sigmoid(logits[b:]))
            classifier.requires_grad_(True)
    z, mu = out.z.float(), out.mu.float()
    logvar = None if out.logvar is None else out.logvar.float()
    recon = recon_nll(model, out.logits.float(), x, generator)                # (B,) nats per image
    kl = kl_per_image(mu, logvar) if model.stochastic else torch.zeros_like(recon)
    loss = (recon + beta * kl).mean()
    if mmd and model.conditional:
        loss = loss + mmd * class_mmd(z, y, generator)
    sample_ce = None
    if use_classifier:
        sample_ce = F.cross_entropy(class_logits.float(), y_prior)
        loss = loss + classifier_weight * sample_ce
    return LossTerms(loss, recon.mean(), kl.mean(), sample_ce)


def train_classifier_step(classifier: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                          precision: str = "fp32") -> float:
    """One step of the auxiliary classifier on a batch of real images; returns its cross-entropy."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        loss = F.cross_entropy(classifier(x).float(), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


@torch.no_grad()
def evaluate_loss(model: LatentModel, split: Split, device, batch_size: int = 1000, seed: int = 0) -> dict:
    """Single-sample test loss (beta = 1), with a fixed seed so epochs are comparable."""
    model.eval()
    gen = torch.Generator(device=device).manual_seed(seed)
    totals = {"recon": 0.0, "kl": 0.0}
    for x, y in split.batches(batch_size, device):
        _, recon, kl, _ = loss_terms(model, x, y, 1.0, generator=gen)
        n = x.shape[0]
        totals["recon"] += recon.item() * n
        totals["kl"] += kl.item() * n
    model.train()
    recon, kl = totals["recon"] / len(split), totals["kl"] / len(split)
    return {"loss": recon + kl, "recon": recon, "kl": kl}


def bf16_is_native(device: torch.device) -> bool:
    """True where bfloat16 autocast runs on bf16 hardware (AVX512-BF16 / AMX CPUs, Ampere or newer GPUs)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def _check_bf16(device: torch.device, log) -> None:
    """bfloat16 autocast is correct on any CPU but only faster where the hardware has bf16 arithmetic."""
    if device.type == "cuda" and not bf16_is_native(device):
        raise ConfigError("--precision bf16 needs a GPU with bfloat16 support (Ampere or newer); "
                          "this one has none: use --precision fp32.")
    if device.type == "cpu" and not bf16_is_native(device):
        log("note: this CPU has no native bfloat16 arithmetic, so --precision bf16 will train slower than fp32.")


def _adamw(model: LatentModel, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW; the fused kernel on CPU and CUDA updates all weights in one pass (2.6 ms a step instead of 7-14 ms
    for these small models on one CPU thread, about a tenth of a training step)."""
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                             fused=device.type in ("cpu", "cuda"))


def lr_at(cfg: TrainConfig, step: int, total_steps: int) -> float:
    """Cosine decay from lr to lr * lr_min_ratio over the run (constant when lr_min_ratio == 1)."""
    lo = cfg.lr * cfg.lr_min_ratio
    return lo + 0.5 * (cfg.lr - lo) * (1 + math.cos(math.pi * min(step, total_steps) / max(total_steps, 1)))


def beta_at(cfg: TrainConfig, epoch_float: float) -> float:
    """KL weight: linear from beta_start to beta over kl_warmup_epochs, then beta."""
    if cfg.kl_warmup_epochs <= 0:
        return cfg.beta
    t = min(1.0, epoch_float / cfg.kl_warmup_epochs)
    return cfg.beta_start + (cfg.beta - cfg.beta_start) * t


def _opt_tensors(opt: torch.optim.Optimizer, prefix: str, tensors: dict, steps: dict) -> None:
    """Adam(W)'s moments into tensors[prefix.i.key] and its step counts into steps[i]."""
    for i, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            if key == "step":
                steps[str(i)] = float(value)
            else:
                tensors[f"{prefix}.{i}.{key}"] = value


def _restore_opt(opt: torch.optim.Optimizer, prefix: str, tensors: dict, steps: dict, device) -> None:
    sd = opt.state_dict()
    for i_str, step in steps.items():
        i = int(i_str)
        sd["state"][i] = {"step": torch.tensor(step),
                          "exp_avg": tensors[f"{prefix}.{i}.exp_avg"].to(device),
                          "exp_avg_sq": tensors[f"{prefix}.{i}.exp_avg_sq"].to(device)}
    opt.load_state_dict(sd)


def make_ema(model: nn.Module, cfg: TrainConfig, saved_weights: dict | None = None, step: int = 0):
    """--ema: a moving average of the weights to evaluate and save (torch's AveragedModel, buffers included), or
    None without --ema. Its decay ramps up as (1 + t) / (10 + t) so the first epochs are not dominated by the random
    initialisation. On resume, saved_weights (the averaged ones, from model.safetensors) and step restore it."""
    if not cfg.ema:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    def ema_update(averaged, current, n):
        n = n.item()
        get_ema_multi_avg_fn(min(cfg.ema, (1 + n) / (10 + n)))(averaged, current, n)

    ema = AveragedModel(model, multi_avg_fn=ema_update, use_buffers=True)
    if saved_weights is not None:
        ema.module.load_state_dict(saved_weights)
        ema.n_averaged.fill_(step)
    return ema


def rng_tensors(loop_gen: torch.Generator | None = None) -> dict:
    """The random-number states a resumed run restores (restore_rng), as tensors for train_state.safetensors:
    torch's own, and a loop's generator if it has one (the text loop's word dropout). The order of an epoch needs
    none: it is seeded with seed + epoch (distributed.epoch_order)."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if loop_gen is not None:
        tensors["rng.shuffle"] = loop_gen.get_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    return tensors


def restore_rng(tensors: dict, loop_gen: torch.Generator | None = None) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    if loop_gen is not None and "rng.shuffle" in tensors:
        loop_gen.set_state(tensors["rng.shuffle"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])


def _save_state(out: Path, opt: torch.optim.Optimizer, loop_gen: torch.Generator | None, epoch: int, step: int,
                raw_model: nn.Module | None = None, classifier: nn.Module | None = None,
                classifier_opt: torch.optim.Optimizer | None = None, modality: str = "image") -> None:
    """Optimizer moments and RNG states as safetensors (never pickle), plus the scalars as JSON.

    raw_model: with --ema, model.safetensors holds the averaged weights, so the trained ones are kept here.
    classifier: with --classifier-weight, the auxiliary classifier and its optimizer (training state only).
    modality: recorded for a text model (text_train.py), so that neither kind of run resumes the other's state.
    """
    tensors, scalars = {}, {"epoch": epoch, "step": step, "param_steps": {}}
    if modality != "image":
        scalars["modality"] = modality
    if raw_model is not None:
        tensors.update({f"raw.{k}": v.detach().contiguous() for k, v in raw_model.state_dict().items()})
    _opt_tensors(opt, "opt", tensors, scalars["param_steps"])
    if classifier is not None:
        tensors.update({f"classifier.{k}": v.detach().contiguous() for k, v in classifier.state_dict().items()})
        scalars["classifier_param_steps"] = {}
        _opt_tensors(classifier_opt, "classifier_opt", tensors, scalars["classifier_param_steps"])
    tensors.update(rng_tensors(loop_gen))
    ckpt.save_tensors(out / ckpt.STATE_NAME, tensors)
    ckpt.write_json(out / ckpt.STATE_JSON, scalars)


def read_state(out: Path) -> tuple[dict, dict]:
    """The resume state of `out`: (tensors of train_state.safetensors, scalars of train_state.json), or a
    ModelLoadError saying how to start afresh."""
    try:
        tensors = load_file(str(out / ckpt.STATE_NAME))
        scalars = json.loads((out / ckpt.STATE_JSON).read_text())
    except (FileNotFoundError, SafetensorError, json.JSONDecodeError, OSError) as e:
        raise ckpt.ModelLoadError(f"cannot resume from {out}: training state is missing or unreadable ({e}). "
                                  "Start afresh without --resume, or into a new --out folder.") from e
    return tensors, scalars


def _load_state(out: Path, opt: torch.optim.Optimizer, loop_gen: torch.Generator | None, device,
                model_of_opt: nn.Module, classifier: nn.Module | None = None,
                classifier_opt: torch.optim.Optimizer | None = None, modality: str = "image") -> tuple[int, int]:
    tensors, scalars = read_state(out)
    saved = scalars.get("modality", "image")
    if saved != modality:
        raise ckpt.ModelLoadError(f"cannot resume from {out}: its training state is an {saved} model's, not a "
                                  f"{modality} model's. Train the {modality} model afresh into a new --out folder.")
    _restore_opt(opt, "opt", tensors, scalars["param_steps"], device)
    raw = {k[4:]: v.to(device) for k, v in tensors.items() if k.startswith("raw.")}
    if raw:
        model_of_opt.load_state_dict(raw)
    if classifier is not None:
        weights = {k[len("classifier."):]: v.to(device) for k, v in tensors.items() if k.startswith("classifier.")}
        if not weights:
            raise ckpt.ModelLoadError(f"cannot resume from {out}: its training state has no auxiliary classifier "
                                      "(it was trained without --classifier-weight). Start afresh without --resume.")
        classifier.load_state_dict(weights)
        _restore_opt(classifier_opt, "classifier_opt", tensors, scalars.get("classifier_param_steps", {}), device)
    restore_rng(tensors, loop_gen)
    return scalars["epoch"], scalars["step"]


def train(model_cfg: ModelConfig, cfg: TrainConfig, out: str | Path, *, resume: bool = False,
          data: Dataset | None = None, progress: bool = True, log=print) -> LatentModel:
    """Train a model into the folder `out`; returns the trained model (eval mode)."""
    cfg.validate(model_cfg.kind)
    out = ckpt.ensure_writable(out)  # fail before any training time is spent
    device = distributed.device_for(pick_device(cfg.device))
    history: list[dict] = []
    if resume:
        # A resumed run continues the saved run: its settings win, except the epoch count and the device.
        if not (out / ckpt.STATE_JSON).is_file():
            raise ckpt.ModelLoadError(f"nothing to resume in {out}: {ckpt.STATE_JSON} is missing. "
                                      "Start afresh without --resume.")
        saved = ckpt.read_config(out)
        saved_kind = saved["model"].get("kind")
        saved_modality = saved["model"].get("modality", "image")
        modality = getattr(model_cfg, "modality", "image")
        if saved_modality != modality:
            raise ConfigError(f"{out} holds the training state of an {saved_modality} model, so a {modality} run "
                              f"cannot resume it. Resume it with --modality {saved_modality}, or train afresh into a "
                              "new --out folder.")
        if saved_kind != model_cfg.kind:
            raise ConfigError(f"{out} holds the training state of a {saved_kind} run, so a {model_cfg.kind} run "
                              f"cannot resume it. Resume it with --kind {saved_kind}, or train the {model_cfg.kind} "
                              "afresh into a new --out folder.")
        model_cfg = type(model_cfg).from_dict(saved["model"])
        cfg = TrainConfig.from_dict({**saved["train"], "epochs": cfg.epochs, "device": cfg.device})
        history = ckpt.read_json(out / "history.json", {"epochs": []})["epochs"]
    text = getattr(model_cfg, "modality", "image") == "text"
    if data is None and text:
        from .text_train import load_training_text
        data = load_training_text(cfg)
    data = data or load_dataset(cfg.dataset, cfg.data_dir, resize=cfg.resize, train_limit=cfg.train_limit,
                                seed=cfg.seed, **({} if text else {"image_shape": model_cfg.image_shape}))
    if not text and image_shape_of(data.train.images) != tuple(model_cfg.image_shape):
        raise ConfigError(f"the data's images are {'x'.join(map(str, image_shape_of(data.train.images)))} but the "
                          f"model takes {'x'.join(map(str, model_cfg.image_shape))} (C x H x W); load the data with "
                          "the model's shape (--channels, --image-size) or build the model for the data.")
    config_cls = type(model_cfg)
    if model_cfg.conditional and model_cfg.num_classes != len(data.class_names):
        model_cfg = config_cls.from_dict({**model_cfg.to_dict(), "num_classes": len(data.class_names),
                                          "class_names": data.class_names})
    if not model_cfg.class_names:
        model_cfg = config_cls.from_dict({**model_cfg.to_dict(), "class_names": data.class_names})

    if cfg.precision == "bf16":
        _check_bf16(device, log)
    if distributed.launched() and cfg.classifier_weight:
        raise ConfigError("torchrun trains every model kind on several processes, but not --classifier-weight (its "
                          "auxiliary classifier trains beside the model in one process): run `python -m training "
                          "train ...` without torchrun, or leave out --classifier-weight.")
    world = distributed.setup(device, cfg.batch_size)   # World() in a plain run
    if not world.main:
        progress, log = False, (lambda *a, **k: None)      # rank 0 alone reports and writes
    if text:
        from .text_train import train_text
        return train_text(model_cfg, cfg, out, data, device, resume=resume, history=history, progress=progress,
                          log=log, world=world)
    if model_cfg.adversarial:
        from .gan import train_gan
        return train_gan(model_cfg, cfg, out, data, device, resume=resume, history=history, progress=progress,
                         log=log, world=world)
    torch.manual_seed(cfg.seed)
    model = build_model(model_cfg).to(device)
    opt = _adamw(model, cfg, device)
    # --classifier-weight: an auxiliary classifier learns the classes from the real images (its own Adam, one
    # step per batch after the model's) and its cross-entropy on decoded prior samples joins the model's loss.
    classifier = classifier_opt = None
    if cfg.classifier_weight:
        classifier = SampleClassifier(model_cfg.num_classes, model_cfg.image_shape).to(device)
        classifier_opt = torch.optim.Adam(classifier.parameters(), lr=1e-3, fused=device.type in ("cpu", "cuda"))
    start_epoch, step = 0, 0
    if resume:
        model = ckpt.load_model(out, device=device).train()
        saved_weights = {k: v.clone() for k, v in model.state_dict().items()}    # the averaged ones, with --ema
        opt = _adamw(model, cfg, device)
        start_epoch, step = _load_state(out, opt, None, device, model, classifier, classifier_opt)
        history = history[:start_epoch]
        log(f"resumed from {out} after epoch {start_epoch}")
    ema = make_ema(model, cfg, saved_weights if resume else None, step)   # None without --ema
    keep = ema.module if ema is not None else model                            # what is evaluated and saved
    step_fn = _Step(model)
    if world.distributed:
        # CUDA: batch norm over the global batch (SyncBatchNorm). On CPU torch's SyncBatchNorm does not run, so each
        # process normalises its own rows (docs/training.md says what that changes).
        if device.type == "cuda":
            step_fn = nn.SyncBatchNorm.convert_sync_batchnorm(step_fn)
        step_fn = nn.parallel.DistributedDataParallel(step_fn, device_ids=[device.index] if device.type == "cuda"
                                                      else None)

    # The per-epoch test figures use a fixed random subset of the test split: the full split is evaluated once,
    # at the end (evaluate.py), and checking 2,000 images each epoch keeps that cost small.
    sub = torch.randperm(len(data.test), generator=torch.Generator().manual_seed(1234))[:cfg.history_test_images]
    test_subset = Split(data.test.images[sub], data.test.labels[sub])
    x_train = data.train.images.to(device)           # (N, H, W) or (N, C, H, W) uint8, converted per batch
    y_train = data.train.labels.to(device)
    n = len(data.train)
    local_batch = cfg.batch_size // world.size        # this process's rows of each global batch
    steps_per_epoch = math.ceil(math.ceil(n / world.size) / local_batch)
    total_steps = cfg.epochs * steps_per_epoch
    meta = {"train": cfg.to_dict(), "data": data.provenance}

    with distributed.stopping_on_lost(world, out, TrainingDiverged):
        for epoch in range(start_epoch, cfg.epochs):
            t0 = time.time()
            model.train()
            # The epoch's order from DistributedSampler, seeded with seed + epoch: this process's share of it
            # (all of it in a plain run), so that batch b of every process is its rows of global batch b.
            order = distributed.epoch_order(n, cfg.seed, epoch, world).to(device)
            sums = torch.zeros(5)
            bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress,
                       leave=False, dynamic_ncols=True)
            for b in bar:
                lr = lr_at(cfg, step, total_steps)
                for group in opt.param_groups:
                    group["lr"] = lr
                beta = beta_at(cfg, epoch + b / steps_per_epoch)
                idx = order[b * local_batch:(b + 1) * local_batch]
                if world.distributed:
                    # This process's rows of the noise one process would draw for the whole global batch (every
                    # process draws it from the same seeded generator); every process has as many rows.
                    eps = world.noise(len(idx) * world.size, model.latent_dim, device=device) if model.stochastic else None
                x = unit_images(x_train[idx])                        # (B, C, H, W) in [0, 1]
                y = y_train[idx]
                if world.distributed:
                    loss, recon, kl, sample_ce = step_fn(x, y, beta, cfg.class_mmd, cfg.precision, eps)
                else:
                    loss, recon, kl, sample_ce = loss_terms(model, x, y, beta, mmd=cfg.class_mmd,
                                                            precision=cfg.precision, classifier=classifier,
                                                            classifier_weight=cfg.classifier_weight)
                if not torch.isfinite(loss):
                    raise TrainingDiverged(
                        f"loss became {loss.item()} at epoch {epoch + 1}, batch {b + 1}; training stopped. "
                        f"The last good checkpoint (epoch {epoch}) is kept in {out}. Try a lower --lr "
                        f"(now {cfg.lr}) or a smaller --beta, and check the data for NaN values.")
                opt.zero_grad(set_to_none=True)
                loss.backward()         # under DDP: the processes' gradients averaged, the global batch's mean
                opt.step()
                if classifier is not None:
                    train_classifier_step(classifier, classifier_opt, x, y, cfg.precision)
                step += 1
                after_step(model, ema, world, epoch)
                ce = 0.0 if sample_ce is None else sample_ce.item()
                sums += torch.tensor([loss.item(), recon.item(), kl.item(), ce, 1.0]) * x.shape[0]
                if b % 10 == 0:
                    bar.set_postfix(loss=f"{loss.item():.1f}", recon=f"{recon.item():.1f}", kl=f"{kl.item():.1f}",
                                    **({"sample_ce": f"{ce:.2f}"} if classifier is not None else {}))
            sums = world.sum(sums.to(device)).cpu()             # each process summed its own rows
            train_loss, train_recon, train_kl, train_ce = (sums[:4] / sums[4]).tolist()
            if not world.main:
                continue                                         # rank 0 evaluates, writes and reports
            test = evaluate_loss(keep, test_subset, device, seed=cfg.seed)
            history.append({"epoch": epoch + 1, "train_loss": train_loss, "train_recon": train_recon,
                            "train_kl": train_kl, "test_loss": test["loss"], "test_recon": test["recon"],
                            "test_kl": test["kl"], "test_images": len(test_subset), "beta": beta, "lr": lr,
                            "seconds": time.time() - t0})
            if classifier is not None:   # how recognisable the samples were to the auxiliary classifier this epoch
                history[-1]["train_sample_ce"] = train_ce
            # Checkpoint: weights + config, then optimizer state, then history. Each file is atomic; the epoch
            # recorded in train_state.json is what resume trusts, and it is written after the weights.
            ckpt.save_model(keep, out, **meta)
            _save_state(out, opt, None, epoch + 1, step, raw_model=model if ema is not None else None,
                        classifier=classifier, classifier_opt=classifier_opt)
            ckpt.write_json(out / "history.json", {"epochs": history})
            log(f"epoch {epoch + 1}/{cfg.epochs}  train {train_loss:.2f} (recon {train_recon:.2f}, kl {train_kl:.2f})  "
                f"test {test['loss']:.2f} (recon {test['recon']:.2f}, kl {test['kl']:.2f})"
                + (f"  samples' cross-entropy {train_ce:.3f}" if classifier is not None else "")
                + f"  {time.time() - t0:.1f}s")
    return keep.eval()
