"""rtvos: real-time video object segmentation for cameras and robots."""

__version__ = "0.1.0"
