"""Looking at a run: `rtvos view` draws the masks over the published frames (`--publish-images`) and
shows them in a window, writes a video or a snapshot (window.py), or serves them to a browser with a
way to draw a new target (web.py); overlay.py draws."""
