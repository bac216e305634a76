"""The test-set figures of metrics.json: their keys, how each page names and formats them, and the active-unit rule.

evaluate.py writes the figures; the model card, the README's model table and the explorer show them. They all read
the names, labels and number formats from this one list, so a figure is added or renamed in one place. Imports no
torch (nor anything of this package that does), so the explorer can read it without loading a model.
"""
from __future__ import annotations

from typing import NamedTuple

METRICS_NAME = "metrics.json"

# Active units (Burda et al. 2016): a latent dimension is active when its posterior mean varies across the data,
# Cov_x(E[z|x]) > 0.01; below that the decoder gets (almost) the same value whatever the image. The explorer also
# greys out a dimension whose average KL is below this many nats: the same "unused dimension" rule, one number.
ACTIVE_UNIT_CUTOFF = 0.01

IWAE_PREFIX = "iwae_k"
DEFAULT_IWAE_K = 64   # importance samples of the IWAE bound in the shipped folders (`-k` of the CLI)


def iwae_key(k: int) -> str:
    """The metrics.json key of the IWAE bound with k importance samples: "iwae_k64"."""
    return f"{IWAE_PREFIX}{k}"


def iwae_k(metrics: dict) -> int:
    """k of the (first) IWAE bound stored in `metrics`, or DEFAULT_IWAE_K when there is none."""
    return next((int(key[len(IWAE_PREFIX):]) for key in metrics
                 if key.startswith(IWAE_PREFIX) and key[len(IWAE_PREFIX):].isdigit()), DEFAULT_IWAE_K)


class Figure(NamedTuple):
    """One figure of metrics.json and how every page shows it. The value is None where a kind has no such figure
    (an AE has no KL, ELBO or IWAE bound)."""

    key: str          # the metrics.json key (the IWAE bound's at DEFAULT_IWAE_K)
    label: str        # the explorer's row label, with the unit: "−ELBO (nats)"
    fmt: str          # the explorer's number format for `label`: "{:.1f}"
    phrase: str       # the explorer's sentence part: .format(value, latent_dim=D)
    card: str         # the model card's column heading; "{k}" is the IWAE bound's number of samples
    column: str       # the README model table's column heading
    digits: int = 2   # decimals of a float in the model card and the README table
    of_latent: bool = False   # a count of latent dimensions: the model card shows it as "value / latent_dim"
    per_k: bool = False       # the key carries the number of importance samples (iwae_k<k>)
    adversarial: bool | None = None   # True: a GAN's figure only; False: an autoencoder's only; None: both kinds
    conditional: bool = False         # only a conditional kind has it (a sample drawn as class c)
    share: bool = False       # a fraction: the model card and the README table show it as a percentage
    card_inverted: str = ""   # the model card's heading for a model without an encoder (a GAN), where it differs

    def applies(self, adversarial: bool, conditional: bool) -> bool:
        """Whether a model of this kind has this figure: its model card's columns."""
        return (self.adversarial is None or self.adversarial == adversarial) and (conditional or not self.conditional)

    def key_at(self, k: int) -> str:
        """The metrics.json key of this figure in a folder evaluated with k importance samples."""
        return iwae_key(k) if self.per_k else self.key

    def format(self, value) -> str:
        """The explorer's cell: "n/a" for a missing figure, else `fmt`."""
        return "n/a" if value is None else self.fmt.format(value)

    def format_card(self, value) -> str:
        """The model card's and README table's cell: "n/a", `digits` decimals of a float, an integer as it is."""
        if value is None:
            return "n/a"
        if self.share:
            return f"{value:.{max(self.digits - 2, 0)}%}"
        return f"{value:.{self.digits}f}" if isinstance(value, float) else str(value)


# In the order every table shows them. An autoencoder's reconstruction decodes its encoder's code; a GAN's (it has
# no encoder) decodes the code GAN inversion found (training/inversion.py), and its 5-NN accuracy is on those codes.
# A GAN's sample figures are measured by the judge classifier of its dataset (training/judge.py) on 10,000 prior
# samples: the Fréchet distance of its features to the test images' (beside the floor: real training images vs the
# test images), the smallest and largest share of the samples given one class (1 / classes each when every class is
# drawn equally often), and for a cgan how often a sample decoded as class c is labelled c.
FIGURES: tuple[Figure, ...] = (
    Figure("neg_elbo", "−ELBO (nats)", "{:.1f}", "−ELBO {:.1f} nats", "-ELBO", "-ELBO", adversarial=False),
    Figure(iwae_key(DEFAULT_IWAE_K), "IWAE-64 bound (nats)", "{:.1f}", "IWAE-64 bound {:.1f} nats",
           "IWAE bound, k={k}", "IWAE k=64", per_k=True, adversarial=False),
    Figure("recon", "reconstruction (nats)", "{:.1f}", "reconstruction {:.1f} nats", "reconstruction", "recon",
           card_inverted="reconstruction through inversion"),
    Figure("kl", "KL (nats)", "{:.1f}", "KL {:.1f} nats", "KL", "KL", adversarial=False),
    Figure("active_units", "active units", "{}", "{} of {latent_dim} latent units active", "active units",
           "active units", of_latent=True, adversarial=False),
    Figure("knn5_accuracy", "5-NN accuracy", "{:.3f}", "5-NN class accuracy in latent space {:.1%}",
           "5-NN accuracy on the means", "5-NN acc.", digits=3, card_inverted="5-NN accuracy on the inverted codes"),
    Figure("fd", "Fréchet distance", "{:.1f}", "Fréchet distance of samples to the test images {:.1f}",
           "Fréchet distance", "FD", adversarial=True),
    Figure("fd_floor", "FD floor (real vs real)", "{:.1f}", "(real training images: {:.1f})",
           "FD floor (real train vs test)", "FD floor", adversarial=True),
    Figure("mode_coverage_min", "smallest class share", "{:.1%}", "smallest class share of samples {:.1%}",
           "smallest class share", "min class", digits=3, share=True, adversarial=True),
    Figure("mode_coverage_max", "largest class share", "{:.1%}", "largest {:.1%}",
           "largest class share", "max class", digits=3, share=True, adversarial=True),
    Figure("sample_accuracy", "samples labelled as their class", "{:.1%}",
           "{:.1%} of samples labelled as their class", "samples labelled as their class", "sample acc.",
           digits=3, share=True, adversarial=True, conditional=True),
)
FIGURES_BY_KEY: dict[str, Figure] = {f.key: f for f in FIGURES}
