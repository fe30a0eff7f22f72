"""rtvos in the robotics world, with no ROS install: its masks, detections, images and statistics as ROS 2
messages (msgs.py), recorded to and replayed from MCAP files (mcap_file.py), and served live to
Foxglove (foxglove_live.py). `Bridge` (bridge.py) feeds both from a mask subscription."""
