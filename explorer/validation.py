"""Every check of a raw value that people send (a z vector, a class id, a seed, a number of steps): numpy only, so
it imports fast.

A mistake raises `InputError`, whose message says what to do; the UI shows that message as it is. The checks that
need a model's latent map (a test-image index, a projection) are in explorer.latent_map; those of a tool's own
settings sit beside the tool and build on `number`, `whole` and `choice` here.
"""
from __future__ import annotations

import math

import numpy as np

MAX_ABS_Z = 1e4     # beyond this no decoder has seen anything; almost surely a typo


class InputError(ValueError):
    """A value a person supplied (z, class id, index, model name) that cannot be used; the message says the fix."""


def shown(value, limit: int = 60) -> str:
    """repr(value) cut to `limit` characters, for error messages: anyone can send a 100,000-character string or a
    huge list, and the message should not echo it back whole."""
    r = repr(value)
    return r if len(r) <= limit else f"{r[:limit - 3]}... ({type(value).__name__} of {len(r):,} characters)"


def to_float(value) -> float:
    """float(value), except that an integer too large for a float is +-inf instead of OverflowError: JSON carries
    integers of any size (10**400 reaches a handler as a Python int), and the checks then refuse it as not finite.
    TypeError / ValueError for values that are not numbers, as float() raises."""
    try:
        return float(value)
    except OverflowError:
        return -math.inf if value < 0 else math.inf


def validate_z(z, latent_dim: int) -> np.ndarray:
    """Turn a list of numbers into a float32 vector (latent_dim,), or raise InputError saying what is wrong."""
    if isinstance(z, (str, bytes)) or z is None:
        raise InputError(f"z must be a list of {latent_dim} numbers, got {type(z).__name__}.")
    if isinstance(z, (list, tuple)) and any(isinstance(v, (bool, np.bool_)) for v in z):
        raise InputError(f"z must be a list of {latent_dim} numbers; true/false are not numbers.")
    try:
        arr = np.asarray(z, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"z must be a list of {latent_dim} numbers; some entries are not numbers.") from None
    except OverflowError:  # an integer beyond float range (JSON carries any integer)
        raise InputError(f"z holds an integer too large to be a number (beyond 1e308); send {latent_dim} numbers "
                         "within about -5..5.") from None
    if arr.ndim != 1:
        raise InputError(f"z must be a flat list of {latent_dim} numbers, got an array of shape {list(arr.shape)}.")
    if arr.shape[0] != latent_dim:
        raise InputError(f"z has {arr.shape[0]} values but this model has {latent_dim} latent dimensions; "
                         f"send exactly {latent_dim} numbers.")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise InputError(f"z[{int(bad[0])}] is {arr[bad[0]]}; every value of z must be a finite number "
                         "(no NaN or infinity).")
    if np.abs(arr).max() > MAX_ABS_Z:
        i = int(np.abs(arr).argmax())
        raise InputError(f"z[{i}] = {arr[i]:g} is far outside the latent space; keep values within about -5..5.")
    return arr.astype(np.float32)


def validate_label(label, num_classes: int) -> int | None:
    """Check a class id for a model with `num_classes` classes (0 = unconditional).

    Returns the id as an int for a conditional model, None for an unconditional one (whose label is ignored;
    -1 or None mean "no class"). Raises InputError for an id that is out of range or not a whole number.
    """
    if label is None:
        label = -1
    if isinstance(label, bool) or not isinstance(label, (int, float, np.integer, np.floating)):
        raise InputError(f"label must be a whole number (a class id, or -1 for none), got {shown(label)}.")
    f = to_float(label)
    if not math.isfinite(f) or f != int(f):
        raise InputError(f"label must be a whole number (a class id, or -1 for none), got {shown(label)}.")
    sent, label = label, int(label)
    if num_classes == 0:
        if label != -1 and label < 0:
            raise InputError(f"label {shown(sent)} is not valid; use -1 (no class) for this unconditional model.")
        return None
    if not 0 <= label < num_classes:
        raise InputError(f"class id {shown(sent)} is out of range: this conditional model knows classes "
                         f"0..{num_classes - 1}. Pick one of those.")
    return label


def validate_seed(seed) -> int:
    if seed is None:
        return 0
    if isinstance(seed, bool):
        raise InputError(f"the seed must be a whole number, got {seed!r}.")
    try:
        f = to_float(seed)
    except (TypeError, ValueError):
        raise InputError(f"the seed must be a whole number, got {shown(seed)}.") from None
    if not math.isfinite(f) or f != int(f) or not 0 <= f < 2**63:
        raise InputError(f"the seed must be a whole number from 0 to 2^63-1, got {shown(seed)}.")
    return int(f)


def number(value) -> float:
    """A number sent by the page or a script as a float; NaN (refused by every check) for anything else: text,
    true/false, lists, None."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return float("nan")
    return to_float(value)


def whole(value, lo: int, hi: int) -> int | None:
    """value as an int when it is a whole number in lo..hi, else None."""
    f = number(value)
    return int(f) if np.isfinite(f) and f == int(f) and lo <= f <= hi else None


def choice(value, allowed: tuple, what: str) -> str:
    """One of `allowed` (case and surrounding spaces ignored), or InputError listing them."""
    key = value.strip().lower() if isinstance(value, str) else None
    if key not in allowed:
        raise InputError(f"unknown {what} {shown(value)}; use {' or '.join(repr(a) for a in allowed)}.")
    return key


def check_number(value, lo: float, hi: float, what: str) -> float:
    """A finite number in lo..hi, or InputError naming `what` and the range."""
    f = number(value)
    if not np.isfinite(f) or not lo <= f <= hi:
        raise InputError(f"{what} must be a number from {lo:g} to {hi:g}, got {shown(value)}.")
    return f
