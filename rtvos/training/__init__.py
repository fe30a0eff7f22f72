"""Offline training of the learned parts of the segmenters (the backbone stays frozen).

    python -m rtvos.training.crvos_train --davis-root <root> --minutes 60    # CRVOS decoder

Each trainer exposes `add_arguments(parser)` and `main(argv=None) -> int` so the `rtvos` command can
mount it as a sub-command.
"""
