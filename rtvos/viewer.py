"""`rtvos view`: the live demo. Subscribes to masks and frames (`rtvos run --publish-images`), draws
the masks over the video with ids, scores, FPS and latency, and shows a window, writes a video, or
keeps a snapshot PNG up to date (for headless machines)."""

from __future__ import annotations

import sys
import time

import cv2
import numpy as np

from rtvos.client import MaskSubscriber, SubscriberTimeout

PALETTE = np.array([[0, 0, 0], [255, 64, 64], [64, 200, 255], [255, 200, 0], [160, 80, 255], [0, 220, 120],
                    [255, 120, 200], [120, 255, 255]], np.uint8)


def overlay(image_rgb: np.ndarray, mask: np.ndarray, objects: list[dict], lines: list[str],
            alpha: float = 0.45) -> np.ndarray:
    """BGR picture: objects tinted and outlined in their colour, boxes with id/score, text top-left."""
    out = image_rgb.copy()
    colours = PALETTE[np.minimum(mask, len(PALETTE) - 1)]
    fg = mask > 0
    out[fg] = (out[fg] * (1 - alpha) + colours[fg] * alpha).astype(np.uint8)
    for k in np.unique(mask):
        if k == 0:
            continue
        contours, _ = cv2.findContours((mask == k).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in PALETTE[min(k, len(PALETTE) - 1)]), 2)
    for obj in objects:
        if obj.get("bbox"):
            x0, y0, x1, y1 = obj["bbox"]
            colour = tuple(int(c) for c in PALETTE[min(obj["id"], len(PALETTE) - 1)])
            cv2.rectangle(out, (x0, y0), (x1, y1), colour, 1)
            cv2.putText(out, f"#{obj['id']} {obj['score']:.2f}", (x0, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.45, colour, 1, cv2.LINE_AA)
    bgr = cv2.cvtColor(out, cv2.COLOR_RGB2BGR)
    for i, text in enumerate(lines):
        y = 20 + 20 * i
        cv2.putText(bgr, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(bgr, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return bgr


def main(args) -> int:
    if not (args.show or args.record or args.snapshot):
        print("rtvos view: nothing to do: pass --show (a window), --record FILE.avi and/or --snapshot FILE.png",
              file=sys.stderr)
        return 2
    writer = None
    shown = drawn = 0
    fps = 0.0
    last_t = None
    last_snap = 0.0
    with MaskSubscriber(args.connect, images=True) as sub:
        while args.count is None or drawn < args.count:
            try:
                msg = sub.recv(timeout=args.timeout)
            except SubscriberTimeout:
                if drawn == 0:
                    print(f"rtvos view: no masks from {args.connect} within {args.timeout:.0f} s; is `rtvos run "
                          f"--publish-images` running there?", file=sys.stderr)
                    return 2
                break  # the stream ended
            except KeyboardInterrupt:
                break
            if msg.image is None:
                if drawn == 0 and shown == 0:
                    print("rtvos view: masks arrive without frames: start the run with --publish-images",
                          file=sys.stderr)
                shown += 1
                continue
            now = time.monotonic()
            if last_t is not None:
                fps = 0.9 * fps + 0.1 * (1.0 / max(1e-6, now - last_t)) if fps else 1.0 / max(1e-6, now - last_t)
            last_t = now
            lines = [f"{msg.header.get('model', '?')}  {fps:4.1f} fps  latency {msg.latency_ms:.0f} ms",
                     f"frame {msg.seq}"]
            picture = overlay(msg.image, msg.mask, msg.objects, lines)
            drawn += 1
            if args.record:
                if writer is None:
                    h, w = picture.shape[:2]
                    writer = cv2.VideoWriter(args.record, cv2.VideoWriter_fourcc(*"MJPG"), args.record_fps, (w, h))
                    if not writer.isOpened():
                        print(f"rtvos view: cannot write {args.record} (use a .avi name)", file=sys.stderr)
                        return 2
                writer.write(picture)
            if args.snapshot and now - last_snap >= 1.0:
                cv2.imwrite(args.snapshot, picture)
                last_snap = now
            if args.show:
                try:
                    cv2.imshow("rtvos", picture)
                    if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                        break
                except cv2.error:
                    print("rtvos view: this OpenCV build has no GUI (opencv-python-headless); use --record or "
                          "--snapshot, or pip install opencv-python", file=sys.stderr)
                    return 2
    if writer is not None:
        writer.release()
    if args.snapshot and drawn:
        cv2.imwrite(args.snapshot, picture)
    print(f"rtvos view: drew {drawn} frames" + (f" into {args.record}" if args.record else ""), file=sys.stderr)
    return 0
