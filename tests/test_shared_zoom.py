"""Target-centred windows (rtvos/models/shared/zoom.py)."""

import numpy as np

from rtvos.models.shared.zoom import Window, reframe, window_around, window_at, window_for

FRAME = (480, 854)


def test_a_window_grows_the_box_by_its_margin_keeps_the_aspect_and_stays_inside():
    win = window_around((400, 200, 440, 240), FRAME, margin=1.0, max_zoom=4.0)  # a 40 px object
    assert abs(win.w / win.h - 854 / 480) < 0.01
    assert win.h == 120 and win.y0 == 160 and abs(win.x0 + win.w / 2 - 420) <= 1  # 40 * (1 + 2) tall, centred
    corner = window_around((0, 0, 20, 20), FRAME, margin=1.0, max_zoom=4.0)
    assert (corner.y0, corner.x0) == (0, 0)  # pushed inside the frame, not padded


def test_zoom_is_bounded_and_a_window_never_exceeds_the_frame():
    tiny = window_around((400, 200, 404, 204), FRAME, margin=1.0, max_zoom=3.0)
    assert tiny.zoom(FRAME) == 3.0
    huge = window_around((0, 0, 854, 480), FRAME, margin=1.0, max_zoom=3.0)
    assert huge == Window.full(FRAME)  # larger than the frame would need: the frame itself


def test_crop_paste_and_grid_points_agree():
    frame = np.arange(480 * 854).reshape(FRAME)
    win = window_at(100, 100, 96, FRAME)
    np.testing.assert_array_equal(win.paste(win.crop(frame), FRAME)[win.y0:win.y0 + win.h, win.x0:win.x0 + win.w],
                                  win.crop(frame))
    assert win.paste(win.crop(frame), FRAME)[400, 800] == 0
    y, x = win.to_frame(0, 0, (win.h, win.w))  # cell (0, 0) of a full-resolution grid: the first pixel's centre
    assert (y, x) == (win.y0 + 0.5, win.x0 + 0.5)


def test_window_for_is_the_frame_without_zoom_or_without_an_object():
    mask = np.zeros(FRAME, bool)
    mask[200:240, 400:440] = True
    assert window_for(mask, FRAME, zoom=1.0, margin=1.0) == Window.full(FRAME)
    assert window_for(np.zeros(FRAME, bool), FRAME, zoom=2.0, margin=1.0) == Window.full(FRAME)
    assert window_for(mask, FRAME, zoom=2.0, margin=1.0) == window_around((400, 200, 440, 240), FRAME, 1.0, 2.0)


def test_specks_far_from_the_object_do_not_move_its_window():
    """A few stray pixels at the frame's edge (what a decoder leaves after a search in the whole frame)
    would make the window the whole frame, for good; a second part of comparable size is kept."""
    mask = np.zeros(FRAME, bool)
    mask[200:240, 400:440] = True
    alone = window_for(mask, FRAME, zoom=3.0, margin=0.5)
    mask[300:304, 840:844] = True  # 16 px: a speck (1 % of the object)
    assert window_for(mask, FRAME, zoom=3.0, margin=0.5) == alone != Window.full(FRAME)
    mask[100:120, 300:320] = True  # 400 px: a quarter of the object, part of it
    assert window_for(mask, FRAME, zoom=3.0, margin=0.5) == window_around((300, 100, 440, 240), FRAME, 0.5, 3.0)


def test_reframe_moves_a_map_between_windows():
    grid = (64, 112)  # a map at a processing size, over any window
    small, frame = window_at(240, 427, 240, FRAME), Window.full(FRAME)
    values = np.zeros(grid, np.float32)
    values[16:48, 28:84] = 1.0  # the middle half of the small window
    assert reframe(values, small, small, FRAME) is values
    whole = reframe(values, small, frame, FRAME)
    assert whole.shape == grid and abs(whole.sum() - values.sum() / 4) < 0.05 * values.sum()  # half size: a quarter
    assert whole[:10].max() == 0 and whole[:, :20].max() == 0  # nothing outside the small window
    back = reframe(whole, frame, small, FRAME)
    assert np.abs(back - values).mean() < 0.05
