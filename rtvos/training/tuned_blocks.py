"""Fine-tuning the backbone's upper stride-16 blocks with a model's network (CRVOS's decoder, FRTM's
refinement network R, PLM's matching network): the network owns trainable copies of them
(`owned_blocks`, as `network.tuned`), training computes the frozen features below them once (CRVOS and
FRTM cache them; PLM's engine stops there) and runs the blocks on them, and they learn at a share of the
network's learning rate. A trainer may offer another EfficientNet-Lite for the features than Lite0
(`add_backbone_argument`): the network records it, and its segmenter runs on it."""

from __future__ import annotations

import argparse

import torch

from rtvos.models.shared.backbone import LITE0, VARIANTS, LiteVariant, backbone_taps


def add_tuning_arguments(p: argparse.ArgumentParser) -> None:
    ranges = ", ".join(f"0-{v.max_tuned_blocks} on {v.key}" for v in VARIANTS.values())
    p.add_argument("--tune-blocks", type=int, default=0,
                   help=f"fine-tune the backbone's last N blocks below the stride-16 features with the network "
                        f"({ranges}; they become part of it; default 0: frozen)")
    p.add_argument("--tune-lr", type=float, default=0.1,
                   help="learning rate of the fine-tuned blocks, as a share of --lr (default 0.1)")


def add_backbone_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backbone", choices=sorted(VARIANTS), default=LITE0.key,
                   help=f"the ImageNet EfficientNet-Lite whose features the network learns on (default "
                        f"{LITE0.key}); --tune-blocks counts its blocks")


def frozen_taps(args: argparse.Namespace, prog: str, backbone: LiteVariant = LITE0) -> tuple[int, int, int]:
    """The taps of `backbone`'s frozen pyramid below --tune-blocks' blocks (strides 4, 8 and 16 below the
    tuned blocks): what the feature cache holds and the network takes."""
    try:
        return backbone_taps(args.tune_blocks, backbone)
    except ValueError as e:
        raise SystemExit(f"{prog}: --tune-blocks: {e}") from None


def tuned_param_groups(network: torch.nn.Module, tune_lr: float) -> list[dict]:
    """The optimizer's groups: the network's own parameters, then its fine-tuned blocks (if any) at
    `tune_lr` of the rate. Both in the network's order, every run the same (a resumed optimizer's state
    is matched by position)."""
    tuned = list(network.tuned.parameters()) if getattr(network, "tuned", None) is not None else []
    ids = {id(p) for p in tuned}
    return [{"params": [p for p in network.parameters() if id(p) not in ids]}] + \
           ([{"params": tuned, "lr_scale": tune_lr}] if tuned else [])
