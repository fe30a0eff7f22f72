"""FRTM's target model D (rtvos/models/frtm/target_model.py) follows the paper's rules."""

import pytest
import torch
import torch.nn.functional as F

from rtvos.models.frtm.target_model import BilinearLoss, TargetModel, pixel_weights


def _problem(seed=0, k=4, c_in=8, h=6, w=7):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(k, c_in, h, w, generator=g, dtype=torch.float64)
    y = (torch.rand(k, 1, h, w, generator=g, dtype=torch.float64) > 0.7).double()
    gamma = torch.full((k,), 1.0 / k, dtype=torch.float64)
    return x, y, gamma


def test_w2_update_matches_direct_least_squares():
    """With w1 fixed the problem is linear in w2: one GN step with enough CG iterations must land on
    the closed-form regularised least-squares solution."""
    x, y, gamma = _problem()
    tm = TargetModel(8, channels=3, reg1=1e-3, reg2=1e-3)
    tm.w1 = tm.w1.double()
    tm.w2 = torch.zeros(1, 3, 3, 3, dtype=torch.float64)
    z = tm.project(x)
    for _ in tm.update_steps(z, y, gamma, cg_iterations=27):  # 27 unknowns: CG is exact in 27 steps
        pass

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


def test_emphasised_hard_negatives_are_pushed_down_harder():
    """A look-alike: background whose features resemble the target's. With its pixels emphasised, the
    refit target model scores it lower than the plain update does, and the target stays high."""
    g = torch.Generator().manual_seed(3)
    target = torch.randn(8, generator=g, dtype=torch.float64)
    x = torch.randn(6, 8, 6, 6, generator=g, dtype=torch.float64) * 0.3
    y = torch.zeros(6, 1, 6, 6, dtype=torch.float64)
    x[:, :, 1:3, 1:3] += target.view(1, 8, 1, 1)                  # the target, top left
    y[:, :, 1:3, 1:3] = 1.0
    x[:, :, 4, 4] += (0.9 * target + 0.1 * torch.randn(8, generator=g, dtype=torch.float64)).view(1, 8)  # look-alike
    gamma = torch.full((6,), 1 / 6, dtype=torch.float64)
    emphasis = torch.ones_like(y)
    emphasis[:, :, 4, 4] = 10.0
    scores = {}
    for name, e in (("plain", None), ("hard negatives", emphasis)):
        tm = TargetModel(8, channels=4, reg1=1e-3, reg2=1e-3, generator=torch.Generator().manual_seed(0))
        tm.w1 = tm.w1.double()
        tm.w2 = torch.zeros(1, 4, 3, 3, dtype=torch.float64)
        for _ in tm.update_steps(tm.project(x), y, gamma, cg_iterations=36, emphasis=e):
            pass
        s = tm(x)
        scores[name] = (float(s[:, 0, 4, 4].mean()), float(s[:, 0, 1:3, 1:3].mean()))
    assert scores["hard negatives"][0] < scores["plain"][0] - 0.1  # 0.35 -> 0.10 here
    assert scores["hard negatives"][1] > 0.5
