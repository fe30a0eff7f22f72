"""`rtvos view --show | --record V.avi | --snapshot S.png`: subscribes to masks and frames (`rtvos run
--publish-images`), draws the masks over the video with ids, scores, FPS and latency, and shows a window
(an OpenCV build with a GUI), writes a video, or keeps a snapshot PNG up to date. On a headless machine,
`rtvos view --web PORT` (web.py) serves the same to a browser."""

from __future__ import annotations

import sys
import time

import cv2

from rtvos.client import MaskSubscriber, SubscriberTimeout
from rtvos.view.overlay import overlay


def main(args) -> int:
    if not (args.show or args.record or args.snapshot):
        print("rtvos view: nothing to do: pass --web PORT (a browser), --show (a window), --record FILE.avi and/or "
              "--snapshot FILE.png", file=sys.stderr)
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
