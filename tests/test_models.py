import math

import pytest
import torch

from training import create_model
from training.config import ConfigError, ModelConfig
from training.losses import class_mmd, kl_per_dim, kl_per_image
from training.evaluate import iwae_bound
from training.models import MODEL_KINDS


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
def test_shapes_and_ranges(kind, arch):
    torch.manual_seed(0)
    model = create_model(kind, arch, latent_dim=5, num_classes=4 if kind == "cvae" else 0).eval()
    x = torch.rand(3, 1, 28, 28)
    y = torch.tensor([0, 1, 3]) if kind == "cvae" else None
    mu, logvar = model.encode(x, y)
    assert mu.shape == (3, 5)
    assert (logvar is None) == (kind == "ae")
    if logvar is not None:
        assert logvar.shape == (3, 5)
    out = model.decode(mu, y)
    assert out.shape == (3, 1, 28, 28)
    assert out.min() >= 0 and out.max() <= 1
    fwd = model(x, y)
    assert fwd.logits.shape == (3, 1, 28, 28) and fwd.z.shape == (3, 5)
    assert model.kind == kind and model.latent_dim == 5
    assert model.num_classes == (4 if kind == "cvae" else 0)
    assert isinstance(model, MODEL_KINDS[kind])


def test_cvae_label_changes_output_and_is_required():
    torch.manual_seed(0)
    model = create_model("cvae", "conv", latent_dim=3, num_classes=10).eval()
    z = torch.zeros(1, 3)
    a, b = model.decode(z, torch.tensor([1])), model.decode(z, torch.tensor([7]))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="needs class labels"):
        model.decode(z)
    with pytest.raises(ValueError, match="0..9"):
        model.decode(z, torch.tensor([10]))


def test_unconditional_models_ignore_labels():
    torch.manual_seed(0)
    model = create_model("vae", "mlp", latent_dim=3).eval()
    z = torch.randn(2, 3)
    assert torch.equal(model.decode(z), model.decode(z, torch.tensor([0, 5])))


def test_kl_known_values():
    mu = torch.tensor([[0.0, 1.0, 0.0]])
    logvar = torch.tensor([[0.0, 0.0, math.log(2.0)]])
    expected = torch.tensor([[0.0, 0.5, 0.5 * (2.0 - 1.0 - math.log(2.0))]])
    assert torch.allclose(kl_per_dim(mu, logvar), expected)
    assert kl_per_image(mu, logvar).item() == pytest.approx(expected.sum().item())


def test_pixel_bias_adds_a_learned_offset_per_pixel(tmp_path):
    from training import checkpoint as ckpt, load_model
    torch.manual_seed(0)
    plain = create_model("cvae", latent_dim=4, num_classes=3)
    assert plain.decoder.pixel_bias is None                  # off by default: older folders load unchanged
    m = create_model("cvae", latent_dim=4, num_classes=3, pixel_bias=True).eval()
    assert m.decoder.pixel_bias.shape == (1, 28, 28)
    z, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])
    before = m.decode_logits(z, y)
    with torch.no_grad():
        m.decoder.pixel_bias[0, 3, 7] = 2.0
    after = m.decode_logits(z, y)
    changed = (after - before).abs() > 1e-6
    assert changed[:, 0, 3, 7].all() and changed.sum() == 5
    ckpt.save_model(m, tmp_path / "m")
    assert torch.equal(load_model(tmp_path / "m").decode_logits(z, y), after)


def test_class_mmd_is_zero_on_the_prior_and_grows_when_a_class_drifts():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(64) % 4
    matched = torch.stack([class_mmd(torch.randn(64, 8, generator=g), y, g) for _ in range(300)])
    assert abs(matched.mean().item()) < 0.02          # unbiased: zero on average when every class is N(0, I)
    z = torch.randn(64, 8, generator=g)
    z[y == 2] += 1.5                                    # one class of four sits away from the prior
    drifted = torch.stack([class_mmd(z, y, g) for _ in range(50)]).mean().item()
    assert drifted > 0.1
    # The whole batch is not what it matches: each class must fill N(0, I) on its own. Classes at +-1.5 whose
    # union is centred still count.
    z = torch.randn(64, 8, generator=g) + torch.where(y[:, None] % 2 == 0, 1.5, -1.5)
    assert torch.stack([class_mmd(z, y, g) for _ in range(50)]).mean().item() > 0.3
    assert class_mmd(torch.randn(3, 8), torch.tensor([0, 1, 2])).item() == 0.0   # no class with two codes
    z = torch.randn(16, 8, requires_grad=True)
    class_mmd(z + 2, torch.arange(16) % 2, g).backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_iwae_is_tighter_than_elbo_and_k1_matches_elbo():
    torch.manual_seed(0)
    model = create_model("vae", "mlp", latent_dim=4).eval()
    x = torch.rand(16, 1, 28, 28)
    b1 = iwae_bound(model, x, None, k=1, generator=torch.Generator().manual_seed(1))
    b64 = iwae_bound(model, x, None, k=64, generator=torch.Generator().manual_seed(1))
    assert b64.mean() < b1.mean()
    # k=1 is the single-sample ELBO estimate; its mean over many draws approaches recon + KL.
    many = torch.stack([iwae_bound(model, x, None, k=1, generator=torch.Generator().manual_seed(s))
                        for s in range(200)]).mean(0)
    from training.losses import bce_per_image
    mu, logvar = model.encode(x)
    recon = torch.stack([bce_per_image(model.decode_logits(mu + torch.randn_like(mu) * (0.5 * logvar).exp()), x)
                         for _ in range(200)]).mean(0)
    assert torch.allclose(many, recon + kl_per_image(mu, logvar), rtol=0.01)


@pytest.mark.parametrize("bad, match", [
    (dict(latent_dim=33), "latent_dim"),
    (dict(latent_dim=10**6), "latent_dim"),
    (dict(kind="wgan"), "kind"),
    (dict(kind="gan", arch="mlp"), "arch"),
    (dict(arch="transformer"), "arch"),
    (dict(kind="cvae", num_classes=0), "num_classes"),
    (dict(image_shape=(1, 48, 48)), "image_shape"),
    (dict(image_shape=(2, 32, 32)), "image_shape"),
    (dict(image_shape=(3, 32, 64)), "image_shape"),
    (dict(image_shape=(3, 64, 64), conv_channels=(32, 64)), r"conv_channels.*3 integers.*64x64"),
])
def test_config_rejects_bad_values(bad, match):
    with pytest.raises(ConfigError, match=match):
        ModelConfig(**bad)


def test_config_rejects_unknown_keys():
    with pytest.raises(ConfigError, match="unknown key"):
        ModelConfig.from_dict({"kind": "vae", "evil": 1})


def test_the_kind_table_is_the_one_list_of_kinds():
    """Each class in MODEL_KINDS says what its kind is; the config, the CLI and the model card read it from there."""
    from training.__main__ import main

    assert list(MODEL_KINDS) == ["ae", "vae", "cvae", "gan", "cgan"]        # the order of --kind's choices
    assert all(cls.kind == kind and cls.description for kind, cls in MODEL_KINDS.items())
    assert [cls.stochastic for cls in MODEL_KINDS.values()] == [False, True, True, False, False]
    assert [cls.conditional for cls in MODEL_KINDS.values()] == [False, False, True, False, True]
    assert [cls.adversarial for cls in MODEL_KINDS.values()] == [False, False, False, True, True]
    with pytest.raises(ConfigError, match="use one of ae, vae, cvae, gan, cgan"):
        ModelConfig(kind="wgan")
    assert ModelConfig(kind="cvae", num_classes=3).conditional
    assert ModelConfig(kind="vae", num_classes=3).num_classes == 0          # an unconditional kind drops labels
    with pytest.raises(SystemExit):
        main(["train", "--kind", "wgan", "--out", "unused"])
