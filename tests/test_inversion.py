"""GAN inversion (training/inversion.py) on tiny untrained generators: it finds the codes of images the generator
made, leaves the model as it was, and refuses bad input with a message."""
import pytest
import torch

import training.inversion as inversion
from training import create_model
from training.inversion import invert
from training.losses import bce_per_image

TINY_GAN = dict(arch="conv", conv_channels=(4, 8), conv_hidden=16, dense_batch_norm=True)
MODELS = {"gan": ("gan", TINY_GAN), "cgan": ("cgan", {**TINY_GAN, "num_classes": 3}),
          "mlp-vae": ("vae", dict(arch="mlp", mlp_hidden=32))}


def varied(model, gain: float = 4.0):
    """An untrained model whose images differ visibly from code to code (a fresh one gives near-uniform grey):
    a steeper last layer, and batch-norm statistics of its own activations on 256 prior codes. Eval mode after."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        last = model.decoder.deconvs[-1] if hasattr(model.decoder, "deconvs") else model.decoder.out
        last.weight.mul_(gain)
        model.train()
        for m in norms:
            m.reset_running_stats()
            m.momentum = None   # a cumulative average over the one pass below
        y = torch.arange(256) % model.num_classes if model.conditional else None
        model.decode(torch.randn(256, model.latent_dim, generator=g), y)
    return model.eval()


def tiny(name: str, latent_dim: int = 3):
    kind, kw = MODELS[name]
    torch.manual_seed(0)
    return varied(create_model(kind, latent_dim=latent_dim, **kw))


def generated(model, n: int = 16, seed: int = 1):
    """n images the model itself decodes from codes z ~ N(0, I): (z (n, D), labels (n,) or None, x (n, 1, 28, 28))."""
    z = torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(seed))
    y = torch.arange(n) % model.num_classes if model.conditional else None
    with torch.no_grad():
        return z, y, model.decode(z, y)


@pytest.mark.parametrize("name", list(MODELS))
def test_inversion_finds_the_codes_of_images_the_generator_made(name):
    model = tiny(name)
    z, y, x = generated(model)
    with torch.no_grad():
        floor = bce_per_image(model.decode_logits(z, y), x)     # decode(z) = x: the least error any code can have
        other = bce_per_image(model.decode_logits(z.roll(1, 0), y), x)
    start = invert(model, x, y, steps=0, pool=256)               # the best pooled codes, no optimisation
    found = invert(model, x, y, steps=60, pool=256)
    assert found.z.shape == (16, model.latent_dim) and found.bce.shape == (16,)
    assert found.z.dtype == found.bce.dtype == torch.float32
    assert (other - floor).mean() > 20            # the images differ from code to code: a real search problem
    assert (start.bce - floor).mean() > 1.0       # the pool alone leaves a gap ...
    assert (found.bce <= start.bce + 1e-3).all()  # ... which the search closes on every image
    assert (found.bce - floor).max() < 0.5 and (found.bce >= floor - 1e-3).all()
    with torch.no_grad():
        again = model.decode(found.z, y)
        assert torch.allclose(bce_per_image(model.decode_logits(found.z, y), x), found.bce, atol=1e-3)
    gap = (again - x).abs()                       # G(z*) is the image G(z) was: a mean pixel error under 2%, and
    assert gap.mean(dim=(1, 2, 3)).max() < 0.02 and gap.max() < 0.15   # no pixel off by more than 0.15


def test_the_same_seed_gives_the_same_codes_and_the_model_is_left_as_it_was():
    model = tiny("gan").train()                   # a model in train mode: inverted in eval mode, then restored
    _, _, x = generated(model.eval())
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    a = invert(model, x, steps=10, pool=64, seed=3)
    b = invert(model, x, steps=10, pool=64, seed=3)
    assert torch.equal(a.z, b.z) and torch.equal(a.bce, b.bce)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())   # batch-norm statistics too
    assert all(p.grad is None for p in model.parameters())


def test_bf16_search_reports_the_float32_error_of_its_codes():
    model = tiny("gan")
    _, _, x = generated(model, n=8)
    res = invert(model, x, steps=20, pool=64, precision="bf16")
    with torch.no_grad():
        exact = bce_per_image(model.decode_logits(res.z), x)
    assert res.bce.dtype == torch.float32 and torch.allclose(res.bce, exact, atol=1e-3)
    fp32 = invert(model, x, steps=20, pool=64, precision="fp32")
    assert (res.bce - fp32.bce).abs().max() < 1.0   # the search in bf16 ends about where fp32's does


def test_batches_do_not_change_an_images_code():
    model = tiny("cgan")
    _, y, x = generated(model, n=10)
    whole = invert(model, x, y, steps=20, pool=64)
    split = invert(model, x, y, steps=20, pool=64, batch_size=3)
    assert torch.allclose(whole.z, split.z, atol=1e-3) and torch.allclose(whole.bce, split.bce, atol=1e-2)


def test_the_pool_is_decoded_once_until_the_weights_change():
    model = tiny("gan")
    _, _, x = generated(model, n=4)
    invert(model, x, steps=1, pool=64, precision="fp32")
    pool = inversion._pool_for(model, 64, 0, "fp32")
    invert(model, x, steps=1, pool=64, precision="fp32")
    assert inversion._pool_for(model, 64, 0, "fp32") is pool
    with torch.no_grad():
        model.decoder.deconvs[-1].bias.add_(1.0)
    assert inversion._pool_for(model, 64, 0, "fp32") is not pool


def test_no_images_give_no_codes():
    res = invert(tiny("gan"), torch.zeros(0, 1, 28, 28))
    assert res.z.shape == (0, 3) and res.bce.shape == (0,)


@pytest.mark.parametrize("name, images, labels, kw, match", [
    ("gan", torch.zeros(2, 28, 28), None, {}, r"images must be \(N, 1, 28, 28\)"),
    ("cgan", torch.zeros(2, 1, 28, 28), None, {}, "pass labels"),
    ("cgan", torch.zeros(2, 1, 28, 28), torch.tensor([0, 1, 2]), {}, "3 labels for 2 images"),
    ("cgan", torch.zeros(2, 1, 28, 28), torch.tensor([0, 5]), {}, "class ids must be in 0..2"),
    ("gan", torch.zeros(2, 1, 28, 28), None, {"starts": 8, "pool": 4}, "starts <= pool"),
    ("gan", torch.zeros(2, 1, 28, 28), None, {"steps": -1}, "steps >= 0"),
    ("gan", torch.zeros(2, 1, 28, 28), None, {"precision": "fp16"}, "precision"),
    ("gan", torch.full((2, 1, 28, 28), 255.0), None, {}, r"floats in \[0, 1\]"),
    ("gan", torch.full((2, 1, 28, 28), float("nan")), None, {}, "without NaN"),
], ids=["shape", "labels-missing", "labels-count", "labels-range", "pool", "steps", "precision", "range", "nan"])
def test_bad_input_is_refused_with_the_fix(name, images, labels, kw, match):
    with pytest.raises(ValueError, match=match):
        invert(tiny(name), images, labels, **kw)
