"""Thermal (LWIR) imaging helpers for drivable-region tracking.

normalize:  raw 14/16-bit frames -> 8-bit RGB (percentile stretch, CLAHE, min/max) with profiles
            loaded from calibration/thermal/<name>.toml.
undistort:  lens undistortion from OpenCV/ROS camera_info YAML.
road_error: the Thermal-Road error rate, (FP + FN) / all pixels x 100.
"""

from .normalize import (NormalizationProfile, ProfileError, ThermalNormalizer, available_profiles, load_profile,
                        normalize, profile_dir)
from .road_error import RoadErrorAccumulator, road_confusion, road_error_rate
from .undistort import CalibrationError, CameraInfo, Undistorter, parse_simple_yaml, read_camera_info

__all__ = ["NormalizationProfile", "ProfileError", "ThermalNormalizer", "available_profiles", "load_profile",
           "normalize", "profile_dir", "RoadErrorAccumulator", "road_confusion", "road_error_rate",
           "CalibrationError", "CameraInfo", "Undistorter", "parse_simple_yaml", "read_camera_info"]
