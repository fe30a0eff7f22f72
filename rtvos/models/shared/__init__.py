"""What several models share: the frozen EfficientNet-Lite0 backbone (backbone.py), merging per-object
probabilities into one label mask (aggregate.py), the INT8 calibration data for their engines
(int8_calibration.py), a first mask from a box (box_init.py), and a coarse probability map snapped to
the frame's edges (edges.py)."""
