"""FRTM's target model D(x) = w2 * (w1 * x), trained online by Gauss-Newton with conjugate gradient.

Loss over the memory samples k (eq. 2 of the paper):

    L(w) = sum_k gamma_k || v_k . (y_k - D(x_k)) ||^2 + sum_j lambda_j || w_j ||^2

with v_k the pixel weights balancing target and background (eq. 4, kappa_min = 0.1).  Labels y_k are
taken at the feature resolution, so U (the up-sampling in the paper) is the identity here.

Gauss-Newton: with the stacked residual r(w) = [sqrt(gamma_k) v_k (D_w(x_k) - y_k); sqrt(lambda) w],
each step solves J^T J delta = -J^T r by a few conjugate-gradient iterations, using exact
Jacobian-vector products written out as convolutions (no Jacobian is ever formed).  w1 is fitted on the first frame only; updates
afterwards touch w2 alone, on the w1-projected features (a linear least-squares problem, for which one
GN step is exact up to the CG truncation).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from rtvos.models.frtm.optimizer import gauss_newton_step, gauss_newton_steps


def pixel_weights(labels: torch.Tensor, kappa_min: float = 0.1) -> torch.Tensor:
    """Eq. 4: v = kappa/kappa_hat on target pixels, (1-kappa)/(1-kappa_hat) on background, kappa_hat the
    target fraction of each sample. Soft labels blend.

    The paper prints kappa = min(kappa_min, kappa_hat), which would make v = 1 everywhere for small
    targets, the very case the weighting is for; we use max(kappa_min, kappa_hat): a target covering
    less than kappa_min of the frame is up-weighted to that influence, larger ones are left alone."""
    n = labels[0].numel()
    kappa_hat = labels.flatten(1).sum(1).clamp(min=1e-6) / n
    kappa_hat = kappa_hat.clamp(max=1 - 1e-6)
    kappa = torch.maximum(torch.full_like(kappa_hat, kappa_min), kappa_hat)
    w_fg = (kappa / kappa_hat).view(-1, 1, 1, 1)
    w_bg = ((1 - kappa) / (1 - kappa_hat)).view(-1, 1, 1, 1)
    return labels * w_fg + (1 - labels) * w_bg


class BilinearLoss:
    """The residual r(w1, w2) = [W . (w2 * (w1 * x) - y), l1 w1, l2 w2] and its exact Jacobian products.

    D is bilinear in (w1, w2), so J p and J^T u are a few convolutions each; writing them out is ~20x
    faster than generic autodiff here (no tracing), which is what keeps the start-up and the periodic
    updates inside a frame budget.  W = sqrt(gamma_k) v_k.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, l1: float, l2: float):
        self.x, self.y, self.weight, self.l1, self.l2 = x, y, weight, l1, l2

    def residual(self, w):
        w1, w2 = w
        return self.weight * (F.conv2d(F.conv2d(self.x, w1), w2, padding=1) - self.y), self.l1 * w1, self.l2 * w2

    def jvp(self, w, p):
        w1, w2 = w
        p1, p2 = p
        ds = F.conv2d(F.conv2d(self.x, p1), w2, padding=1) + F.conv2d(F.conv2d(self.x, w1), p2, padding=1)
        return self.weight * ds, self.l1 * p1, self.l2 * p2

    def vjp(self, w, u):
        w1, w2 = w
        u_data, u1, u2 = u
        g = self.weight * u_data
        z = F.conv2d(self.x, w1)
        g2 = torch.nn.grad.conv2d_weight(z, w2.shape, g, padding=1)
        gz = torch.nn.grad.conv2d_input(z.shape, w2, g, padding=1)
        g1 = torch.einsum("kchw,kdhw->dc", self.x, gz).reshape(w1.shape)
        return g1 + self.l1 * u1, g2 + self.l2 * u2


class LinearLoss:
    """The w2-only residual r(w2) = [W . (w2 * z - y), l2 w2] (w1 fixed, z = w1 * x): linear in w2."""

    def __init__(self, z: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, l2: float):
        self.z, self.y, self.weight, self.l2 = z, y, weight, l2

    def residual(self, w):
        (w2,) = w
        return self.weight * (F.conv2d(self.z, w2, padding=1) - self.y), self.l2 * w2

    def jvp(self, w, p):
        (p2,) = p
        return self.weight * F.conv2d(self.z, p2, padding=1), self.l2 * p2

    def vjp(self, w, u):
        u_data, u2 = u
        (w2,) = w
        return (torch.nn.grad.conv2d_weight(self.z, w2.shape, self.weight * u_data, padding=1) + self.l2 * u2,)


class TargetModel:
    """One object's D. Weights live as plain tensors; all fitting is explicit GN/CG."""

    def __init__(self, in_channels: int, channels: int = 96, reg1: float = 1e-4, reg2: float = 1e-4,
                 kappa_min: float = 0.1, generator: torch.Generator | None = None):
        self.in_channels = in_channels
        self.channels = channels
        self.reg1, self.reg2 = reg1, reg2
        self.kappa_min = kappa_min
        # w1: Kaiming-normal (fan-in), as in the paper. w2 starts at zero: the first GN step is then the
        # exact linear least-squares fit of w2 on the random projection (a Kaiming-initialised w2 puts
        # the first scores orders of magnitude off, and 5 GN steps do not recover from it).
        self.w1 = torch.randn(channels, in_channels, 1, 1, generator=generator) * math.sqrt(2.0 / in_channels)
        self.w2 = torch.zeros(1, channels, 3, 3)

    # -- the model
    def project(self, x: torch.Tensor) -> torch.Tensor:
        """w1 * x: the features the memory keeps once w1 is fixed."""
        return F.conv2d(x, self.w1)

    def score_projected(self, z: torch.Tensor) -> torch.Tensor:
        return F.conv2d(z, self.w2, padding=1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.score_projected(self.project(x))

    # -- the loss
    def loss(self, x: torch.Tensor, y: torch.Tensor, gamma: torch.Tensor) -> float:
        v = pixel_weights(y, self.kappa_min)
        r = gamma.sqrt().view(-1, 1, 1, 1) * v * (self(x) - y)
        return float((r * r).sum() + self.reg1 * (self.w1 ** 2).sum() + self.reg2 * (self.w2 ** 2).sum())

    def fit(self, x: torch.Tensor, y: torch.Tensor, gamma: torch.Tensor, gn_steps: int = 5,
            cg_first: int = 5, cg_iterations: int = 10) -> list[float]:
        """First-frame optimisation of w1 and w2. Returns the loss before and after each GN step."""
        weight = gamma.sqrt().view(-1, 1, 1, 1) * pixel_weights(y, self.kappa_min)
        problem = BilinearLoss(x, y, weight, math.sqrt(self.reg1), math.sqrt(self.reg2))
        losses = [self.loss(x, y, gamma)]
        for step in range(gn_steps):
            self.w1, self.w2 = gauss_newton_step((self.w1, self.w2), problem.residual, problem.jvp, problem.vjp,
                                                 cg_first if step == 0 else cg_iterations)
            losses.append(self.loss(x, y, gamma))
        return losses

    def update_steps(self, z: torch.Tensor, y: torch.Tensor, gamma: torch.Tensor, cg_iterations: int = 10,
                     emphasis: torch.Tensor | None = None):
        """Update w2 only, on projected features z = w1 * x from the memory: a generator, one CG iteration
        per `next()`, w2 replaced at the end. `emphasis` (like y): per-pixel factors on the loss weights
        (hard negatives count more; None: 1).
        The caller must not modify z, y, gamma until the generator is exhausted."""
        weight = gamma.sqrt().view(-1, 1, 1, 1) * pixel_weights(y, self.kappa_min)
        if emphasis is not None:
            weight = weight * emphasis.sqrt()  # the residual is squared: sqrt keeps emphasis a factor on the loss
        problem = LinearLoss(z, y, weight, math.sqrt(self.reg2))
        w2 = (self.w2,)
        for w2 in gauss_newton_steps((self.w2,), problem.residual, problem.jvp, problem.vjp, cg_iterations):
            yield
        (self.w2,) = w2
