"""Training dynamics: the loss terms per epoch (history.json) and the KL of each latent dimension (metrics.json), as
plotly figures (plain dicts) and a paragraph on what they show. Reads only the JSON files.

A GAN's history (rows with d_loss / g_loss, from training.gan) is a game rather than an ELBO: its figures are the
discriminator's and the generator's losses per epoch, and D(x) against D(G(z)) (the discriminator's average output
on real and on generated images); its note says whether the game looks healthy and what mode collapse would look
like, with the class spread of its samples from metrics.json where there is one."""
from __future__ import annotations

import json
import math
from pathlib import Path

from training.figures import ACTIVE_UNIT_CUTOFF

from ..backends import backend_spec
from ..registry import ModelInfo, ModelRegistry
from ..validation import InputError
from .compare import mode_coverage

HISTORY_NAME = "history.json"
CONFIG_NAME = "config.json"
HISTORY_SERIES = [("train_recon", "train reconstruction", "y", "#1f77b4", "solid"),
                  ("test_recon", "test reconstruction", "y", "#1f77b4", "dot"),
                  ("train_kl", "train KL", "y2", "#d62728", "solid"),
                  ("test_kl", "test KL", "y2", "#d62728", "dot")]
ELBO_KEYS = ("epoch", "train_recon", "train_kl", "test_recon", "test_kl", "beta")
# A text model's rows (training.text_train) add the free-bits floor and the active units of each epoch.
TEXT_KEYS = ELBO_KEYS + ("free_bits", "kl_floor", "test_active_units", "test_token_accuracy")
GAME_KEYS = ("epoch", "d_loss", "g_loss", "d_real", "d_fake", "lr")   # training.gan's history.json rows
D_COLOR, G_COLOR = "#7048e8", "#e8590c"
# The losses when D cannot tell real from generated (D = 1/2 everywhere), per training.gan's loss: the
# non-saturating loss gives D 2 ln 2 and G ln 2; the hinge loss D 2 and G 0.
EVEN_GAME = {"ns": (2 * math.log(2), math.log(2)), "hinge": (2.0, 0.0)}
SATURATED = 0.05        # D(x) or D(G(z)) within this of 0 or 1: the discriminator is sure (a game out of balance)
D_LOSS_FLOOR = 0.1      # D loss under this: D tells real from generated almost perfectly
EXPLODED = 3.0          # a last-epoch loss above this many times its median over the run has exploded
OSCILLATION = 0.1       # mean |change of D(G(z))| from epoch to epoch, over the last OSC_EPOCHS, above which it swings
OSC_EPOCHS = 10


def read_history(info: ModelInfo) -> list[dict]:
    """The per-epoch rows of a model folder's history.json (InputError naming the file when it is unusable)."""
    path = Path(info.folder) / HISTORY_NAME
    if not path.is_file():
        raise InputError(f"{info.name} has no {HISTORY_NAME}, so there is no training history to plot; models "
                         "trained with `python -m training train` write one.")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise InputError(f"{path} is not valid JSON ({e}); retrain or restore the file.") from None
    rows = data.get("epochs") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InputError(f"{path} has no list of epochs ({{\"epochs\": [...]}}); it was not written by the "
                         "training package.")
    return rows


def _num(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def is_game(rows: list[dict]) -> bool:
    """Whether a history's rows are a GAN's (training.gan writes d_loss and g_loss each epoch)."""
    return any("d_loss" in r or "g_loss" in r for r in rows)


def _gan_loss(info: ModelInfo) -> str:
    """The GAN loss the folder was trained with (config.json's train.gan_loss; "ns", the default, when unsaid)."""
    try:
        cfg = json.loads((Path(info.folder) / CONFIG_NAME).read_text())
        loss = (cfg.get("train") or {}).get("gan_loss", "ns")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        loss = "ns"
    return loss if loss in EVEN_GAME else "ns"


def training_history(registry: ModelRegistry, model: str) -> dict:
    """The training_history API: {"model", "kind", "adversarial", "epochs", "kl_per_dim": list or None,
    "active_units", "mode_coverage"}. Reads only the JSON files.

    An autoencoder's epochs: [{"epoch", "train_recon", "train_kl", "test_recon", "test_kl", "beta"}]. A GAN's
    ("adversarial": True): [{"epoch", "d_loss", "g_loss", "d_real" (mean D(x)), "d_fake" (mean D(G(z))), "lr"}],
    and "gan_loss" ("ns" or "hinge"). "mode_coverage": {"min", "max", "classes"}, the smallest and largest share of
    the model's samples that the judge gives one class (metrics.json), or None where metrics.json has none."""
    info = registry.info(model)
    if info.error:
        raise InputError(f"model {info.name!r} cannot be used: {info.error}")
    rows = read_history(info)
    game = is_game(rows)
    text = info.modality == "text"
    keys = GAME_KEYS if game else TEXT_KEYS if text else ELBO_KEYS
    epochs = [{k: _num(r.get(k)) for k in keys} for r in rows]
    m = info.metrics or {}
    kl = m.get("kl_per_dim")
    kl = [_num(v) for v in kl] if isinstance(kl, list) and info.capabilities.kl else None  # an AE has no KL term
    out = {"model": info.name, "kind": info.kind, "adversarial": game, "epochs": epochs, "kl_per_dim": kl,
           "active_units": m.get("active_units"),
           "mode_coverage": mode_coverage(m, len(info.class_names)), "modality": info.modality}
    if game:
        out["gan_loss"] = _gan_loss(info)
    return out


def _has_kl(hist: dict) -> bool:
    """Whether the history's model kind has a KL term (explorer.backends' table; an AE has none)."""
    spec = backend_spec(hist.get("kind"), hist.get("modality"))
    return bool(spec and spec.capabilities.kl)


def _unit(hist: dict) -> str:
    return "sentence" if hist.get("modality") == "text" else "image"


def active_units_figure(hist: dict) -> dict | None:
    """A text model's active units per epoch (test_active_units of history.json), out of latent_dim; None when the
    history has none."""
    ep = hist["epochs"]
    y = [r.get("test_active_units") for r in ep]
    if not any(v is not None for v in y):
        return None
    return {"data": [_line("active units (test)", _x(ep), y, "#2f9e44")],
            "layout": _layout("Active units per epoch (dimensions whose KL is above "
                              f"{ACTIVE_UNIT_CUTOFF} nats)", "active units", len(ep))}


def _x(ep: list[dict]) -> list:
    return [r["epoch"] if r["epoch"] is not None else i + 1 for i, r in enumerate(ep)]


def _line(name: str, x: list, y: list, color: str, dash: str = "solid") -> dict:
    """A plotly line; a solid one (a series) has markers while there are fewer than 25 epochs, a dotted one (a
    reference level) none."""
    markers = dash == "solid" and len(x) < 25
    return {"type": "scatter", "mode": "lines+markers" if markers else "lines", "name": name, "x": x, "y": y,
            "line": {"color": color, "dash": dash, "width": 2 if dash == "solid" else 1.5}, "marker": {"size": 5},
            "hovertemplate": f"{name}<br>epoch %{{x}}: %{{y:.3f}}<extra></extra>"}


def _layout(title: str, y_title: str, n: int, **extra) -> dict:
    return {"title": {"text": title, "font": {"size": 14}},
            "xaxis": {"title": {"text": "epoch"}, "dtick": max(1, n // 10)},
            "yaxis": {"title": {"text": y_title}}, "legend": {"orientation": "h", "y": -0.25},
            "margin": {"l": 60, "r": 60, "t": 40, "b": 40}, "hovermode": "x unified",
            "plot_bgcolor": "#ffffff", "paper_bgcolor": "rgba(0,0,0,0)", **extra}


def game_losses_figure(hist: dict) -> dict:
    """Plotly figure (JSON dict) of a GAN: the discriminator's and the generator's loss per epoch, with dotted lines
    at the losses of an even game (D = 1/2 everywhere: EVEN_GAME for the model's gan_loss)."""
    ep = hist["epochs"]
    x, n = _x(ep), len(ep)
    d_even, g_even = EVEN_GAME[hist.get("gan_loss") or "ns"]
    data = [_line("D loss", x, [r["d_loss"] for r in ep], D_COLOR),
            _line("G loss", x, [r["g_loss"] for r in ep], G_COLOR)]
    if x:
        data += [_line(f"D loss of an even game ({d_even:.2f})", [x[0], x[-1]], [d_even, d_even], D_COLOR, "dot"),
                 _line(f"G loss of an even game ({g_even:.2f})", [x[0], x[-1]], [g_even, g_even], G_COLOR, "dot")]
    return {"data": data, "layout": _layout("Discriminator and generator loss per epoch", "loss (batch mean)", n)}


def d_outputs_figure(hist: dict) -> dict:
    """Plotly figure (JSON dict) of a GAN: D(x), the discriminator's mean output on real images, against D(G(z)),
    on generated ones, per epoch, on [0, 1]; bands mark the saturated ends (within SATURATED of 0 or 1) and a dotted
    line the 1/2 of a discriminator that cannot tell."""
    ep = hist["epochs"]
    x, n = _x(ep), len(ep)
    data = [_line("D(x): real images", x, [r["d_real"] for r in ep], "#2b8a3e"),
            _line("D(G(z)): generated images", x, [r["d_fake"] for r in ep], "#c92a2a")]
    if x:
        data.append(_line("D cannot tell (1/2)", [x[0], x[-1]], [0.5, 0.5], "#868e96", "dot"))
    band = {"type": "rect", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "fillcolor": "#fa5252", "opacity": 0.12,
            "line": {"width": 0}, "layer": "below"}
    layout = _layout("D(x) against D(G(z)) per epoch (red bands: D is sure)", "mean discriminator output", n,
                     shapes=[{**band, "y0": 0, "y1": SATURATED}, {**band, "y0": 1 - SATURATED, "y1": 1}])
    layout["yaxis"]["range"] = [0, 1]
    return {"data": data, "layout": layout}


def detail_figure(hist: dict) -> dict | None:
    """The tab's second plot: D(x) against D(G(z)) for a GAN, else the KL per dimension (None for an AE)."""
    if hist.get("adversarial"):
        return d_outputs_figure(hist)
    return kl_figure(hist) or (active_units_figure(hist) if hist.get("modality") == "text" else None)


def history_figure(hist: dict) -> dict:
    """Plotly figure (JSON dict): reconstruction (left axis) and KL (right axis) per epoch, train and test; for a
    GAN, its two losses (game_losses_figure)."""
    if hist.get("adversarial"):
        return game_losses_figure(hist)
    ep = hist["epochs"]
    x = [r["epoch"] if r["epoch"] is not None else i + 1 for i, r in enumerate(ep)]
    stochastic = _has_kl(hist)
    data = []
    for key, name, axis, color, dash in HISTORY_SERIES:
        if axis == "y2" and not stochastic:
            continue
        data.append({"type": "scatter", "mode": "lines+markers" if len(ep) < 25 else "lines", "name": name,
                     "x": x, "y": [r[key] for r in ep], "yaxis": axis,
                     "line": {"color": color, "dash": dash, "width": 2}, "marker": {"size": 5},
                     "hovertemplate": f"{name}<br>epoch %{{x}}: %{{y:.2f}} nats<extra></extra>"})
    if stochastic and any(r.get("kl_floor") is not None for r in ep):  # a text VAE: free bits x D
        data.append({**_line("KL floor (free bits × D)", x, [r.get("kl_floor") for r in ep], "#868e96", "dash"),
                     "yaxis": "y2"})
    unit = _unit(hist)
    layout = {
        "title": {"text": "Reconstruction vs KL per epoch" if stochastic else "Reconstruction per epoch",
                  "font": {"size": 14}},
        "xaxis": {"title": {"text": "epoch"}, "dtick": max(1, len(ep) // 10)},
        "yaxis": {"title": {"text": f"reconstruction (nats / {unit})", "font": {"color": "#1f77b4"}}},
        "legend": {"orientation": "h", "y": -0.25},
        "margin": {"l": 60, "r": 60, "t": 40, "b": 40}, "hovermode": "x unified",
        "plot_bgcolor": "#ffffff", "paper_bgcolor": "rgba(0,0,0,0)",
    }
    if stochastic:
        layout["yaxis2"] = {"title": {"text": f"KL (nats / {unit})", "font": {"color": "#d62728"}},
                            "overlaying": "y", "side": "right", "showgrid": False, "tickmode": "auto"}
    return {"data": data, "layout": layout}


def kl_figure(hist: dict) -> dict | None:
    """Plotly bar chart of the average KL of each latent dimension (None for a model without KL, e.g. an AE).
    Dimensions below ACTIVE_UNIT_CUTOFF are grey: the model does not use them."""
    kl = hist.get("kl_per_dim")
    if not kl:
        return None
    vals = [v or 0.0 for v in kl]
    colors = ["#4c6ef5" if v >= ACTIVE_UNIT_CUTOFF else "#adb5bd" for v in vals]
    return {"data": [{"type": "bar", "x": [f"z{i + 1}" for i in range(len(vals))], "y": vals,
                      "marker": {"color": colors},
                      "hovertemplate": "%{x}: %{y:.3f} nats<extra></extra>"}],
            "layout": {"title": {"text": f"Average KL per latent dimension (grey: unused, < {ACTIVE_UNIT_CUTOFF} nats)",
                                 "font": {"size": 14}},
                       "yaxis": {"title": {"text": "KL (nats / image)"}},
                       "margin": {"l": 60, "r": 20, "t": 40, "b": 40}, "showlegend": False,
                       "plot_bgcolor": "#ffffff", "paper_bgcolor": "rgba(0,0,0,0)"}}


def game_checks(hist: dict) -> list[str]:
    """What looks wrong in a GAN's history, one sentence each ([] for a game that looks healthy): a saturated
    D(x) or D(G(z)) at the last epoch, a D loss near 0, an exploded loss, a swinging D(G(z)), and (from metrics.json)
    a class spread of the samples far from even."""
    ep = [r for r in hist["epochs"] if r["d_loss"] is not None and r["g_loss"] is not None]
    if not ep:
        return []
    last, out = ep[-1], []
    for key, what in (("d_real", "D(x)"), ("d_fake", "D(G(z))")):
        v = last.get(key)
        if v is not None and (v < SATURATED or v > 1 - SATURATED):
            out.append(f"{what} ended at {v:.2f}, next to {round(v)}: the discriminator is sure, so it teaches the "
                       "generator little.")
    if last["d_loss"] < D_LOSS_FLOOR:
        out.append(f"D loss ended at {last['d_loss']:.3f}, near 0: the discriminator tells real from generated "
                   "almost perfectly and the generator's gradients vanish.")
    for key, what in (("d_loss", "D"), ("g_loss", "G")):
        med = sorted(r[key] for r in ep)[len(ep) // 2]
        if len(ep) >= 3 and med > 0 and last[key] > EXPLODED * med:
            out.append(f"{what} loss ended at {last[key]:.2f}, over {EXPLODED:.0f} times its median "
                       f"{med:.2f}: it exploded.")
    fake = [r["d_fake"] for r in ep[-OSC_EPOCHS:] if r["d_fake"] is not None]
    swing = sum(abs(b - a) for a, b in zip(fake, fake[1:])) / (len(fake) - 1) if len(fake) >= 3 else 0.0
    if swing > OSCILLATION:
        out.append(f"D(G(z)) swings by {swing:.2f} from epoch to epoch over the last {len(fake)} epochs: a sign "
                   "that the generator hops between a few kinds of image that the discriminator learns to reject.")
    cov = hist.get("mode_coverage")
    if cov and cov["classes"]:
        even = 1 / cov["classes"]
        if cov["min"] < even / 3 or cov["max"] > 3 * even:
            out.append(f"Its samples are spread unevenly over the classes ({cov['min']:.0%} to {cov['max']:.0%} "
                       f"per class, where even is {even:.0%}): some classes are rare or missing, which is what "
                       "mode collapse leaves behind.")
    return out


def game_note(hist: dict) -> str:
    """One paragraph on a GAN's history: the last epoch's figures, the checks, and the class spread."""
    ep = hist["epochs"]
    last = ep[-1]
    parts = [f"**{hist['model']}**, {len(ep)} epochs of the game."]
    if all(last[k] is not None for k in ("d_real", "d_fake", "d_loss", "g_loss")):
        parts.append(f"At the last epoch D(x) = {last['d_real']:.2f} and D(G(z)) = {last['d_fake']:.2f}, D loss "
                     f"{last['d_loss']:.2f} and G loss {last['g_loss']:.2f}.")
    checks = game_checks(hist)
    cov = hist.get("mode_coverage")
    if checks:
        parts += checks
    else:
        parts.append("Both outputs stay away from 0 and 1, neither loss explodes and D's does not go to 0: this "
                     "looks like a healthy game.")
        if cov and cov["classes"]:
            parts.append(f"The judge spreads its samples over the classes from {cov['min']:.0%} to "
                         f"{cov['max']:.0%} per class (even is {1 / cov['classes']:.0%}): no sign of mode "
                         "collapse.")
    if not cov:
        parts.append("metrics.json has no class spread of the samples, so mode collapse is not checked here.")
    return " ".join(parts)


def _text_note(last: dict) -> str:
    """A text VAE's last epoch against its free-bits floor: a KL at the floor is posterior collapse held off only
    by free bits, one well above it is information the decoder reads."""
    kl, floor, au = last.get("test_kl"), last.get("kl_floor"), last.get("test_active_units")
    out = []
    if kl is not None and floor is not None:
        where = ("at the floor: free bits alone keep the KL up, the decoder may be ignoring z (posterior collapse)"
                 if kl <= floor * 1.1 else "above the floor: the codes carry information the decoder reads")
        out.append(f"The last test KL is {kl:.1f} nats against a KL floor (free bits × D) of {floor:.1f}, {where}.")
    if au is not None:
        out.append(f"{au:.0f} latent dimensions were active at the last epoch.")
    return " ".join(out)


def dynamics_note(hist: dict) -> str:
    """One paragraph on what the plots show for this model."""
    ep = hist["epochs"]
    if not ep:
        return f"**{hist['model']}** has an empty training history (no epochs recorded)."
    if hist.get("adversarial"):
        return game_note(hist)
    first, last = ep[0], ep[-1]
    parts = [f"**{hist['model']}**, {len(ep)} epochs."]
    if not _has_kl(hist):
        parts.append("A plain autoencoder has no KL term: it only lowers the reconstruction loss, and nothing pulls "
                     "its codes towards N(0, I).")
    else:
        if first["test_recon"] is not None and last["test_recon"] is not None and last["test_kl"] is not None:
            parts.append(f"Test reconstruction went from {first['test_recon']:.1f} to {last['test_recon']:.1f} "
                         f"nats while KL went from {first['test_kl']:.1f} to {last['test_kl']:.1f}: the encoder "
                         f"spends nats of KL (information about each {_unit(hist)}) to buy better reconstructions. "
                         "That is the tug-of-war of the ELBO.")
        if hist.get("modality") == "text":
            parts.append(_text_note(last))
        kl = hist.get("kl_per_dim")
        if kl:
            used = sum(1 for v in kl if (v or 0) >= ACTIVE_UNIT_CUTOFF)
            parts.append(f"{used} of {len(kl)} latent dimensions carry KL above {ACTIVE_UNIT_CUTOFF} nats; the others "
                         "collapsed to the prior and their sliders change nothing.")
    return " ".join(parts)
