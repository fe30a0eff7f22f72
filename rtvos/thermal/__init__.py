"""Thermal (LWIR) imaging helpers for drivable-region tracking.

normalize:  raw 14/16-bit frames -> 8-bit RGB (percentile stretch, CLAHE, min/max) with profiles
            loaded from calibration/thermal/<name>.toml.
undistort:  lens undistortion from OpenCV/ROS camera_info YAML.
(The Thermal-Road error rate is a metric: rtvos.evaluation.road_error.)
"""

from .normalize import (
    NormalizationProfile,
    ProfileError,
    ThermalNormalizer,
    available_profiles,
    load_profile,
    normalize,
    profile_dir,
)
from .undistort import CalibrationError, CameraInfo, Undistorter, parse_simple_yaml, read_camera_info

__all__ = ["NormalizationProfile", "ProfileError", "ThermalNormalizer", "available_profiles", "load_profile",
           "normalize", "profile_dir",
           "CalibrationError", "CameraInfo", "Undistorter", "parse_simple_yaml", "read_camera_info"]
