"""torchrun training: 2 gloo processes of batch 64 match 1 process of batch 128, for an autoencoder, a GAN and a text
CVAE; the settings it refuses; a lost process stops the run with its message, leaves the last checkpoint intact,
and --resume finishes it.

Each test launches torchrun itself (python -m torch.distributed.run) on a tiny MNIST-format folder it writes."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file

from conftest import synthetic_split, write_idx



@pytest.fixture(scope="module")
def mnist_like(tmp_path_factory):
    """An IDX folder of class-dependent blobs: 300 training images (a last batch of 44 at batch 128), 60 test."""
    folder = tmp_path_factory.mktemp("idx")
    for prefix, n, seed in (("train", 300, 1), ("t10k", 60, 2)):
        split = synthetic_split(n, seed=seed)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", split.images.numpy())
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", split.labels.numpy())
    return folder


def _run(args, out, procs=1, env=None, timeout=240):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(procs),
                "--standalone"] if procs > 1 else [sys.executable]
    e = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([*launcher, "-m", "training", "train", *args, "--out", str(out), "--no-eval",
                           "--device", "cpu"], capture_output=True, text=True, timeout=timeout, env=e)


def _same_weights(a_file, b_file, tol=1e-5):
    a, b = load_file(str(a_file)), load_file(str(b_file))
    assert a.keys() == b.keys()
    worst = max(float(np.abs(a[k].astype(np.float64) - b[k]).max()) for k in a if a[k].dtype.kind == "f")
    assert worst < tol, worst            # summation order differs: ~1e-7 after a few Adam steps


def _same_history(one, two, keys):
    ha = json.loads((one / "history.json").read_text())["epochs"]
    hb = json.loads((two / "history.json").read_text())["epochs"]
    assert len(ha) == len(hb)
    for x, y in zip(ha, hb):
        for key in keys:
            assert x[key] == pytest.approx(y[key], rel=1e-4, abs=1e-3), key


def _common(folder, *extra):
    return ["--dataset", "mnist", "--data-dir", str(folder), "--latent-dim", "3", "--batch-size", "128",
            "--epochs", "2", "--seed", "0", *extra]


@pytest.mark.slow
def test_two_processes_of_64_end_where_one_process_of_128_does(tmp_path, mnist_like):
    """The MLP VAE (no batch norm, reparameterisation noise included): the same weights to float32 rounding."""
    args = _common(mnist_like, "--arch", "mlp", "--kind", "vae")
    one, two = _run(args, tmp_path / "one"), _run(args, tmp_path / "two", procs=2)
    assert one.returncode == 0, one.stderr[-2000:]
    assert two.returncode == 0, two.stderr[-2000:]
    _same_weights(tmp_path / "one" / "model.safetensors", tmp_path / "two" / "model.safetensors")
    _same_history(tmp_path / "one", tmp_path / "two", ("train_loss", "test_loss", "test_kl"))
    # Rank 0 alone wrote the folder and reported; the other process printed no epoch lines.
    assert two.stderr.count("epoch 2/2  train") + two.stdout.count("epoch 2/2  train") == 1


@pytest.mark.slow
def test_a_gan_on_two_processes_trains_as_on_one(tmp_path, mnist_like):
    """A cgan without batch norm (on CPU each process's batch norm sees its own rows): the generator, and the
    discriminator kept in the resume state, end equal; so do the history's losses."""
    args = _common(mnist_like, "--kind", "cgan", "--no-batch-norm")
    one, two = _run(args, tmp_path / "one"), _run(args, tmp_path / "two", procs=2)
    assert one.returncode == 0, one.stderr[-2000:]
    assert two.returncode == 0, two.stderr[-2000:]
    # A GAN's gradients are small, so Adam turns the rounding of a sum split in two into larger weight differences
    # than the VAE's (benchmarks/ddp_equality.py: the same split in one process gives the same weights as DDP, bit
    # for bit); each process stepping on its own half would differ by ~5e-3 here, a lost code row by ~2e-3.
    _same_weights(tmp_path / "one" / "model.safetensors", tmp_path / "two" / "model.safetensors", tol=1e-4)
    a = load_file(str(tmp_path / "one" / "train_state.safetensors"))
    b = load_file(str(tmp_path / "two" / "train_state.safetensors"))
    disc = [k for k in a if k.startswith("disc.")]
    assert disc and max(float(np.abs(a[k].astype(np.float64) - b[k]).max()) for k in disc) < 1e-4
    _same_history(tmp_path / "one", tmp_path / "two", ("d_loss", "g_loss", "d_real", "d_fake"))


@pytest.mark.slow
def test_a_text_cvae_on_two_processes_trains_as_on_one(tmp_path):
    """Batches of sentences of about one length, split unevenly (a short batch of an odd size), word dropout and
    z's noise drawn for the global batch, free bits decided on the global batch's KL, the bag-of-words head: 2
    processes of 32 end where 1 process of 64 does."""
    from test_text_models import corpus
    data = corpus(n=330)
    lines = [f"{t}\t{['animal', 'tool'][y]}" for t, y in zip(data.train.texts + data.test.texts,
                                                              data.train.labels.tolist() + data.test.labels.tolist())]
    (tmp_path / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["--modality", "text", "--dataset", "text-file", "--data-file", str(tmp_path / "corpus.txt"),
            "--kind", "cvae", "--tokenizer", "word", "--vocab-size", "200", "--latent-dim", "4", "--max-len", "10",
            "--batch-size", "64", "--epochs", "2", "--seed", "0", "--word-dropout", "0.25", "--free-bits", "0.5"]
    one, two = _run(args, tmp_path / "one"), _run(args, tmp_path / "two", procs=2)
    assert one.returncode == 0, one.stderr[-2000:]
    assert two.returncode == 0, two.stderr[-2000:]
    assert (tmp_path / "one" / "tokenizer.json").read_text() == (tmp_path / "two" / "tokenizer.json").read_text()
    # The GRU's weights grow to ~5 and its recurrence compounds the rounding: WordNet's run differs by 1.2e-5
    # after 32 steps, one process of batch 32 would by ~1e-1 (benchmarks/ddp_equality.py).
    _same_weights(tmp_path / "one" / "model.safetensors", tmp_path / "two" / "model.safetensors", tol=1e-4)
    _same_history(tmp_path / "one", tmp_path / "two", ("train_loss", "train_recon", "train_kl", "test_loss"))


@pytest.mark.parametrize("kind, batch, extra, words", [
    ("vae", 127, {}, "--batch-size 127 does not split over 2 processes"),
    ("gan", 126, {}, "--batch-size 126 does not split over 4 processes"),
    ("cvae", 128, {"classifier_weight": 5.0}, "but not --classifier-weight")])
def test_a_batch_that_does_not_split_and_the_auxiliary_classifier_are_refused_before_anything_is_written(
        tmp_path, tiny_data, monkeypatch, kind, batch, extra, words):
    """What torchrun's processes see (WORLD_SIZE): the settings are checked before the process group is joined."""
    from training import ConfigError, ModelConfig, TrainConfig
    from training.train import train
    monkeypatch.setenv("WORLD_SIZE", "4" if kind == "gan" else "2")
    with pytest.raises(ConfigError, match=words):
        train(ModelConfig(kind=kind, arch="conv", latent_dim=3, num_classes=3 if kind == "cvae" else 0),
              TrainConfig(epochs=1, batch_size=batch, device="cpu", **extra),
              tmp_path / "m", data=tiny_data, progress=False, log=lambda *a: None)
    assert not (tmp_path / "m" / "model.safetensors").exists()


@pytest.mark.slow
def test_a_lost_process_stops_the_run_and_resume_finishes_it(tmp_path, mnist_like):
    """Rank 1 exits after the first checkpoint: rank 0 stops with the message, epoch 1's checkpoint loads, and
    the same command with --resume trains epochs 2 and 3 on two processes again. On a GAN, two networks and
    optimisers with batch norm in both; the autoencoders' loop stops through the same distributed.stopping_on_lost,
    and its resume is tested in test_kill_resume.py and test_cli.py."""
    args = _common(mnist_like, "--epochs", "3", "--kind", "gan")
    lost = _run(args, tmp_path / "m", procs=2, env={"VAE_EXPLORER_LOSE_RANK": "1"})
    assert lost.returncode != 0
    assert "The last checkpoint (epoch 1) is intact" in lost.stderr and "--resume" in lost.stderr
    assert json.loads((tmp_path / "m" / "train_state.json").read_text())["epoch"] == 1
    from training import load_model
    load_model(tmp_path / "m")
    resumed = _run([*args, "--resume"], tmp_path / "m", procs=2)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    history = json.loads((tmp_path / "m" / "history.json").read_text())["epochs"]
    assert [h["epoch"] for h in history] == [1, 2, 3]


class _HalfOfTwo:
    """Process `rank` of 2, as text_loss sees it; its all_reduce returns the sum both processes would get."""
    size, distributed = 2, True

    def __init__(self, rank, total):
        self.rank, self.total = rank, total

    def rows(self, t):
        return t[self.rank::2]

    def sum(self, t):
        return self.total.clone()


def test_text_loss_split_over_two_processes_averages_to_the_whole_batchs_loss_and_gradient():
    """A batch of 15 sentences split 8 / 7: the mean of the two processes' losses and of their gradients (what DDP
    takes) is the one-process loss and gradient, with free bits set where the global batch's mean KL of a dimension
    is on the other side of the floor from a process's own mean; and with the bag-of-words head and a CVAE's class."""
    import torch
    from test_text_models import TINY, corpus
    from training.config import TextModelConfig
    from training.text_models import build_text_model
    from training.text_train import text_loss
    from training.tokenizer import train_tokenizer

    data = corpus()
    tok = train_tokenizer(data.train.texts, kind="word", vocab_size=100, min_frequency=1)
    torch.manual_seed(0)
    model = build_text_model(TextModelConfig(kind="cvae", num_classes=2, vocab_size=tok.vocab_size, bow=True,
                                             **TINY)).train()
    ids, lengths = tok.encode(data.train.texts[:15], TINY["max_len"])
    y = data.train.labels[:15]
    eps = torch.randn(15, TINY["latent_dim"])

    def kl_means(rows):
        post = model.encode_ids(ids[rows][:, :int(lengths[rows].max())], lengths[rows], y[rows])
        return (0.5 * (post.mu.pow(2) + post.logvar.exp() - 1 - post.logvar)).mean(0).detach()

    whole, first = kl_means(slice(None)), kl_means(slice(0, None, 2))
    d = int((whole - first).abs().argmax())
    free_bits = float(whole[d] + first[d]) / 2          # dimension d: above the floor in one, below in the other
    assert (whole[d] > free_bits) != (first[d] > free_bits)
    kw = dict(beta=0.7, free_bits=free_bits, bow_weight=1.0)

    def loss_and_grad(**more):
        model.zero_grad()
        loss = text_loss(model, more.pop("ids", ids), more.pop("lengths", lengths), more.pop("y", y), **kw,
                         **more).loss
        loss.backward()
        return loss.item(), torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    one_loss, one_grad = loss_and_grad(eps=eps)
    post = model.encode_ids(ids[:, :int(lengths.max())], lengths, y)
    total = (0.5 * (post.mu.pow(2) + post.logvar.exp() - 1 - post.logvar)).sum(0).detach()
    parts = []
    for rank in (0, 1):
        w = _HalfOfTwo(rank, total)
        parts.append(loss_and_grad(ids=w.rows(ids), lengths=w.rows(lengths), y=w.rows(y), eps=w.rows(eps),
                                   world=w, global_rows=15))
    assert (parts[0][0] + parts[1][0]) / 2 == pytest.approx(one_loss, rel=1e-5)
    mean_grad = (parts[0][1] + parts[1][1]) / 2
    assert torch.allclose(mean_grad, one_grad, rtol=1e-4, atol=1e-6), float((mean_grad - one_grad).abs().max())
