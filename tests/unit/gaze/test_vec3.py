"""The plain-float vector helpers agree with numpy."""

from __future__ import annotations

import numpy as np
import pytest

from gazeserve.gaze.vec3 import cross, det, dot, mat_mul, mat_vec, rows_of, sub, transpose, unit


def test_helpers_match_numpy() -> None:
    rng = np.random.default_rng(3)
    a_np, b_np = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    u_np, v_np = rng.normal(size=3), rng.normal(size=3)
    a, b = rows_of(a_np), rows_of(b_np)
    u, v = (u_np[0], u_np[1], u_np[2]), (v_np[0], v_np[1], v_np[2])
    np.testing.assert_allclose(mat_mul(a, b), a_np @ b_np, rtol=1e-12)
    np.testing.assert_allclose(mat_vec(a, u), a_np @ u_np, rtol=1e-12)
    np.testing.assert_allclose(transpose(a), a_np.T)
    assert det(a) == pytest.approx(np.linalg.det(a_np), rel=1e-12)
    assert dot(u, v) == pytest.approx(float(u_np @ v_np), rel=1e-12)
    np.testing.assert_allclose(cross(u, v), np.cross(u_np, v_np), rtol=1e-12)
    np.testing.assert_allclose(sub(u, v), u_np - v_np)
    np.testing.assert_allclose(unit(u), u_np / np.linalg.norm(u_np), rtol=1e-12)
