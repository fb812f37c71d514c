import numpy as np
import pytest

import kssl


def nt_xent_reference(z1, z2, temperature):
    """NT-Xent written literally from the SimCLR paper's algorithm box, with loops."""
    z = np.concatenate([z1, z2]).astype(np.float64)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    n = len(z1)
    total = 0.0
    for i in range(2 * n):
        positive = (i + n) % (2 * n)
        sims = np.array([z[i] @ z[k] for k in range(2 * n)]) / temperature
        denominator = sum(np.exp(sims[k]) for k in range(2 * n) if k != i)
        total += -np.log(np.exp(sims[positive]) / denominator)
    return total / (2 * n)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_nt_xent_matches_paper_formula(temperature):
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(6, 5)).astype("float32"), rng.normal(size=(6, 5)).astype("float32")
    got = float(kssl.losses.nt_xent(z1, z2, temperature))
    np.testing.assert_allclose(got, nt_xent_reference(z1, z2, temperature), rtol=1e-5)


def test_nt_xent_is_lower_for_aligned_views():
    rng = np.random.default_rng(1)
    z1 = rng.normal(size=(16, 8)).astype("float32")
    aligned = float(kssl.losses.nt_xent(z1, z1 + 0.01, 0.2))
    unrelated = float(kssl.losses.nt_xent(z1, rng.normal(size=(16, 8)).astype("float32"), 0.2))
    assert aligned < unrelated


@pytest.mark.parametrize("temperature", [0, -0.5, "0.1"])
def test_nt_xent_refuses_bad_temperature(temperature):
    z = np.ones((4, 3), "float32")
    with pytest.raises(ValueError, match="temperature"):
        kssl.losses.nt_xent(z, z, temperature)
