"""The Gaussian likelihood (--likelihood gaussian): the loss against torch.distributions, dequantisation, training
a learned sigma, saving and loading it, evaluation's units, and the settings it refuses."""
import json
import math
import subprocess
import sys

import pytest
import torch

from training import ModelConfig, TrainConfig, load_model
from training.config import ConfigError
from training.evaluate import iwae_bound
from training.losses import LOG_256, dequantize, gaussian_nll_per_image, recon_nll, recon_target
from training.models import INITIAL_SIGMA, build_model
from training.recipes import finish_folder
from training.train import train


def _gaussian_cfg(kind="vae", **kw):
    return ModelConfig(kind=kind, arch="mlp", latent_dim=3, mlp_hidden=32, num_classes=3 if kind == "cvae" else 0,
                       likelihood="gaussian", **kw)


def test_gaussian_nll_equals_torch_normal_log_prob():
    g = torch.Generator().manual_seed(0)
    mean, y = torch.rand(2, 1, 3, 3, generator=g), torch.rand(2, 1, 3, 3, generator=g)
    log_sigma = torch.tensor(math.log(0.3))
    expected = -torch.distributions.Normal(mean, 0.3).log_prob(y).flatten(1).sum(1)
    assert torch.allclose(gaussian_nll_per_image(mean, y, log_sigma), expected, atol=1e-5)
    # By hand for one pixel: 0.5 ((0.9 - 0.5) / 0.2)^2 + log 0.2 + 0.5 log 2 pi = 2 - 1.6094 + 0.9189.
    one = gaussian_nll_per_image(torch.full((1, 1, 1, 1), 0.5), torch.full((1, 1, 1, 1), 0.9),
                                 torch.tensor(math.log(0.2)))
    assert one.item() == pytest.approx(2.0 + math.log(0.2) + 0.5 * math.log(2 * math.pi), abs=1e-5)


def test_dequantisation_keeps_each_pixel_in_its_bin():
    x = torch.arange(256, dtype=torch.float32).div(255).view(1, 1, 16, 16)
    y = dequantize(x, torch.Generator().manual_seed(0))
    k = torch.arange(256, dtype=torch.float32).view(1, 1, 16, 16)
    assert bool(((y >= k / 256) & (y < (k + 1) / 256)).all())
    assert not torch.equal(y, k / 256)     # the noise is there


def test_recon_nll_adds_the_bin_width_and_bernoulli_models_are_unchanged():
    model = build_model(_gaussian_cfg(gaussian_sigma=0.1))
    x = torch.rand(4, 1, 28, 28).mul(255).round().div(255)
    logits = torch.randn(4, 1, 28, 28)
    target = recon_target(model, x, torch.Generator().manual_seed(3))
    density = gaussian_nll_per_image(torch.sigmoid(logits), target, torch.tensor(math.log(0.1)))
    assert torch.allclose(recon_nll(model, logits, target, dequantized=True), density + 784 * LOG_256, atol=1e-3)
    bernoulli = build_model(ModelConfig(kind="vae", arch="mlp", latent_dim=3, mlp_hidden=32))
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    assert torch.allclose(recon_nll(bernoulli, logits, x), bce)
    assert recon_target(bernoulli, x) is x
    assert "log_sigma" not in bernoulli.state_dict() and bernoulli.sigma is None


def test_the_learned_sigma_goes_to_the_residuals_rms():
    """Minimising the Gaussian NLL over log sigma alone gives the maximum-likelihood sigma, the RMS residual."""
    model = build_model(_gaussian_cfg())
    g = torch.Generator().manual_seed(0)
    logits, x = torch.randn(8, 1, 28, 28, generator=g), torch.rand(8, 1, 28, 28, generator=g).mul(255).round().div(255)
    target = recon_target(model, x, g)
    opt = torch.optim.Adam([model.log_sigma], lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        recon_nll(model, logits, target, dequantized=True).mean().backward()
        opt.step()
    rms = (target - torch.sigmoid(logits)).pow(2).mean().sqrt().item()
    assert model.sigma == pytest.approx(rms, rel=0.02) and abs(rms - INITIAL_SIGMA) > 0.05


def test_a_fixed_sigma_is_a_buffer_and_a_learned_one_a_parameter():
    fixed, learned = build_model(_gaussian_cfg(gaussian_sigma=0.05)), build_model(_gaussian_cfg())
    assert fixed.sigma == pytest.approx(0.05) and "log_sigma" not in dict(fixed.named_parameters())
    assert learned.sigma == pytest.approx(INITIAL_SIGMA) and "log_sigma" in dict(learned.named_parameters())


@pytest.mark.slow
def test_a_gaussian_vae_learns_sigma_saves_it_and_evaluates_in_nats_and_bits(tmp_path, tiny_data):
    cfg = TrainConfig(epochs=3, batch_size=16, lr=3e-3, seed=0, device="cpu")
    model = train(_gaussian_cfg(), cfg, tmp_path / "m", data=tiny_data, progress=False, log=lambda *a: None)
    assert abs(model.sigma - INITIAL_SIGMA) > 1e-3       # sigma is trained with the weights
    loaded = load_model(tmp_path / "m")
    assert loaded.sigma == pytest.approx(model.sigma)
    z = torch.randn(5, 3)
    with torch.no_grad():
        assert torch.equal(loaded.decode(z), model.decode(z))
    metrics = finish_folder(loaded, tmp_path / "m", tiny_data, k=4, tsne=False, umap=False, log=lambda *a: None)
    assert metrics["likelihood"] == "gaussian" and metrics["sigma"] == pytest.approx(model.sigma)
    assert metrics["iwae_k4"] <= metrics["neg_elbo"] + 1.0
    assert metrics["bits_per_dim_iwae_k4"] == pytest.approx(metrics["iwae_k4"] / (784 * math.log(2)))
    # The 8-bit NLL is positive: D log 256 bounds the dequantised density from below for any sigma here.
    assert 0 < metrics["neg_elbo"] < 784 * LOG_256 * 2
    card = (tmp_path / "m" / "README.md").read_text()
    assert "likelihood: Gaussian" in card and "bits per dimension" in card
    assert json.loads((tmp_path / "m" / "config.json").read_text())["model"]["likelihood"] == "gaussian"


def test_the_iwae_bound_scores_every_sample_against_one_dequantisation():
    model = build_model(_gaussian_cfg(gaussian_sigma=0.2)).eval()
    x = torch.rand(3, 1, 28, 28).mul(255).round().div(255)
    # k = 1 is the single-sample ELBO with the same noise, so the bound with k = 8 can only be lower on average.
    b1 = torch.stack([iwae_bound(model, x, None, 1, torch.Generator().manual_seed(s)) for s in range(8)]).mean(0)
    b8 = torch.stack([iwae_bound(model, x, None, 8, torch.Generator().manual_seed(s)) for s in range(8)]).mean(0)
    assert bool((b8 <= b1 + 1e-3).all())


def test_old_configs_load_as_bernoulli_and_bad_settings_are_refused():
    assert ModelConfig.from_dict({"kind": "vae", "arch": "mlp"}).likelihood == "bernoulli"
    with pytest.raises(ConfigError, match="gan has no likelihood"):
        ModelConfig(kind="gan", likelihood="gaussian")
    with pytest.raises(ConfigError, match="likelihood='poisson' is unknown"):
        ModelConfig(kind="vae", likelihood="poisson")
    with pytest.raises(ConfigError, match="--likelihood gaussian"):
        ModelConfig(kind="vae", gaussian_sigma=0.1)
    with pytest.raises(ConfigError, match="from 0 to 10"):
        ModelConfig(kind="vae", likelihood="gaussian", gaussian_sigma=float("nan"))


def test_the_cli_refuses_a_gaussian_gan_and_a_gaussian_text_model(tmp_path):
    for extra in (["--kind", "gan"], ["--modality", "text", "--dataset", "wordnet"]):
        r = subprocess.run([sys.executable, "-m", "training", "train", "--out", str(tmp_path / "m"),
                            "--likelihood", "gaussian", *extra], capture_output=True, text=True, timeout=120)
        assert r.returncode != 0 and "Traceback" not in r.stderr
        assert "likelihood" in r.stderr
        assert not (tmp_path / "m" / "config.json").exists()
