"""What every trainer shares: the one training loop (loop.py), the data split, options and provenance
(common.py), the backbone feature cache (feature_cache.py) and synthetic clips (lucid.py).  The
trainers themselves live with their models (rtvos/models/<name>/train.py); `rtvos train <name>` runs one.
"""
