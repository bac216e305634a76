"""The GAN training loop (DCGAN, Radford et al. 2016): reads top to bottom like train.py.

Per batch: draw z ~ N(0, I), generate; one discriminator step on real and generated images; one generator step
with the non-saturating loss, -log D(G(z)) (Goodfellow et al. 2014): it gives the generator strong gradients early,
when the discriminator rejects its samples easily, where the minimax form log(1 - D(G(z))) saturates. Both
networks use Adam(lr, betas (0.5, 0.999)), the DCGAN default. A cgan gives each generated image the class of the
real image beside it in the batch, so every class is generated as often as it occurs.

The model folder holds the generator only (model.safetensors; with --ema the moving average of its weights, which
gives smoother samples). The discriminator, the raw generator, both optimizers and the RNG states live in the
resume state (train_state.safetensors + train_state.json), checkpointed atomically after every epoch.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import checkpoint as ckpt
from . import distributed
from .config import ModelConfig, TrainConfig
from .data import Dataset, unit_images
from .models import GAN, Discriminator, build_model

ADAM_BETAS = (0.5, 0.999)   # DCGAN's: a lower beta1 than Adam's 0.9 keeps the two players from overshooting


def _adam(params, lr: float, device: torch.device) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, betas=ADAM_BETAS, fused=device.type in ("cpu", "cuda"))


def _d_logits(disc, x: torch.Tensor, c: torch.Tensor | None, precision: str) -> torch.Tensor:
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        return disc(x, c).float()


def discriminator_loss(real_logit: torch.Tensor, fake_logit: torch.Tensor, hinge: bool = False) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))), batch means; hinge: max(0, 1 - D(x)) + max(0, 1 + D(G(z))) on the logits."""
    if hinge:
        return F.relu(1 - real_logit).mean() + F.relu(1 + fake_logit).mean()
    return F.softplus(-real_logit).mean() + F.softplus(fake_logit).mean()


def generator_loss(fake_logit: torch.Tensor, hinge: bool = False) -> torch.Tensor:
    """The non-saturating -log D(G(z)) (hinge: -D(G(z)) on the logits), batch mean."""
    return -fake_logit.mean() if hinge else F.softplus(-fake_logit).mean()


def gan_step(model: GAN, disc: Discriminator, g_opt, d_opt, x: torch.Tensor, y: torch.Tensor | None, *,
             precision: str = "fp32", hinge: bool = False, generator: torch.Generator | None = None,
             check=None, z: torch.Tensor | None = None, g_net=None, d_net=None) -> tuple[float, float, float, float]:
    """One discriminator step, then one generator step, on a batch of real images x (B, C, H, W) in [0, 1].

    The discriminator scores real and generated images in separate passes (its batch norm sees one kind at a time,
    as in DCGAN); the generator is then scored by the updated discriminator. check(d_loss, g_loss) may raise
    before a non-finite loss reaches the weights. Returns (d_loss, g_loss, D(x), D(G(z))) as floats, the last
    two the discriminator's mean probabilities before its step.
    Under torchrun: z is this process's rows of the global batch's codes, and g_net / d_net the generator and the
    discriminator in DistributedDataParallel, which average each step's gradients over the processes. The
    generator's step scores its images with the bare discriminator, since that step updates the generator alone."""
    b = x.shape[0]
    if z is None:
        z = torch.randn(b, model.latent_dim, generator=generator, device=x.device)
    g_net, d_net = g_net or model.decoder, d_net or disc
    c = model._condition(y, b, x.device) if model.conditional else None
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        fake = torch.sigmoid(g_net(z, c))                                         # (B, C, H, W) in [0, 1]
    real_logit = _d_logits(d_net, x, c, precision)
    fake_logit = _d_logits(d_net, fake.detach(), c, precision)
    d_loss = discriminator_loss(real_logit, fake_logit, hinge)
    if check is not None:
        check(d_loss, None)
    d_opt.zero_grad(set_to_none=True)
    d_loss.backward()
    d_opt.step()
    g_loss = generator_loss(_d_logits(disc, fake, c, precision), hinge)
    if check is not None:
        check(d_loss, g_loss)
    g_opt.zero_grad(set_to_none=True)
    g_loss.backward(inputs=list(model.decoder.parameters()))   # the discriminator's weights get no gradient
    g_opt.step()
    return (d_loss.item(), g_loss.item(), torch.sigmoid(real_logit).mean().item(),
            torch.sigmoid(fake_logit).mean().item())


def _save_state(out: Path, g_opt, d_opt, disc, epoch: int, step: int, raw_model=None) -> None:
    from .train import _opt_tensors, rng_tensors

    tensors, scalars = {}, {"epoch": epoch, "step": step, "param_steps": {}, "disc_param_steps": {},
                            "trainer": "gan"}
    if raw_model is not None:
        tensors.update({f"raw.{k}": v.detach().contiguous() for k, v in raw_model.state_dict().items()})
    tensors.update({f"disc.{k}": v.detach().contiguous() for k, v in disc.state_dict().items()})
    _opt_tensors(g_opt, "opt", tensors, scalars["param_steps"])
    _opt_tensors(d_opt, "disc_opt", tensors, scalars["disc_param_steps"])
    tensors.update(rng_tensors())
    ckpt.save_tensors(out / ckpt.STATE_NAME, tensors)
    ckpt.write_json(out / ckpt.STATE_JSON, scalars)


def _load_state(out: Path, g_opt, d_opt, disc, device, model) -> tuple[int, int]:
    from .train import _restore_opt, read_state, restore_rng

    tensors, scalars = read_state(out)
    weights = {k[len("disc."):]: v.to(device) for k, v in tensors.items() if k.startswith("disc.")}
    if not weights or scalars.get("trainer") != "gan":
        raise ckpt.ModelLoadError(f"cannot resume a GAN from {out}: its training state has no discriminator (it is "
                                  "the state of an autoencoder run). Start afresh without --resume, or into a new "
                                  "--out folder.")
    try:
        disc.load_state_dict(weights)
    except RuntimeError as e:
        raise ckpt.ModelLoadError(f"cannot resume from {out}: its discriminator does not match this config "
                                  f"({str(e).splitlines()[0]}). Start afresh without --resume.") from e
    _restore_opt(g_opt, "opt", tensors, scalars["param_steps"], device)
    _restore_opt(d_opt, "disc_opt", tensors, scalars["disc_param_steps"], device)
    raw = {k[4:]: v.to(device) for k, v in tensors.items() if k.startswith("raw.")}
    if raw:
        model.load_state_dict(raw)
    restore_rng(tensors)
    return scalars["epoch"], scalars["step"]


def train_gan(model_cfg: ModelConfig, cfg: TrainConfig, out: Path, data: Dataset, device: torch.device, *,
              resume: bool, history: list, progress: bool = True, log=print,
              world: distributed.World = distributed.World()) -> GAN:
    """Train a gan / cgan into `out` (train.train checks the settings, joins torchrun's group when launched by it,
    loads the data and calls this)."""
    from .train import TrainingDiverged, after_step, lr_at, make_ema

    torch.manual_seed(cfg.seed)
    model = build_model(model_cfg).to(device)
    disc = model.discriminator().to(device)
    start_epoch, step = 0, 0
    if resume:
        model = ckpt.load_model(out, device=device).train()
    # the weights model.safetensors holds (the averaged ones, with --ema), for the EMA to continue from
    saved_weights = {k: v.clone() for k, v in model.state_dict().items()} if resume else None
    g_opt = _adam(model.decoder.parameters(), cfg.lr, device)
    d_opt = _adam(disc.parameters(), cfg.lr * cfg.disc_lr_ratio, device)
    if resume:
        start_epoch, step = _load_state(out, g_opt, d_opt, disc, device, model)
        history[:] = history[:start_epoch]
        log(f"resumed from {out} after epoch {start_epoch}")
    ema = make_ema(model, cfg, saved_weights, step)
    keep = ema.module if ema is not None else model
    g_net = d_net = None                  # a plain run calls model.decoder and disc themselves
    if world.distributed:
        # The generator and the discriminator each in DistributedDataParallel. CUDA: SyncBatchNorm, batch norm over
        # the global batch; on CPU each process normalises its own rows, as for the autoencoders.
        def wrap(net: nn.Module) -> nn.Module:
            if device.type == "cuda":
                net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
            return nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda"
                                                       else None)
        g_net, d_net = wrap(model.decoder), wrap(disc)

    x_train = data.train.images.to(device)
    y_train = data.train.labels.to(device)
    n = len(data.train)
    local_batch = cfg.batch_size // world.size  # this process's rows of each global batch
    steps_per_epoch = n // cfg.batch_size      # whole batches only: the discriminator's batch norm sees B images
    total_steps = cfg.epochs * steps_per_epoch
    meta = {"train": cfg.to_dict(), "data": data.provenance}
    hinge = cfg.gan_loss == "hinge"
    with distributed.stopping_on_lost(world, out, TrainingDiverged):
        for epoch in range(start_epoch, cfg.epochs):
            t0 = time.time()
            model.train()
            disc.train()
            # DistributedSampler's order, seeded with seed + epoch: batch b of each process is its rows of global
            # batch b (a plain run: the whole order, one replica).
            order = distributed.epoch_order(n, cfg.seed, epoch, world).to(device)
            sums = torch.zeros(4, dtype=torch.float64)
            bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress,
                       leave=False, dynamic_ncols=True)
            for b in bar:
                lr = lr_at(cfg, step, total_steps)
                for opt, scale in ((g_opt, 1.0), (d_opt, cfg.disc_lr_ratio)):
                    for group in opt.param_groups:
                        group["lr"] = lr * scale
                idx = order[b * local_batch:(b + 1) * local_batch]
                x = unit_images(x_train[idx])
                y = y_train[idx] if model.conditional else None
                def check(d_loss, g_loss, epoch=epoch, b=b):
                    if torch.isfinite(d_loss) and (g_loss is None or torch.isfinite(g_loss)):
                        return
                    raise TrainingDiverged(
                        f"the GAN's losses became D {d_loss.item()}, G {'-' if g_loss is None else g_loss.item()} "
                        f"at epoch {epoch + 1}, batch {b + 1}; training stopped. The last good checkpoint (epoch "
                        f"{epoch}) is kept in {out}. Try a lower --lr (now {cfg.lr}), and check the data for NaN "
                        "values.")

                # Under torchrun, this process's rows of the codes one process would draw for the global batch.
                z = world.noise(len(idx) * world.size, model.latent_dim, device=device) if world.distributed else None
                d_loss, g_loss, d_real, d_fake = gan_step(model, disc, g_opt, d_opt, x, y, precision=cfg.precision,
                                                          hinge=hinge, check=check, z=z, g_net=g_net, d_net=d_net)
                step += 1
                after_step(model, ema, world, epoch)
                sums += torch.tensor([d_loss, g_loss, d_real, d_fake], dtype=torch.float64)
                if b % 10 == 0:
                    bar.set_postfix(D_loss=f"{d_loss:.3f}", G_loss=f"{g_loss:.3f}",
                                    **{"D(x)": f"{d_real:.2f}", "D(G(z))": f"{d_fake:.2f}"})
            # each process's batch means, averaged over the processes: the global batches' means
            sums = world.sum(sums.to(device)).cpu() / world.size
            d_loss_m, g_loss_m, d_real_m, d_fake_m = (sums / max(steps_per_epoch, 1)).tolist()
            if not world.main:
                continue                                         # rank 0 alone writes and reports
            history.append({"epoch": epoch + 1, "d_loss": d_loss_m, "g_loss": g_loss_m, "d_real": d_real_m,
                            "d_fake": d_fake_m, "lr": lr, "seconds": time.time() - t0})
            ckpt.save_model(keep, out, **meta)
            _save_state(out, g_opt, d_opt, disc, epoch + 1, step, raw_model=model if ema is not None else None)
            ckpt.write_json(out / "history.json", {"epochs": history})
            log(f"epoch {epoch + 1}/{cfg.epochs}  D loss {d_loss_m:.3f}  G loss {g_loss_m:.3f}  D(x) {d_real_m:.3f}  "
                f"D(G(z)) {d_fake_m:.3f}  {time.time() - t0:.1f}s")
    return keep.eval()
