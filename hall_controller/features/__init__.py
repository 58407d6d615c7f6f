"""One folder per feature, each plugged in by the `Feature` in its `feature.py`, listed in `hall_controller/app.py`."""
