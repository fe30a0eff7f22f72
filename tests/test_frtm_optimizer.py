"""Gauss-Newton with conjugate gradient (rtvos/models/frtm/optimizer.py)."""

import torch

from rtvos.models.frtm.optimizer import conjugate_gradient_steps, gauss_newton_step


def test_cg_solves_spd_system():
    g = torch.Generator().manual_seed(1)
    m = torch.randn(6, 6, generator=g, dtype=torch.float64)
    a = m @ m.T + 6 * torch.eye(6, dtype=torch.float64)
    b = torch.randn(6, generator=g, dtype=torch.float64)
    *_, (x,) = conjugate_gradient_steps(lambda p: (a @ p[0],), (b,), iterations=6)
    torch.testing.assert_close(x, torch.linalg.solve(a, b))


def test_gauss_newton_step_on_a_linear_problem_is_exact():
    g = torch.Generator().manual_seed(2)
    a = torch.randn(10, 3, generator=g, dtype=torch.float64)
    b = torch.randn(10, generator=g, dtype=torch.float64)
    (w,) = gauss_newton_step((torch.zeros(3, dtype=torch.float64),), lambda w: (a @ w[0] - b,),
                             lambda w, p: (a @ p[0],), lambda w, u: (a.T @ u[0],), 3)
    torch.testing.assert_close(w, torch.linalg.lstsq(a, b[:, None]).solution[:, 0])
