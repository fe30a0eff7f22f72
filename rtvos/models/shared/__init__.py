"""What several models share: the frozen EfficientNet-Lite0 backbone (backbone.py), merging per-object
probabilities into one label mask (aggregate.py), the INT8 calibration data for their engines
(int8_calibration.py), and a first mask from a box (box_init.py)."""
