"""Text models (training/text_models.py, text_train.py, text_evaluate.py) on tiny corpora the tests make:
shapes of the encoder and both decoders, save / reload, free bits against posterior collapse, resume, the
character-level path, and the command line's messages."""
import json
import random

import pytest
import torch

from training import load_model
from training.checkpoint import ModelLoadError, save_model
from training.config import ConfigError, TextModelConfig, TrainConfig
from training.text_data import TextDataset, TextSplit
from training.text_models import BOS, EOS, PAD, build_text_model
from training.text_train import text_loss
from training.tokenizer import train_tokenizer

COLOURS = ["red", "green", "blue", "small", "large", "old", "young", "quiet"]
ANIMALS = ["cat", "dog", "bird", "fish", "horse", "mouse"]
TOOLS = ["hammer", "knife", "spoon", "brush", "needle", "saw"]
ACTS = ["runs", "sleeps", "swims", "waits", "sings", "hides"]


def corpus(n: int = 240, seed: int = 0) -> TextDataset:
    """Sentences of two categories (animal / tool), 4-7 words each, with headwords; 10% held out."""
    rng = random.Random(seed)
    texts, labels, heads = [], [], []
    while len(texts) < n:
        label = rng.randrange(2)
        noun = rng.choice(ANIMALS if label == 0 else TOOLS)
        t = f"a {rng.choice(COLOURS)} {noun} that {rng.choice(ACTS)}" + (" at night" if rng.random() < .5 else "")
        if t not in texts:
            texts.append(t), labels.append(label), heads.append(noun)
    k = n // 10

    def split(sl):
        return TextSplit(texts[sl], torch.tensor(labels[sl]), heads[sl], [["animal", "tool"][y] for y in labels[sl]])
    return TextDataset("text-file", split(slice(k, None)), split(slice(0, k)), ["animal", "tool"],
                       {"source": "test corpus"})


TINY = dict(latent_dim=4, embed_dim=16, enc_channels=16, enc_layers=2, dec_hidden=24, max_len=10)


def tiny(kind="vae", decoder="gru", data=None, **kw):
    data = data or corpus()
    tok = train_tokenizer(data.train.texts, kind="word", vocab_size=200, min_frequency=1)
    cfg = TextModelConfig(kind=kind, vocab_size=tok.vocab_size, decoder=decoder,
                          num_classes=2 if kind == "cvae" else 0, class_names=["animal", "tool"], **{**TINY, **kw})
    torch.manual_seed(0)
    model = build_text_model(cfg)
    model.tokenizer = tok
    return model.eval()


@pytest.mark.parametrize("kind,decoder", [("vae", "gru"), ("cvae", "gru"), ("lm", "gru"), ("vae", "positional")])
def test_shapes_of_the_encoder_and_both_decoders(kind, decoder):
    model = tiny(kind, decoder)
    data = corpus()
    ids, lengths = model.encode_batch(data.test.texts)
    y = data.test.labels if kind == "cvae" else None
    out = model(ids, lengths, y)
    B, T = ids.shape
    assert ids.shape == (len(data.test), TINY["max_len"] + 2) and (ids[:, 0] == BOS).all()
    assert out.logits.shape == (B, T - 1, model.config.vocab_size)
    if kind == "lm":
        assert out.mu is None and (out.z == 0).all() and not model.has_encoder
        with pytest.raises(ValueError, match="no encoder"):
            model.encode_text(["a red cat"])
    else:
        post = model.encode_text(data.test.texts, y)
        assert post.mu.shape == post.logvar.shape == (B, 4)
        texts = model.decode_text(post.mu, y)
        assert len(texts) == B and all(isinstance(t, str) for t in texts)
    greedy = model.greedy_ids(torch.zeros(3, 4), torch.tensor([0, 1, 0]) if kind == "cvae" else None)
    assert greedy.shape[0] == 3 and greedy.shape[1] <= TINY["max_len"] + 1
    assert not (greedy == BOS).any()


def test_the_loss_counts_words_and_eos_but_never_padding():
    model = tiny()
    ids, lengths = model.encode_batch(["a red cat", "a large old dog that sleeps at night"])
    t = text_loss(model, ids, lengths, sample=False, count_correct=True)
    assert t.tokens.item() == pytest.approx(((lengths - 1).sum() / 2).item())   # words + <eos> per sentence
    longer = torch.cat([ids, torch.full((2, 3), PAD)], 1)                        # more padding changes nothing
    assert text_loss(model, longer, lengths, sample=False).recon.item() == pytest.approx(t.recon.item(), rel=1e-5)


def test_a_cvae_refuses_missing_or_out_of_range_labels():
    model = tiny("cvae")
    with pytest.raises(ValueError, match="class labels"):
        model.encode_text(["a red cat"])
    with pytest.raises(ValueError, match="class ids"):
        model.decode_text(torch.zeros(1, 4), torch.tensor([5]))


def test_save_and_reload_give_identical_greedy_decodes(tmp_path):
    model = tiny("cvae")
    with torch.no_grad():   # a trained-looking decoder: larger weights, so greedy decodes differ from code to code
        for p in model.parameters():
            p.mul_(3)
    save_model(model, tmp_path / "m", train={"tokenizer": "word"}, data={"source": "test"})
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors",
                                                                  "tokenizer.json"]
    again = load_model(tmp_path / "m")
    assert again.modality == "text" and again.kind == "cvae" and again.class_names == ["animal", "tool"]
    z = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))
    y = torch.arange(16) % 2
    a, b = model.decode_text(z, y), again.decode_text(z, y)
    assert a == b and len(set(a)) > 1
    texts = corpus().test.texts
    assert torch.equal(model.encode_text(texts, torch.zeros(len(texts), dtype=torch.long)).mu,
                       again.encode_text(texts, torch.zeros(len(texts), dtype=torch.long)).mu)


def test_a_folder_whose_tokenizer_does_not_match_is_refused(tmp_path):
    model = tiny()
    save_model(model, tmp_path / "m", train={}, data={})
    other = train_tokenizer(["just a few other words here"] * 3, kind="word", vocab_size=50, min_frequency=1)
    other.save(tmp_path / "m")
    with pytest.raises(ModelLoadError, match="tokenizer.json has"):
        load_model(tmp_path / "m")
    (tmp_path / "m" / "tokenizer.json").unlink()
    with pytest.raises(ModelLoadError, match="tokenizer.json"):
        load_model(tmp_path / "m")


def _train(tmp_path, name, epochs=2, free_bits=0.0, data=None, resume=False, **kw):
    from training.train import train
    data = data or corpus()
    mcfg = TextModelConfig(kind=kw.pop("kind", "vae"), **{**TINY, **kw.pop("model", {})})
    tcfg = TrainConfig(dataset="text-file", epochs=epochs, batch_size=32, lr=kw.pop("lr", 3e-3), weight_decay=0.0,
                       free_bits=free_bits, word_dropout=0.3, tokenizer=kw.pop("tokenizer", "word"),
                       vocab_size=200, history_test_images=100, **kw)
    return train(mcfg, tcfg, tmp_path / name, data=data, progress=False, log=lambda *a: None)


def test_free_bits_keep_the_kl_above_its_floor(tmp_path):
    """Without free bits the decoder of a tiny corpus learns to ignore z (the KL falls to a few hundredths of a
    nat); with 1 nat a dimension the encoder's KL climbs towards its floor of 4 nats (2.4 after 6 epochs)."""
    _train(tmp_path, "plain", epochs=6)
    _train(tmp_path, "floor", epochs=6, free_bits=1.0)
    plain = json.loads((tmp_path / "plain" / "history.json").read_text())["epochs"]
    floor = json.loads((tmp_path / "floor" / "history.json").read_text())["epochs"]
    assert floor[-1]["kl_floor"] == 4.0 and floor[-1]["free_bits"] == 1.0
    assert plain[-1]["train_kl"] < 0.5
    assert floor[-1]["train_kl"] > 0.5 * 4.0 and floor[-1]["train_kl"] > 10 * plain[-1]["train_kl"]
    assert floor[-1]["test_active_units"] >= plain[-1]["test_active_units"]


def test_resume_is_exact_and_refuses_an_image_run(tmp_path):
    from training.train import train
    from training.config import ModelConfig
    _train(tmp_path, "straight", epochs=2)
    _train(tmp_path, "resumed", epochs=1)
    _train(tmp_path, "resumed", epochs=2, resume=True)
    a, b = load_model(tmp_path / "straight"), load_model(tmp_path / "resumed")
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    with pytest.raises(ConfigError, match="text model"):
        train(ModelConfig(kind="vae", arch="mlp"), TrainConfig(epochs=3), tmp_path / "straight", resume=True,
              progress=False, log=lambda *a: None)


def test_the_character_level_path_on_five_character_lines(tmp_path):
    """A char tokenizer on a few Tang poem lines (written here in the format of Debian's fortunes-zh): every
    character is a token, and decoding joins them with nothing."""
    lines = ["兰叶春葳蕤", "桂华秋皎洁", "欣欣此生意", "自尔为佳节", "谁知林栖者", "闻风坐相悦", "草木有本心",
             "何求美人折", "浮云终日行", "游子久不至", "三夜频梦君", "情亲见君意"] * 2
    texts = list(dict.fromkeys(lines))
    data = TextDataset("text-file", TextSplit(texts[2:], torch.zeros(10, dtype=torch.long), [""] * 10, [""] * 10),
                       TextSplit(texts[:2], torch.zeros(2, dtype=torch.long), [""] * 2, [""] * 2), ["all"], {})
    model = _train(tmp_path, "poems", epochs=1, data=data, tokenizer="char", model={"max_len": 5})
    assert model.tokenizer.kind == "char"
    ids, lengths = model.encode_batch(["欣欣此生意"])            # a training line, its characters seen once or twice
    assert lengths.tolist() == [7]                           # <bos>, five characters, <eos>
    assert model.tokenizer.decode(ids) == ["欣欣此生意"]
    out = [s.replace("<unk>", "?") for s in model.decode_text(torch.randn(8, 4))]   # one epoch: not yet poems
    assert all(" " not in s and len(s) <= 5 for s in out)
    seen = set("".join(texts[2:])) | {"?"}
    assert all(set(s) <= seen for s in out)


def test_text_model_config_refuses_bad_values():
    with pytest.raises(ConfigError, match="decoder"):
        TextModelConfig(decoder="transformer")
    with pytest.raises(ConfigError, match="latent_dim"):
        TextModelConfig(latent_dim=64)
    with pytest.raises(ConfigError, match="odd"):
        TextModelConfig(enc_kernel=4)
    with pytest.raises(ConfigError, match="free_bits"):
        TrainConfig(free_bits=-1).validate("vae")


def test_the_command_line_trains_evaluates_and_maps_a_text_file(tmp_path, capsys):
    from training.__main__ import main
    from training.evaluate import load_latent_map
    data = corpus()
    lines = [f"{t}\t{['animal', 'tool'][y]}" for t, y in zip(data.train.texts + data.test.texts,
                                                              (data.train.labels.tolist() + data.test.labels.tolist()))]
    (tmp_path / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code = main(["train", "--modality", "text", "--dataset", "text-file", "--data-file", str(tmp_path / "corpus.txt"),
                 "--kind", "cvae", "--tokenizer", "word", "--vocab-size", "200", "--latent-dim", "4", "--epochs", "1",
                 "--max-len", "10", "--no-tsne", "--no-umap", "--out", str(tmp_path / "m")])
    assert code == 0
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    for key in ("neg_elbo", "kl", "active_units", "greedy_token_accuracy", "knn5_accuracy", "tfidf_knn5_accuracy",
                "sample_distinct", "sample_copies", "sample_no_repeated_word", "map_knn5_pca", "perplexity_bound",
                "kl_per_dim", "elbo_class_accuracy", "sample_class_agreement", "tfidf_classifier_test_accuracy"):
        assert key in metrics, key
    assert metrics["neg_elbo"] == pytest.approx(metrics["recon"] + metrics["kl"])
    assert len(metrics["kl_per_dim"]) == 4 and sum(metrics["kl_per_dim"]) == pytest.approx(metrics["kl"], rel=0.02)
    assert 0 <= metrics["elbo_class_accuracy"] <= 1 and 0 <= metrics["sample_class_agreement"] <= 1
    assert metrics["tfidf_classifier_test_accuracy"] > 0.9   # the nouns name the category: an easy judge here
    arrays = load_latent_map(tmp_path / "m")
    assert len(arrays["texts"]) == len(arrays["labels"]) == arrays["mu"].shape[0] == arrays["pca"].shape[0]
    assert set(arrays["categories"]) <= {"animal", "tool"}
    model = load_model(tmp_path / "m")
    assert model.class_names == ["animal", "tool"] and model.config.max_len == 10
    assert "A text CVAE" in (tmp_path / "m" / "README.md").read_text()


@pytest.mark.parametrize("argv,words", [
    (["--free-bits", "0.5"], "--free-bits is a text model setting"),
    (["--modality", "text", "--dataset", "mnist"], "--modality text trains"),
    (["--dataset", "wordnet", "--kind", "gan"], "--modality text trains"),
    (["--dataset", "wordnet", "--gan-loss", "hinge"], "GAN setting"),
    (["--kind", "lm"], "text model kind"),
    (["--bow-weight", "1"], "--bow-weight is a text model setting"),
])
def test_the_command_line_refuses_mixed_image_and_text_settings(tmp_path, capsys, argv, words):
    from training.__main__ import main
    assert main(["train", "--out", str(tmp_path / "m"), *argv]) == 2
    assert words in capsys.readouterr().err


def test_batched_greedy_decoding_equals_one_code_at_a_time():
    """The GRU steps only the rows still writing; a batch must decode as each code alone does."""
    model = tiny()
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.mul_(3.0)                      # untrained weights, scaled so that codes decode differently,
        model.decoder.bias[EOS] += 4.0       # and an <eos> likely enough that sentences end at different steps
    z = torch.randn(16, 4, generator=torch.Generator().manual_seed(0)) * 2
    batch = model.decode_text(z)
    assert batch == [model.decode_text(z[i:i + 1])[0] for i in range(16)]
    assert len({len(s.split()) for s in batch}) > 1   # rows finished at different steps


def test_the_bag_of_words_head_is_trained_and_leaves_the_elbo_alone(tmp_path):
    """--bow-weight: z alone predicts the sentence's bag of words (Zhao et al. 2017). The loss adds exactly
    bow_weight x that bag's negative log-likelihood, training lowers it below an untrained head's, and the
    reported reconstruction and KL (the -ELBO) do not include it."""
    import torch.nn.functional as F
    data = corpus()
    fresh = tiny(bow=True, enc_pool="meanmax")
    model = _train(tmp_path, "bow", epochs=10, free_bits=1.0, bow_weight=1.0, lr=2e-2,
                   model={"bow": True, "enc_pool": "meanmax"})
    assert model.bow is not None and model.config.enc_pool == "meanmax"

    def bag_nll(m):
        ids, lengths = m.encode_batch(data.test.texts)
        ids = ids[:, :int(lengths.max())]
        with torch.no_grad():
            mu = m.encode_ids(ids, lengths).mu
            logp = F.log_softmax(m.bow(mu), 1)
            words = torch.arange(ids.shape[1] - 1)[None] < (lengths - 1)[:, None]
            return -(logp.gather(1, ids[:, 1:]) * words).sum(1).mean(), ids, lengths

    before, _, _ = bag_nll(fresh)
    after, ids, lengths = bag_nll(model)
    assert after < 0.9 * before, (before, after)     # an untrained head stays where it began
    with torch.no_grad():
        plain = text_loss(model, ids, lengths, sample=False)
        with_bow = text_loss(model, ids, lengths, sample=False, bow_weight=2.0)
    assert torch.equal(plain.recon, with_bow.recon) and torch.equal(plain.kl, with_bow.kl)
    assert float(with_bow.loss - plain.loss) == pytest.approx(2.0 * float(after), rel=1e-4)


def test_length_batches_cover_every_sentence_once_with_little_padding():
    """Bucketing (text_train.length_batches): every sentence once per epoch, ceil(N / batch) batches, the same
    batches from the same generator state, and far less padding than random batches of the same size."""
    from training.text_train import length_batches
    lengths = torch.randint(3, 30, (1000,), generator=torch.Generator().manual_seed(0))
    batches = length_batches(lengths, 32, torch.Generator().manual_seed(1), pool=10)
    assert len(batches) == -(-1000 // 32)
    assert sorted(torch.cat(batches).tolist()) == list(range(1000))
    again = length_batches(lengths, 32, torch.Generator().manual_seed(1), pool=10)
    assert all(torch.equal(a, b) for a, b in zip(batches, again))

    def steps(bs):   # GRU steps spent: each batch runs to its longest sentence
        return sum(len(b) * int(lengths[b].max()) for b in bs)
    random_batches = torch.randperm(1000, generator=torch.Generator().manual_seed(1)).split(32)
    assert steps(batches) < 0.8 * steps(random_batches)
    assert len({tuple(b[:3].tolist()) for b in batches}) == len(batches)
