"""Gauss-Newton with conjugate gradient, for any least-squares problem min ||r(w)||^2 given as functions on
tuples of tensors: the residual r(w), J p and J^T u.  Nothing here knows about segmentation (FRTM's
target model supplies the problem: target_model.py).

Each step is a generator that yields after every CG iteration, so a caller can spread the work of one
update over several frames.
"""

from __future__ import annotations

import torch


def conjugate_gradient_steps(apply_a, b: tuple, iterations: int):
    """Solve A x = b (A symmetric positive definite, given as a function on tuples of tensors) by CG,
    yielding the current solution after every iteration (so the work can be spread over frames)."""
    x = tuple(torch.zeros_like(t) for t in b)
    r = tuple(t.clone() for t in b)
    p = tuple(t.clone() for t in r)
    rs = sum((t * t).sum() for t in r)
    for _ in range(iterations):
        ap = apply_a(p)
        pap = sum((u * v).sum() for u, v in zip(p, ap))
        if pap <= 1e-20:
            break
        alpha = rs / pap
        x = tuple(xi + alpha * pi for xi, pi in zip(x, p))
        yield x
        r = tuple(ri - alpha * api for ri, api in zip(r, ap))
        rs_new = sum((t * t).sum() for t in r)
        if rs_new <= 1e-20:
            break
        p = tuple(ri + (rs_new / rs) * pi for ri, pi in zip(r, p))
        rs = rs_new


def gauss_newton_steps(params: tuple, residual, jvp, vjp, cg_iterations: int):
    """One GN step for min ||r(w)||^2: solve J^T J delta = -J^T r(w) by CG, yielding w + delta after
    every CG iteration. `residual(w)`, `jvp(w, p)` = J p and `vjp(w, u)` = J^T u act on tuples."""
    g = vjp(params, residual(params))
    for delta in conjugate_gradient_steps(lambda p: vjp(params, jvp(params, p)), tuple(-t for t in g), cg_iterations):
        yield tuple(w + d for w, d in zip(params, delta))


def gauss_newton_step(params: tuple, residual, jvp, vjp, cg_iterations: int) -> tuple:
    """One GN step, run to the end; returns the new params."""
    out = params
    for out in gauss_newton_steps(params, residual, jvp, vjp, cg_iterations):
        pass
    return out
