"""Text VAEs: sentences in a latent space (Bowman et al. 2016), with the poetry robot's gated-convolution encoder.

    tokens (B, T) -> embedding + positions -> residual gated convolutions (GLU) -> masked mean pool -> mu, logvar
    z (B, latent_dim) -> an autoregressive GRU fed z at every step (h0 = tanh(W z)) -> logits (B, T, vocab)

The kinds (TEXT_KINDS): `vae`, `cvae` (the class, a one-hot category, enters the encoder's pooled features and
every decoder step) and `lm`, the same decoder with no code (z = 0 and no encoder): the language model a text VAE's
-ELBO is measured against. A second decoder, `decoder="positional"`, predicts every position at once from z and
the position alone (non-autoregressive, as the poetry robot's): it keeps more KL but writes word salad, which is
why the GRU is the default; both are measured by benchmarks/text_quality.py.

Token ids come from training.tokenizer.TextTokenizer: <pad> 0, <bos> 1, <eos> 2, <unk> 3. A batch is
(ids (B, T), lengths (B,)), each row <bos> w1 .. wn <eos> <pad>..., lengths counting <bos> and <eos>.
`forward` computes no loss: text_train.py does.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .config import TextModelConfig
from .hub import HubModelMixin
from .models import CodeAndClasses, Posterior

PAD, BOS, EOS, UNK = 0, 1, 2, 3


class TextOutput(NamedTuple):
    logits: torch.Tensor              # (B, T - 1, vocab): the prediction of tokens 1.. T - 1 (after <bos>)
    mu: torch.Tensor | None           # (B, latent_dim); None for the lm
    logvar: torch.Tensor | None       # (B, latent_dim); None for the lm
    z: torch.Tensor                   # (B, latent_dim) the code that was decoded (zeros for the lm)


def length_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """(B,) lengths -> (B, T) bool, True on the first lengths[b] positions."""
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]


class GatedConv(nn.Module):
    """h + GLU(conv(h)): two convolutions of the same shape, one through a sigmoid, multiplied (Dauphin et al.
    2017; the poetry robot's encoder), with a residual path. Padded positions are zeroed before each convolution
    so they never leak into real ones."""

    def __init__(self, channels: int, kernel: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, 2 * channels, kernel, padding=kernel // 2)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:   # h (B, C, T), mask (B, 1, T)
        a, gate = self.conv(h * mask).chunk(2, dim=1)
        return (h + a * torch.sigmoid(gate)) * math.sqrt(0.5)


class GatedConvEncoder(nn.Module):
    """embedded tokens (B, T, E) -> (B, out_dim): + learned positions, enc_layers gated convolutions, a masked mean.
    The token embedding is the model's (shared with the decoder), so it is an argument, not a submodule."""

    def __init__(self, cfg: TextModelConfig, out_dim: int, cond: int = 0):
        super().__init__()
        self.pos = nn.Embedding(cfg.max_len + 2, cfg.embed_dim)
        self.inp = nn.Linear(cfg.embed_dim, cfg.enc_channels)
        self.blocks = nn.ModuleList(GatedConv(cfg.enc_channels, cfg.enc_kernel) for _ in range(cfg.enc_layers))
        self.pool = cfg.enc_pool
        pooled = cfg.enc_channels * (2 if cfg.enc_pool == "meanmax" else 1)
        self.out = nn.Linear(pooled + cond, out_dim)

    def forward(self, emb: torch.Tensor, lengths: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        T = emb.shape[1]
        mask = length_mask(lengths, T)[:, None, :].float()                        # (B, 1, T)
        h = self.inp(emb + self.pos.weight[:T]).transpose(1, 2)                   # (B, C, T)
        for block in self.blocks:
            h = block(h, mask)
        pooled = (h * mask).sum(2) / mask.sum(2).clamp_min(1)                     # (B, C)
        if self.pool == "meanmax":
            pooled = torch.cat([pooled, h.masked_fill(mask == 0, -1e4).amax(2)], 1)  # (B, 2C)
        return self.out(pooled if c is None else torch.cat([pooled, c], 1))


class GRUDecoder(nn.Module):
    """Autoregressive: step t reads the embedding of token t - 1, z and the label; h0 = tanh(W [z, c]). The output
    layer is tied to the input embedding (a projection to embed_dim, then the embedding matrix transposed)."""

    def __init__(self, cfg: TextModelConfig, cond: int = 0):
        super().__init__()
        self.init = nn.Linear(cfg.latent_dim + cond, cfg.dec_hidden)
        self.gru = nn.GRU(cfg.embed_dim + cfg.latent_dim + cond, cfg.dec_hidden, batch_first=True)
        self.proj = nn.Linear(cfg.dec_hidden, cfg.embed_dim)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    def _code(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return z if c is None else torch.cat([z, c], 1)                           # (B, latent_dim + cond)

    def logits_of(self, out: torch.Tensor, embed: nn.Embedding) -> torch.Tensor:
        return self.proj(out) @ embed.weight.t() + self.bias                      # (B, T, vocab)

    def forward(self, inputs: torch.Tensor, z: torch.Tensor, c: torch.Tensor | None, embed: nn.Embedding) -> torch.Tensor:
        """inputs (B, T) token ids (<bos> first; word dropout already applied) -> logits (B, T, vocab)."""
        code = self._code(z, c)
        x = torch.cat([embed(inputs), code[:, None, :].expand(-1, inputs.shape[1], -1)], 2)
        out, _ = self.gru(x, torch.tanh(self.init(code))[None])
        return self.logits_of(out, embed)

    @torch.no_grad()
    def greedy(self, z: torch.Tensor, c: torch.Tensor | None, max_len: int, embed: nn.Embedding) -> torch.Tensor:
        """(B, latent_dim) -> token ids (B, <= max_len + 1), the most likely token at each step, until every row has
        written <eos> (rows that finished early are padded); a row still going after max_len words gets its <eos>."""
        code = self._code(z, c)
        B = z.shape[0]
        h = torch.tanh(self.init(code))[None]                                      # (1, B, H)
        tok = torch.full((B,), BOS, dtype=torch.long, device=z.device)
        live = torch.arange(B, device=z.device)        # the rows still writing: only they are stepped
        out = torch.full((B, max_len + 1), PAD, dtype=torch.long, device=z.device)
        for t in range(max_len + 1):
            x = torch.cat([embed(tok), code], 1)[:, None, :]
            o, h = self.gru(x, h)
            logits = self.logits_of(o[:, 0], embed)
            logits[:, PAD] = logits[:, BOS] = -float("inf")                         # never written mid-sentence
            tok = logits.argmax(1)
            if t == max_len:
                tok = torch.full_like(tok, EOS)                                     # at most max_len words
            out[live, t] = tok
            going = tok != EOS
            if not going.any():
                break
            if not going.all():
                live, tok, code, h = live[going], tok[going], code[going], h[:, going]
        return out[:, :t + 1]


class PositionalDecoder(nn.Module):
    """Non-autoregressive: every position t reads z, the label and a learned position embedding, then gated
    convolutions mix neighbouring positions; all max_len + 1 tokens (words, <eos>, then <pad>s) at once."""

    def __init__(self, cfg: TextModelConfig, cond: int = 0):
        super().__init__()
        self.T = cfg.max_len + 1
        self.pos = nn.Parameter(torch.randn(self.T, cfg.enc_channels) * 0.02)
        self.inp = nn.Linear(cfg.latent_dim + cond, cfg.enc_channels)
        self.blocks = nn.ModuleList(GatedConv(cfg.enc_channels, cfg.enc_kernel) for _ in range(cfg.enc_layers))
        self.proj = nn.Linear(cfg.enc_channels, cfg.embed_dim)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    def forward(self, inputs: torch.Tensor, z: torch.Tensor, c: torch.Tensor | None, embed: nn.Embedding) -> torch.Tensor:
        code = z if c is None else torch.cat([z, c], 1)
        T = inputs.shape[1]
        h = (self.inp(code)[:, None, :] + self.pos[:T]).transpose(1, 2)           # (B, C, T)
        ones = torch.ones_like(h[:, :1])
        for block in self.blocks:
            h = block(h, ones)
        return self.proj(h.transpose(1, 2)) @ embed.weight.t() + self.bias        # (B, T, vocab)

    @torch.no_grad()
    def greedy(self, z: torch.Tensor, c: torch.Tensor | None, max_len: int, embed: nn.Embedding) -> torch.Tensor:
        dummy = torch.zeros(z.shape[0], max_len + 1, dtype=torch.long, device=z.device)
        logits = self.forward(dummy, z, c, embed)
        logits[..., BOS] = -float("inf")
        ids = logits.argmax(2)
        ids[:, -1] = EOS                                                           # at most max_len words
        return ids


DECODERS = {"gru": GRUDecoder, "positional": PositionalDecoder}


class TextModel(CodeAndClasses, HubModelMixin, nn.Module):
    """The base of the text kinds; the class attributes say what a kind is, as in models.LatentModel (and, as
    there, HubModelMixin adds save_pretrained, push_to_hub and from_pretrained)."""

    kind = "text"
    modality = "text"
    stochastic = True
    conditional = False
    adversarial = False
    has_latent = True
    description = ""

    def __init__(self, config: TextModelConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=PAD)
        cond = config.num_classes if self.conditional else 0
        self.encoder = GatedConvEncoder(config, 2 * config.latent_dim, cond) if self.has_latent else None
        self.decoder = DECODERS[config.decoder](config, cond)
        # The bag-of-words head (Zhao et al. 2017): z alone predicts which tokens the sentence holds, so z must
        # carry its content words rather than leave them to the autoregressive decoder. Used only in training.
        self.bow = nn.Linear(config.latent_dim + cond, config.vocab_size) if config.bow and self.has_latent else None
        self.tokenizer = None          # a training.tokenizer.TextTokenizer; load_model and training attach it

    # -- what the explorer reads -----------------------------------------------------------------------------
    @property
    def has_encoder(self) -> bool:
        return self.has_latent

    # -- tensors in, tensors out ---------------------------------------------------------------------------
    def encode_ids(self, ids: torch.Tensor, lengths: torch.Tensor, y: torch.Tensor | None = None) -> Posterior:
        if not self.has_latent:
            raise ValueError("a language model (kind 'lm') has no encoder and no latent code.")
        h = self.encoder(self.embed(ids), lengths, self._condition(y, ids.shape[0], ids.device))
        mu, logvar = h.chunk(2, dim=1)
        return Posterior(mu, logvar.clamp(-12.0, 8.0))

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, y: torch.Tensor | None = None, *,
                word_dropout: float = 0.0, sample: bool = True, generator: torch.Generator | None = None,
                eps: torch.Tensor | None = None, drop: torch.Tensor | None = None) -> TextOutput:
        """ids (B, T), lengths (B,) -> TextOutput; word_dropout replaces that share of the decoder's input words
        (not <bos>) by <unk>, so the decoder must lean on z (Bowman et al.). The draws come from `generator`, or
        are given (under torchrun, this process's rows of the global batch's): eps (B, latent_dim) for z, and
        drop (B, T - 1), True where an input word is hidden."""
        B = ids.shape[0]
        c = self._condition(y, B, ids.device)
        if self.has_latent:
            mu, logvar = self.encode_ids(ids, lengths, y)
            if eps is None and sample:
                eps = torch.randn(mu.shape, generator=generator, device=mu.device)
            z = mu + eps * (0.5 * logvar).exp() if sample else mu
        else:
            mu = logvar = None
            z = torch.zeros(B, self.latent_dim, device=ids.device)
        inputs = ids[:, :-1]
        if word_dropout > 0 and self.training:
            if drop is None:
                drop = torch.rand(inputs.shape, generator=generator, device=ids.device) < word_dropout
            drop = drop.clone()
            drop[:, 0] = False
            inputs = inputs.masked_fill(drop & (inputs != PAD), UNK)
        return TextOutput(self.decoder(inputs, z, c, self.embed), mu, logvar, z)

    @torch.no_grad()
    def greedy_ids(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder.greedy(z, self._condition(y, z.shape[0], z.device), self.config.max_len, self.embed)

    # -- the public API: strings in, strings out -----------------------------------------------------------
    def _tok(self):
        if self.tokenizer is None:
            raise ValueError("this text model has no tokenizer attached; load it with training.load_model(folder), "
                             "which reads tokenizer.json from the folder.")
        return self.tokenizer

    def encode_batch(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        ids, lengths = self._tok().encode(list(texts), self.config.max_len)
        dev = self.embed.weight.device
        return ids.to(dev), lengths.to(dev)

    @torch.no_grad()
    def encode_text(self, texts: list[str], y: torch.Tensor | None = None) -> Posterior:
        """list of B strings -> Posterior(mu (B, latent_dim), logvar (B, latent_dim))."""
        ids, lengths = self.encode_batch(texts)
        return self.encode_ids(ids, lengths, y)

    @torch.no_grad()
    def decode_text(self, z: torch.Tensor, y: torch.Tensor | None = None) -> list[str]:
        """(B, latent_dim) codes -> B sentences, greedy decoding."""
        z = torch.as_tensor(z, dtype=torch.float32, device=self.embed.weight.device).reshape(-1, self.latent_dim)
        return self._tok().decode(self.greedy_ids(z, y).cpu())

    @torch.no_grad()
    def reconstruct_text(self, texts: list[str], y: torch.Tensor | None = None) -> list[str]:
        return self.decode_text(self.encode_text(texts, y).mu, y)

    @torch.no_grad()
    def sample_text(self, n: int, y: torch.Tensor | None = None, *,
                    generator: torch.Generator | None = None) -> list[str]:
        z = torch.randn(n, self.latent_dim, generator=generator)
        return self.decode_text(z, y)


class TextVAE(TextModel):
    kind = "vae"
    description = "a text VAE: gated-convolution encoder, GRU decoder fed z at every step"


class TextCVAE(TextModel):
    kind = "cvae"
    conditional = True
    description = "a category-conditioned text VAE: the category enters the encoder and every decoder step"


class TextLM(TextModel):
    kind = "lm"
    stochastic = False
    has_latent = False
    description = "the text VAE's decoder with no code: a plain language model, the reference for the -ELBO"


TEXT_KINDS: dict[str, type[TextModel]] = {cls.kind: cls for cls in (TextVAE, TextCVAE, TextLM)}


def build_text_model(config: TextModelConfig) -> TextModel:
    return TEXT_KINDS[config.kind](config)
