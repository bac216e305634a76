"""explorer.validation: the checks of the raw values people and scripts send (z, class id, seed), numpy only."""
from __future__ import annotations

import numpy as np
import pytest

from explorer.validation import InputError, validate_label, validate_seed, validate_z


def test_validate_z_accepts_numbers_and_returns_float32():
    z = validate_z([0, 1.5, -2, 3], 4)
    assert z.dtype == np.float32 and z.tolist() == [0, 1.5, -2, 3]


@pytest.mark.parametrize("z, words", [
    ([0.0] * 3, "has 3 values but this model has 4"),
    ([0.0] * 5, "has 5 values"),
    ([0.0, float("nan"), 0.0, 0.0], "z[1] is nan"),
    ([0.0, 0.0, float("inf"), 0.0], "z[2] is inf"),
    ([[0.0, 0.0], [0.0, 0.0]], "flat list"),
    (["a", 0, 0, 0], "not numbers"),
    ("0,0,0,0", "list of 4 numbers"),
    (None, "list of 4 numbers"),
    ([0, 0, 0, 1e9], "far outside"),
])
def test_validate_z_rejects_with_a_clear_message(z, words):
    with pytest.raises(InputError, match=None) as e:
        validate_z(z, 4)
    assert words in str(e.value)


def test_validate_label():
    assert validate_label(3, 10) == 3
    assert validate_label(3.0, 10) == 3
    assert validate_label(-1, 0) is None and validate_label(None, 0) is None and validate_label(5, 0) is None
    for bad in (10, -1, 2.5, "3", True):
        with pytest.raises(InputError):
            validate_label(bad, 10)
    with pytest.raises(InputError, match="out of range"):
        validate_label(12, 10)


def test_validate_seed():
    assert validate_seed(7) == 7 and validate_seed(7.0) == 7 and validate_seed(None) == 0
    for bad in (-1, 1.5, "x", float("nan")):
        with pytest.raises(InputError, match="seed"):
            validate_seed(bad)
