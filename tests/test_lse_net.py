"""LSE's network (rtvos/models/lse/net.py): the similarity and fusion rule, the centre map, shapes."""

import math

import torch

from rtvos.models.lse.net import LSENetwork, centre_map, fuse, pixel_grid, references, similarity


def test_similarity_is_the_papers_and_fusion_averages_it_with_the_foreground_branch():
    a = torch.zeros(1, 3, 1, 1)
    b = torch.tensor([1.0, 1.0, 0.0]).view(1, 3, 1, 1)  # ||a - b||^2 = 2
    assert float(similarity(a, a)) == 1.0
    assert math.isclose(float(similarity(a, b)), 2 / (1 + math.exp(2)), rel_tol=1e-6)
    assert float(similarity(a, 100 * b)) == 0.0  # far apart: 0, no overflow
    # fusion: the branch's probability and the embedding's similarity to r, averaged (at the branch's grid)
    emb = torch.zeros(1, 3, 2, 2)
    emb[0, :, 0, 0] = torch.tensor([1.0, 1.0, 0.0])
    fg = torch.full((1, 4, 4), 0.8)
    fused = fuse(fg, emb, torch.zeros(3))
    assert fused.shape == (1, 4, 4)
    assert math.isclose(float(fused[0, 3, 3]), 0.5 * (0.8 + 1.0), rel_tol=1e-6)       # embedding = r
    assert float(fused[0, 0, 0]) < float(fused[0, 3, 3])                              # embedding away from r


def test_reference_is_the_per_dimension_median_of_each_samples_foreground():
    emb = torch.arange(2 * 3 * 3, dtype=torch.float32).view(1, 2, 3, 3).repeat(3, 1, 1, 1)
    fg = torch.zeros(3, 3, 3, dtype=torch.bool)
    fg[0, 0, :] = True                                                  # values 0, 1, 2 and 9, 10, 11
    fg[2, :2, :2] = True                                                # 0, 1, 3, 4: the lower median, as torch's
    assert references(emb, fg).tolist() == [[1.0, 10.0], [4.0, 13.0], [1.0, 10.0]]  # sample 1, none: every pixel
    rng = torch.Generator().manual_seed(0)
    emb, fg = torch.randn(4, 5, 6, 7, generator=rng), torch.rand(4, 6, 7, generator=rng) > 0.6
    one_by_one = torch.stack([e.flatten(1)[:, f.flatten()].median(dim=1).values for e, f in zip(emb, fg)])
    assert torch.equal(references(emb, fg), one_by_one)


def test_centre_map_is_position_plus_offset():
    grid = pixel_grid(2, 4)
    assert grid[0, :, 0, 0].tolist() == [0.25, 0.125] and grid[0, :, 1, 3].tolist() == [0.75, 0.875]
    offsets = torch.zeros(1, 2, 2, 4)
    offsets[0, 0], offsets[0, 1] = 0.5 - grid[0, 0], 0.5 - grid[0, 1]  # every pixel points at the middle
    assert torch.allclose(centre_map(offsets), torch.full((1, 2, 2, 4), 0.5))


def test_shapes_and_gradients_through_the_fusion():
    net = LSENetwork()
    f4, f8, f16 = torch.randn(2, 24, 64, 64), torch.randn(2, 40, 32, 32), torch.randn(2, 112, 16, 16)
    fg, appearance, offsets, lse = net(f4, f8, f16)
    assert fg.shape == (2, 1, 64, 64) and appearance.shape == lse.shape == (2, 64, 32, 32)
    assert offsets.shape == (2, 2, 32, 32)
    fused = net.fused(fg, lse)
    assert fused.shape == (2, 64, 64) and bool(((fused >= 0) & (fused <= 1)).all())
    fused.mean().backward()
    assert net.lse.branches[0].weight.grad is not None and net.foreground.branches[0].weight.grad is not None
