"""The online target model's optimiser and memory follow the paper's rules."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rtvos.segmenters.memory import SampleMemory
from rtvos.segmenters.target_model import (BilinearLoss, TargetModel, conjugate_gradient, gauss_newton_step,
                                           pixel_weights)


def _problem(seed=0, k=4, c_in=8, h=6, w=7):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(k, c_in, h, w, generator=g, dtype=torch.float64)
    y = (torch.rand(k, 1, h, w, generator=g, dtype=torch.float64) > 0.7).double()
    gamma = torch.full((k,), 1.0 / k, dtype=torch.float64)
    return x, y, gamma


def test_cg_solves_spd_system():
    g = torch.Generator().manual_seed(1)
    m = torch.randn(6, 6, generator=g, dtype=torch.float64)
    a = m @ m.T + 6 * torch.eye(6, dtype=torch.float64)
    b = torch.randn(6, generator=g, dtype=torch.float64)
    (x,) = conjugate_gradient(lambda p: (a @ p[0],), (b,), iterations=6)
    torch.testing.assert_close(x, torch.linalg.solve(a, b))


def test_w2_update_matches_direct_least_squares():
    """With w1 fixed the problem is linear in w2: one GN step with enough CG iterations must land on
    the closed-form regularised least-squares solution."""
    x, y, gamma = _problem()
    tm = TargetModel(8, channels=3, reg1=1e-3, reg2=1e-3)
    tm.w1 = tm.w1.double()
    tm.w2 = torch.zeros(1, 3, 3, 3, dtype=torch.float64)
    z = tm.project(x)
    tm.update(z, y, gamma, cg_iterations=27)  # 27 unknowns: CG is exact in 27 steps

    # Closed form: rows = every (sample, pixel); unknowns = the 27 entries of w2.
    cols = F.unfold(z, kernel_size=3, padding=1)                       # (k, 27, h*w)
    a = cols.permute(0, 2, 1).reshape(-1, 27)
    wts = (gamma.sqrt().view(-1, 1, 1, 1) * pixel_weights(y)).reshape(-1)
    aw, bw = a * wts[:, None], y.reshape(-1) * wts
    lhs = aw.T @ aw + 1e-3 * torch.eye(27, dtype=torch.float64)
    w_direct = torch.linalg.solve(lhs, aw.T @ bw)
    torch.testing.assert_close(tm.w2.reshape(-1), w_direct, rtol=1e-6, atol=1e-8)


def test_explicit_jacobian_products_match_autograd():
    x, y, gamma = _problem(seed=5)
    g = torch.Generator().manual_seed(4)
    w = (torch.randn(5, 8, 1, 1, generator=g, dtype=torch.float64), torch.randn(1, 5, 3, 3, generator=g, dtype=torch.float64))
    p = tuple(torch.randn(t.shape, generator=g, dtype=torch.float64) for t in w)
    problem = BilinearLoss(x, y, torch.rand(y.shape, generator=g, dtype=torch.float64), 0.3, 0.2)
    _, jp = torch.func.jvp(lambda *a: problem.residual(a), w, p)
    for a, b in zip(problem.jvp(w, p), jp):
        torch.testing.assert_close(a, b)
    u = tuple(torch.randn(t.shape, generator=g, dtype=torch.float64) for t in problem.residual(w))
    _, vjp_fn = torch.func.vjp(lambda *a: problem.residual(a), *w)
    for a, b in zip(problem.vjp(w, u), vjp_fn(u)):
        torch.testing.assert_close(a, b)


def test_gauss_newton_decreases_the_loss():
    x, _, gamma = _problem(seed=3)
    teacher = TargetModel(8, channels=4, generator=torch.Generator().manual_seed(7))
    teacher.w2 = torch.randn(1, 4, 3, 3, generator=torch.Generator().manual_seed(8))
    teacher.w1, teacher.w2 = teacher.w1.double(), teacher.w2.double()
    y = (teacher(x) > 0).double()  # labels a target model can represent
    tm = TargetModel(8, channels=16, generator=torch.Generator().manual_seed(0))
    tm.w1, tm.w2 = tm.w1.double(), tm.w2.double()
    losses = tm.fit(x, y, gamma, gn_steps=5, cg_first=5, cg_iterations=10)
    assert all(b <= a * (1 + 1e-6) for a, b in zip(losses, losses[1:]))
    assert losses[-1] < 0.7 * losses[0]
    # 5 GN steps already sit at the optimum that 25 more steps find (binary labels are not exactly
    # representable, so the optimum is not zero).
    longer = tm.fit(x, y, gamma, gn_steps=25, cg_first=10, cg_iterations=10)
    assert losses[-1] <= longer[-1] * 1.02


def test_gauss_newton_step_on_a_linear_problem_is_exact():
    g = torch.Generator().manual_seed(2)
    a = torch.randn(10, 3, generator=g, dtype=torch.float64)
    b = torch.randn(10, generator=g, dtype=torch.float64)
    (w,) = gauss_newton_step((torch.zeros(3, dtype=torch.float64),), lambda w: (a @ w[0] - b,),
                             lambda w, p: (a @ p[0],), lambda w, u: (a.T @ u[0],), 3)
    torch.testing.assert_close(w, torch.linalg.lstsq(a, b[:, None]).solution[:, 0])


def test_pixel_weights_balance_small_targets():
    y = torch.zeros(1, 1, 10, 10)
    y[0, 0, :2, :1] = 1  # 2 % of the pixels
    v = pixel_weights(y, kappa_min=0.1)
    # target influence raised to kappa_min: v_fg * N_fg / N = 0.1
    assert float(v[y > 0].sum()) / 100 == pytest.approx(0.1)
    assert float(v[y == 0].sum()) / 100 == pytest.approx(0.9)
    big = torch.ones(1, 1, 10, 10)
    big[0, 0, :5] = 0  # 50 %: left alone
    assert torch.allclose(pixel_weights(big), torch.ones_like(big))


def test_memory_weights_follow_the_eta_rule_and_evict_the_lightest():
    mem = SampleMemory(capacity=4, eta=0.1)
    f = torch.zeros(2, 1, 1, 1)
    mem.initialize(f, f.clone(), torch.tensor([2.0, 1.0]))
    assert mem.weights[:2].tolist() == pytest.approx([2 / 3, 1 / 3])
    # Each new sample: gamma_i = gamma_{i-1} / (1 - eta), then normalise.
    newest = 2 / 3
    for i in range(2):
        mem.add(torch.full((1, 1, 1), float(i + 1)), torch.zeros(1, 1, 1))
        raw = newest / 0.9
        assert float(mem.weights[mem.size - 1]) == pytest.approx(raw / (1 + raw), rel=1e-9)
        newest = raw / (1 + raw)
    assert mem.size == 4
    assert float(mem.weights[:4].sum()) == pytest.approx(1.0)
    lightest = int(torch.argmin(mem.weights[:4]))
    slot = mem.add(torch.full((1, 1, 1), 9.0), torch.zeros(1, 1, 1))
    assert slot == lightest and mem.size == 4
    assert float(mem.features[slot].item()) == 9.0
    # Constant memory on an endless stream.
    for _ in range(500):
        mem.add(torch.zeros(1, 1, 1), torch.zeros(1, 1, 1))
    assert mem.size == 4 and np.isfinite(mem.weights.numpy()).all()
    assert float(mem.weights.sum()) == pytest.approx(1.0)
