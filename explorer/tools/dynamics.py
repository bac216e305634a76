"""Training dynamics: the loss terms per epoch (history.json) and the KL of each latent dimension (metrics.json), as
plotly figures (plain dicts) and a paragraph on what they show. Reads only the JSON files."""
from __future__ import annotations

import json
import math
from pathlib import Path

from training.figures import ACTIVE_UNIT_CUTOFF

from ..backends import backend_spec
from ..registry import ModelInfo, ModelRegistry
from ..validation import InputError

HISTORY_NAME = "history.json"
HISTORY_SERIES = [("train_recon", "train reconstruction", "y", "#1f77b4", "solid"),
                  ("test_recon", "test reconstruction", "y", "#1f77b4", "dot"),
                  ("train_kl", "train KL", "y2", "#d62728", "solid"),
                  ("test_kl", "test KL", "y2", "#d62728", "dot")]


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


def training_history(registry: ModelRegistry, model: str) -> dict:
    """The training_history API: {"model", "kind", "epochs": [{"epoch", "train_recon", "train_kl", "test_recon",
    "test_kl", "beta"}], "kl_per_dim": list or None, "active_units"}. Reads only the JSON files."""
    info = registry.info(model)
    if info.error:
        raise InputError(f"model {info.name!r} cannot be used: {info.error}")
    rows = read_history(info)
    keys = ["epoch", "train_recon", "train_kl", "test_recon", "test_kl", "beta"]
    epochs = [{k: _num(r.get(k)) for k in keys} for r in rows]
    m = info.metrics or {}
    kl = m.get("kl_per_dim")
    kl = [_num(v) for v in kl] if isinstance(kl, list) and info.capabilities.kl else None  # an AE has no KL term
    return {"model": info.name, "kind": info.kind, "epochs": epochs, "kl_per_dim": kl,
            "active_units": m.get("active_units")}


def _has_kl(hist: dict) -> bool:
    """Whether the history's model kind has a KL term (explorer.backends' table; an AE has none)."""
    spec = backend_spec(hist.get("kind"))
    return bool(spec and spec.capabilities.kl)


def history_figure(hist: dict) -> dict:
    """Plotly figure (JSON dict): reconstruction (left axis) and KL (right axis) per epoch, train and test."""
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
    layout = {
        "title": {"text": "Reconstruction vs KL per epoch" if stochastic else "Reconstruction per epoch",
                  "font": {"size": 14}},
        "xaxis": {"title": {"text": "epoch"}, "dtick": max(1, len(ep) // 10)},
        "yaxis": {"title": {"text": "reconstruction (nats / image)", "font": {"color": "#1f77b4"}}},
        "legend": {"orientation": "h", "y": -0.25},
        "margin": {"l": 60, "r": 60, "t": 40, "b": 40}, "hovermode": "x unified",
        "plot_bgcolor": "#ffffff", "paper_bgcolor": "rgba(0,0,0,0)",
    }
    if stochastic:
        layout["yaxis2"] = {"title": {"text": "KL (nats / image)", "font": {"color": "#d62728"}},
                            "overlaying": "y", "side": "right", "showgrid": False, "tickmode": "auto"}
    return {"data": data, "layout": layout}


def kl_figure(hist: dict) -> dict | None:
    """Plotly bar chart of the average KL of each latent dimension (None for a model without KL, e.g. an AE).
    Dimensions below ACTIVE_UNIT_CUTOFF are grey: the model does not use them."""
    kl = hist["kl_per_dim"]
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


def dynamics_note(hist: dict) -> str:
    """One paragraph on what the plots show for this model."""
    ep = hist["epochs"]
    if not ep:
        return f"**{hist['model']}** has an empty training history (no epochs recorded)."
    first, last = ep[0], ep[-1]
    parts = [f"**{hist['model']}**, {len(ep)} epochs."]
    if not _has_kl(hist):
        parts.append("A plain autoencoder has no KL term: it only lowers the reconstruction loss, and nothing pulls "
                     "its codes towards N(0, I).")
    else:
        if first["test_recon"] is not None and last["test_recon"] is not None and last["test_kl"] is not None:
            parts.append(f"Test reconstruction went from {first['test_recon']:.1f} to {last['test_recon']:.1f} "
                         f"nats while KL went from {first['test_kl']:.1f} to {last['test_kl']:.1f}: the encoder "
                         "spends nats of KL (information about each image) to buy better reconstructions. "
                         "That is the tug-of-war of the ELBO.")
        kl = hist["kl_per_dim"]
        if kl:
            used = sum(1 for v in kl if (v or 0) >= ACTIVE_UNIT_CUTOFF)
            parts.append(f"{used} of {len(kl)} latent dimensions carry KL above {ACTIVE_UNIT_CUTOFF} nats; the others "
                         "collapsed to the prior and their sliders change nothing.")
    return " ".join(parts)
