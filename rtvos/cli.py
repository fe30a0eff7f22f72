"""The `rtvos` command: run the pipeline, subscribe to masks, evaluate on DAVIS, list models."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from rtvos import __version__


def _parse_value(text: str):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def parse_options(pairs: list[str] | None) -> dict:
    """`--option key=value` pairs (numbers and booleans converted) for model settings."""
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SystemExit(f"rtvos: --option expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip().replace("-", "_")] = _parse_value(value.strip())
    return out


def unknown_model(name: str) -> bool:
    """True (after saying so, with the choices) when `name` is not a registered model."""
    from rtvos.models import UnknownModel, get_spec

    try:
        get_spec(name)
    except UnknownModel as exc:
        print(f"rtvos: {exc}", file=sys.stderr)
        return True
    return False


def parse_box(text: str) -> list[float]:
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        vals = []
    if len(vals) != 4:
        raise SystemExit(f"rtvos: --box expects x0,y0,x1,y1 in pixels, got {text!r}")
    return vals


def box_init_argument(text: str) -> str:
    """--box-init: a way named in rtvos.models.target.BOX_INITS (NAME:PATH for one that takes a network)."""
    from rtvos.models.target import TargetError, check_box_init

    try:
        return check_box_init(text)
    except TargetError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# ----------------------------------------------------------------------------------------------- run
def cmd_run(args) -> int:
    from rtvos.config import ConfigError, load_launch
    from rtvos.evaluation.live import create_live_metrics
    from rtvos.pipeline.preflight import PreflightError, preflight
    from rtvos.pipeline.supervisor import run_pipeline

    try:
        cfg = load_launch(args.launch)
    except ConfigError as exc:
        print(f"rtvos: {exc}", file=sys.stderr)
        return 2
    src, mdl, ep = cfg.source, cfg.model, cfg.endpoints
    if args.source is not None:
        src.spec = args.source
    if args.frames is not None:
        src.frames = args.frames
    if args.fps is not None:
        src.fps = args.fps or None
    if args.size:
        src.width, src.height = _parse_size(args.size)
    if args.target_mask:
        src.target_mask = args.target_mask
    if args.box:
        src.target_box = parse_box(args.box)
    if args.box_init:
        src.box_init = args.box_init
    if args.every_frame:
        src.every_frame = True
    if args.model:
        mdl.name = args.model
    mdl.options.update(parse_options(args.option))
    if args.threads:
        mdl.threads = args.threads
    if args.bind:
        ep.publish = args.bind
    if args.allow_remote:
        ep.allow_remote = True
    if args.encoding:
        cfg.publish.encoding = args.encoding
    if args.publish_images:
        cfg.publish.images = True
    if args.stats_json:
        cfg.monitor.stats_json = args.stats_json
    if args.record:
        cfg.record.mcap = args.record
    if args.foxglove:
        cfg.record.foxglove = args.foxglove
    if args.frame_id:
        cfg.publish.frame_id = args.frame_id
    if args.metrics:
        cfg.monitor.http = args.metrics
    if unknown_model(mdl.name):
        return 2
    try:
        create_live_metrics(cfg.monitor.metrics)
    except ValueError as exc:
        print(f"rtvos: [monitor] metrics: {exc}", file=sys.stderr)
        return 2
    try:
        frame_hw, has_target = preflight(cfg)
    except PreflightError as exc:
        print(f"rtvos: {exc}", file=sys.stderr)
        return 2
    if not has_target:
        print(f"rtvos: no target given: masks stay empty until one is set (rtvos ctl set --topic {ep.publish} "
              "--mask M.png, or --box / --target-mask)", file=sys.stderr)
    return run_pipeline(cfg, frame_hw)


def _parse_size(text: str) -> tuple[int, int]:
    """--size WIDTHxHEIGHT as (width, height)."""
    from rtvos.sizes import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise SystemExit(f"rtvos: --size: {exc}") from None


def _frame_hw(text: str) -> tuple[int, int]:
    """--size WIDTHxHEIGHT as the (height, width) of a frame array."""
    w, h = _parse_size(text)
    return h, w


# ----------------------------------------------------------------------------------------------- sub
def cmd_sub(args) -> int:
    import numpy as np

    from rtvos.client import MaskSubscriber, SubscriberTimeout
    from rtvos.pipeline.stats import percentiles

    received, seqs, lat = 0, [], []
    t_first = t_last = None
    timed_out = False
    if args.save_dir:
        import cv2

        os.makedirs(args.save_dir, exist_ok=True)
    with MaskSubscriber(args.connect, stats=True, latest_only=args.latest) as sub:
        deadline = time.monotonic() + args.timeout
        while args.count is None or received < args.count:
            wait = deadline - time.monotonic() if received == 0 else args.timeout
            try:
                msg = sub.recv(timeout=max(0.0, wait))
            except SubscriberTimeout:
                timed_out = True
                break
            except KeyboardInterrupt:
                break
            received += 1
            seqs.append(msg.seq)
            lat.append(msg.latency_ms)
            t_last = time.monotonic()
            t_first = t_first or t_last
            if args.save_dir:
                cv2.imwrite(os.path.join(args.save_dir, f"{msg.seq:06d}.png"), msg.mask)
            if not args.quiet and (received % 25 == 0 or received == 1):
                objs = ", ".join(f"#{o['id']} {o['score']:.2f}" for o in msg.objects) or "none"
                print(f"rtvos sub: {received} masks, seq {msg.seq}, {msg.mask.shape[1]}x{msg.mask.shape[0]}, "
                      f"objects {objs}, latency {msg.latency_ms:.1f} ms", file=sys.stderr)
        rejected, skipped = sub.rejected, sub.skipped
        last_stats = sub.last_stats
    gaps = int(sum(max(0, b - a - 1) for a, b in zip(seqs, seqs[1:])))
    result = {
        "endpoint": args.connect,
        "received": received,
        "first_seq": seqs[0] if seqs else None,
        "last_seq": seqs[-1] if seqs else None,
        "gaps": gaps,
        "out_of_order": int(np.sum(np.diff(seqs) <= 0)) if len(seqs) > 1 else 0,
        "rejected": rejected,
        "skipped": skipped,
        "fps": round((received - 1) / (t_last - t_first), 3) if received > 1 and t_last > t_first else 0.0,
        "latency_ms": percentiles(lat),
        "timed_out": timed_out,
    }
    if last_stats:
        result["publisher_stats"] = {k: v for k, v in last_stats.items() if k not in ("v", "kind")}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    print(f"rtvos sub: received {received} masks ({gaps} gaps), {result['fps']:.1f} fps, "
          f"latency p50 {result['latency_ms']['p50']} ms", file=sys.stderr)
    if timed_out:
        want = f" of {args.count}" if args.count else ""
        print(f"rtvos sub: timed out after {args.timeout:.0f} s with {received}{want} masks: is `rtvos run` "
              f"publishing on {args.connect}?", file=sys.stderr)
        return 2
    return 0


# ---------------------------------------------------------------------------------------------- eval
def default_eval_split(root: str) -> str | None:
    """`rtvos eval` without --split or --sequences: on the training data (it holds the dev sequences) the
    dev split, which the packaged checkpoints did not train on; on any other data every sequence."""
    from rtvos.evaluation.davis import DavisDataset
    from rtvos.evaluation.splits import DEV_SEQUENCES

    try:
        names = DavisDataset(root).sequence_names()
    except (OSError, ValueError):
        return None  # the run itself says what is wrong with the root
    if set(DEV_SEQUENCES) & set(names):
        print("rtvos eval: scoring the dev split (the packaged checkpoints trained on the other sequences of this "
              "data); --split all scores every sequence", file=sys.stderr)
        return "dev"
    return None


def adapts_to_recordings(model: str, command: str) -> bool:
    """Whether `model` can run two passes over a recording (--two-pass); says why not when it cannot."""
    from rtvos.models import MODELS

    if MODELS[model].two_pass:
        return True
    adapting = ", ".join(name for name, spec in MODELS.items() if spec.two_pass)
    print(f"rtvos {command}: --two-pass: model {model!r} does not adapt to a recording (models that do: {adapting}); "
          "run it without --two-pass", file=sys.stderr)
    return False


def cmd_eval(args) -> int:
    from rtvos.evaluation.runner import evaluate, format_table, score_results
    from rtvos.models import create_segmenter

    if unknown_model(args.model):
        return 2
    options = parse_options(args.option)
    sequences = [s for s in args.sequences.split(",") if s] if args.sequences else None
    if args.split and sequences:
        print("rtvos eval: give --split or --sequences, not both", file=sys.stderr)
        return 2
    if args.split is None and not sequences:
        args.split = default_eval_split(args.davis_root)
    if args.split:
        from rtvos.evaluation.davis import DavisDataset
        from rtvos.evaluation.splits import SplitError, scored

        try:
            sequences = scored(DavisDataset(args.davis_root).sequence_names(), args.split)
        except SplitError as exc:
            print(f"rtvos eval: --split: {exc}", file=sys.stderr)
            return 2
    if args.score and args.two_pass:
        print("rtvos eval: --two-pass runs a model; --score runs none: give one of them", file=sys.stderr)
        return 2
    if args.score:  # masks written by anything, in the DAVIS results layout: score them, run nothing
        summary = score_results(args.score, args.davis_root, sequences, args.max_frames, progress=not args.quiet)
        summary["results"] = args.score
    elif not args.out:
        print("rtvos eval: give --out DIR (where the masks go), or --score DIR to score masks written before",
              file=sys.stderr)
        return 2
    else:
        from rtvos.models.target import Target, boxes_of

        init = None if args.init == "mask" else (lambda first: Target.from_boxes(boxes_of(first), args.box_init))
        if args.two_pass and not adapts_to_recordings(args.model, "eval"):
            return 2
        summary = evaluate(lambda: create_segmenter(args.model, threads=args.threads, **options), args.davis_root,
                           args.out, sequences=sequences, progress=not args.quiet, max_frames=args.max_frames,
                           init=init, two_pass=args.two_pass)
        summary["model"] = args.model
        summary["options"] = options
        summary["two_pass"] = args.two_pass
        summary["init"] = args.init if args.init == "mask" else f"box ({args.box_init})"
    summary["split"] = args.split
    print(format_table(summary))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
        print(f"rtvos eval: summary written to {args.json}", file=sys.stderr)
    return 0


def cmd_segment(args) -> int:
    from rtvos.models import create_segmenter
    from rtvos.models.target import Target, TargetError, read_target_mask
    from rtvos.segment import SegmentError, segment_recording
    from rtvos.sources import FILE_SCHEMES, SourceError, open_source

    if unknown_model(args.model) or (args.two_pass and not adapts_to_recordings(args.model, "segment")):
        return 2
    width, height = _parse_size(args.size) if args.size else (None, None)
    try:
        target = None
        if args.target_mask:
            target = read_target_mask(args.target_mask)
        elif args.box:
            target = Target.from_boxes({1: tuple(parse_box(args.box))})
        source = open_source(args.input, fps=None, width=width, height=height, profile=args.profile,
                             calibration=args.calibration)
    except (SourceError, TargetError) as exc:
        print(f"rtvos segment: {exc}", file=sys.stderr)
        return 2
    if args.input.partition(":")[0].lower() not in FILE_SCHEMES and not os.path.exists(args.input):
        source.close()
        print(f"rtvos segment: {args.input} never ends: segment a recording (a video, image folder, MCAP or "
              "thermal recording), or use rtvos run for a live source", file=sys.stderr)
        return 2
    with source:
        try:
            report = segment_recording(source, create_segmenter(args.model, threads=args.threads,
                                                                **parse_options(args.option)),
                                       args.out, name=args.name, target=target, mcap=args.mcap,
                                       overlay_video=args.overlay, camera_id=args.camera_id, frame_id=args.frame_id,
                                       progress=not args.quiet, two_pass=args.two_pass)
        except SegmentError as exc:
            print(f"rtvos segment: {exc}", file=sys.stderr)
            return 2
    out = os.path.join(args.out, report.name)
    print(f"rtvos segment: {report.masks} masks of {report.frames} frames in {out} ({args.model}, {report.fps:.1f} fps)"
          + "".join(f"; {what} {path}" for what, path in (("MCAP", args.mcap), ("overlay", args.overlay)) if path),
          file=sys.stderr)
    for line in report.failed[:10]:
        print(f"rtvos segment: the model failed on frame {line}", file=sys.stderr)
    if report.failed or report.skipped:
        print(f"rtvos segment: {len(report.failed)} frames failed, {report.skipped} could not be read (no mask "
              "written for them)", file=sys.stderr)
        return 1
    return 0


def cmd_bench(args) -> int:
    from rtvos.bench import run_bench

    if unknown_model(args.model):
        return 2
    result = run_bench(args.model, args.backend, _frame_hw(args.size), args.frames, args.warmup,
                       parse_options(args.option), args.source, args.threads)
    lat = result["latency_ms"]
    print(f"{result['model']} [{result['backend']}, {result['precision']}] {result['input']}: {result['fps']:.1f} fps, "
          f"p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms ({result['frames']} frames after "
          f"{result['warmup']} warm-up; start {result['start_ms']:.0f} ms)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


def cmd_export(args) -> int:
    """Build (and cache) every engine a model uses at a frame size, ahead of the first run."""
    from rtvos.bench import load_frames
    from rtvos.engines import EngineError, cache_dir
    from rtvos.models import create_segmenter

    if unknown_model(args.model):
        return 2
    before = {p: p.stat().st_mtime for p in cache_dir().iterdir()}
    frames, target = load_frames(None, _frame_hw(args.size), 2)
    t0 = time.perf_counter()
    try:
        seg = create_segmenter(args.model, backend=args.backend, **parse_options(args.option))
        seg.start(frames[0], target)
        seg.step(frames[1])
    except EngineError as exc:
        print(f"rtvos export: {exc}", file=sys.stderr)
        return 3
    built = [p for p in cache_dir().iterdir() if before.get(p) != p.stat().st_mtime]
    used = sorted(p.name for p in cache_dir().iterdir())
    print(f"rtvos export: {args.model} [{args.backend}] at {args.size}: {len(built)} engine file(s) built in "
          f"{time.perf_counter() - t0:.1f} s; cache {cache_dir()} holds {len(used)}")
    for p in built:
        print(f"  {p.name}")
    return 0


def cmd_view(args) -> int:
    if args.web:
        from rtvos.view.web import serve

        return serve(args)
    from rtvos.view.window import main as window_main

    return window_main(args)


def cmd_ctl(args) -> int:
    import cv2

    from rtvos.client import ControlClient, ControlError

    kwargs = {}
    if args.mask:
        mask = cv2.imread(args.mask, cv2.IMREAD_GRAYSCALE)
        if mask is None:
            print(f"rtvos ctl: cannot read {args.mask} as a single-channel PNG", file=sys.stderr)
            return 2
        kwargs["mask"] = mask
    if args.box:
        box = parse_box(args.box)
        if args.op == "set":
            kwargs["boxes"] = {args.id or 1: box}
        else:
            kwargs["box"] = box
    op = {"add": "add_object", "remove": "remove_object", "set": "set_target"}.get(args.op, args.op)
    if op in ("add_object", "remove_object"):
        if not args.id:
            print(f"rtvos ctl: {args.op} needs --id", file=sys.stderr)
            return 2
        kwargs["object_id"] = args.id
    try:
        with ControlClient(args.connect, timeout=args.timeout, topic=args.topic, keys=args.keys) as ctl:
            reply = ctl.request(op, **kwargs)
    except ControlError as exc:
        print(f"rtvos ctl: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(reply))
    return 0


def cmd_record(args) -> int:
    from rtvos.client import MaskSubscriber, SubscriberTimeout
    from rtvos.config import RecordConfig
    from rtvos.ros.bridge import Bridge

    if not (args.out or args.foxglove):
        print("rtvos record: nothing to do: give --out FILE.mcap and/or --foxglove [HOST:]PORT", file=sys.stderr)
        return 2
    from rtvos.transport import EndpointError

    try:
        bridge = Bridge.open(RecordConfig(mcap=args.out, foxglove=args.foxglove, image_format=args.image_format),
                             allow_remote=args.allow_remote)
    except (EndpointError, OSError) as exc:
        print(f"rtvos record: {exc}", file=sys.stderr)
        return 2
    recorded, seen = 0, None
    try:
        with MaskSubscriber(args.connect, stats=True, images=True) as sub:
            while args.count is None or recorded < args.count:
                try:
                    msg = sub.recv(timeout=args.timeout)
                except SubscriberTimeout:
                    break
                except KeyboardInterrupt:
                    break
                bridge.mask(msg)
                recorded += 1
                if sub.last_stats is not None and sub.last_stats is not seen:
                    seen = sub.last_stats
                    bridge.stats({k: v for k, v in seen.items() if k not in ("v", "kind")})
    finally:
        bridge.close()
    print(f"rtvos record: {recorded} masks" + (f" written to {args.out}" if args.out else ""), file=sys.stderr)
    return 0 if recorded else 2


def cmd_stats(args) -> int:
    from rtvos.stats_plot import plot_latency

    try:
        stats = json.loads(open(args.stats).read())
        out = plot_latency(stats, args.out or os.path.splitext(args.stats)[0] + ".png")
    except (OSError, ValueError) as exc:  # unreadable, not JSON, or nothing to plot (PlotError)
        print(f"rtvos stats plot: {args.stats}: {exc}", file=sys.stderr)
        return 2
    print(f"rtvos stats plot: {out}", file=sys.stderr)
    return 0


def cmd_keys(args) -> int:
    from rtvos.curve import create_keys

    folder = create_keys(args.folder)
    print(f"rtvos keys: CURVE keys in {folder}: server.key(_secret) for the run ([endpoints] control_keys = "
          f"\"{folder}\"), client.key(_secret) for `rtvos ctl --keys {folder}`; more clients: put their .key "
          f"files in {folder / 'authorized'}")
    return 0


def cmd_train(args) -> int:
    from rtvos.models import get_spec

    return get_spec(args.model).train(args.rest)


def cmd_models(args) -> int:
    from rtvos.models import MODELS

    for name, spec in MODELS.items():
        trained = f" (trained: rtvos train {name})" if spec.trainer else ""
        print(f"{name:10s} {spec.description}{trained}")
    return 0


# ---------------------------------------------------------------------------------------------- main
TWO_PASS_HELP = ("scan each recording once, let the model adapt to it, then segment it (the LSE paper's model "
                 "adaptation; a model that does not adapt says so)")
MODEL_HELP = "segmenter name (see `rtvos models`; default %(default)s)"
OPTION_HELP = "model option, e.g. height=256 (repeatable; see `rtvos models`)"
THREADS_HELP = "torch threads (default: all cores)"


def build_parser() -> argparse.ArgumentParser:
    from rtvos.models import trainable
    from rtvos.models.target import DEFAULT_BOX_INIT
    from rtvos.sources import SPEC_FORMS

    ap = argparse.ArgumentParser(prog="rtvos", description=__doc__)
    ap.add_argument("--version", action="version", version=f"rtvos {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run the capture -> infer -> publish pipeline")
    r.add_argument("--launch", help="launch file (TOML), e.g. launch/synthetic_demo.toml")
    r.add_argument("--source", help=f"where frames come from: {SPEC_FORMS} (a bare folder, file or camera "
                   "index works too)")
    r.add_argument("--frames", type=int, help="stop after N frames")
    r.add_argument("--fps", type=float, help="source pacing in frames/s (0 = as fast as possible)")
    r.add_argument("--every-frame", action="store_true", help="drop no frame: capture waits for the model "
                   "(for recordings; a camera's frames would fall behind)")
    r.add_argument("--size", help="source size WIDTHxHEIGHT (synthetic, camera)")
    r.add_argument("--model", help="segmenter name (see `rtvos models`; default: the launch file's, else online)")
    r.add_argument("--option", action="append", metavar="KEY=VALUE", help=OPTION_HELP)
    r.add_argument("--threads", type=int, help="torch threads in the infer process (default: all cores)")
    r.add_argument("--target-mask", help="PNG label mask of the first frame")
    r.add_argument("--box", help="first-frame box x0,y0,x1,y1 (object 1)")
    r.add_argument("--box-init", type=box_init_argument, help="how a box (--box, rtvos ctl add/set --box) "
                   f"becomes a first mask for models that start from masks (default: {DEFAULT_BOX_INIT})")
    r.add_argument("--bind", help="mask topic endpoint (default tcp://127.0.0.1:5555)")
    r.add_argument("--allow-remote", action="store_true", help="allow binding a non-loopback address")
    r.add_argument("--encoding", choices=("mono8", "png"), help="mask encoding on the topic")
    r.add_argument("--publish-images", action="store_true", help="also publish the frames (topic 'image') for viewers")
    r.add_argument("--stats-json", help="write the run's statistics here at exit")
    r.add_argument("--record", metavar="FILE.mcap", help="record the masks, detections, frames (with "
                   "--publish-images) and statistics as ROS 2 messages to an MCAP file (Foxglove, ros2 bag play)")
    r.add_argument("--foxglove", metavar="[HOST:]PORT", help="serve them live over the Foxglove WebSocket protocol, "
                   "the masks drawn on the frames as image annotations")
    r.add_argument("--metrics", metavar="[HOST:]PORT", help="serve Prometheus metrics on /metrics and a health check "
                   "on /health (ready once the first mask of a target is out)")
    r.add_argument("--frame-id", help="the camera's frame_id in message headers (default: the camera id)")
    r.set_defaults(func=cmd_run)

    s = sub.add_parser("sub", help="subscribe to a mask topic and report what arrives")
    s.add_argument("--connect", default="tcp://127.0.0.1:5555", help="the run's mask topic (default %(default)s)")
    s.add_argument("--count", type=int, help="exit after N masks (default: until Ctrl-C)")
    s.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a mask before giving up")
    s.add_argument("--json", help="write a summary (received, gaps, latency) here")
    s.add_argument("--save-dir", help="write each mask as <seq>.png here")
    s.add_argument("--quiet", action="store_true", help="no line per mask, only the summary")
    s.add_argument("--latest", action="store_true", help="always take the newest mask (pass over older ones)")
    s.set_defaults(func=cmd_sub)

    e = sub.add_parser("eval", help="score a model on a DAVIS-layout dataset (official J and F)")
    e.add_argument("--model", default="online", help=MODEL_HELP)
    e.add_argument("--davis-root", required=True, help="folder with JPEGImages/480p and Annotations/480p")
    e.add_argument("--out", help="results folder the model's masks are written to (<out>/<sequence>/<frame>.png)")
    e.add_argument("--score", metavar="DIR", help="score a results folder written before (by anything), run no model")
    e.add_argument("--json", help="write the summary here")
    e.add_argument("--sequences", help="comma-separated subset (default: all)")
    e.add_argument("--split", help="the sequences a split holds out: dev, fold:I/K, train (the dev split's "
                   "training side) or all (see rtvos/evaluation/splits.py); default: dev on the DAVIS training "
                   "data (what the packaged checkpoints did not train on), all on other data")
    e.add_argument("--max-frames", type=int, help="use only the first N frames of each sequence")
    e.add_argument("--init", choices=("mask", "box"), default="mask", help="start each sequence from its first "
                   "annotation (mask) or from its objects' boxes (box), as a robot's detector would give them")
    e.add_argument("--box-init", default=DEFAULT_BOX_INIT, type=box_init_argument, help="how a box becomes a first mask for models that start from "
                   "masks: lse+grabcut (the default: GrabCut started from LSE's packaged network), grabcut (from the box "
                   "alone), lse (the network alone), or lse:CHECKPOINT / lse+grabcut:CHECKPOINT")
    e.add_argument("--option", action="append", metavar="KEY=VALUE", help=OPTION_HELP)
    e.add_argument("--threads", type=int, help=THREADS_HELP)
    e.add_argument("--two-pass", action="store_true", help=TWO_PASS_HELP)
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=cmd_eval)

    g = sub.add_parser("segment", help="segment every frame of a recording (video, image folder, MCAP, thermal) "
                       "into PNG masks (DAVIS layout), and optionally an MCAP and an overlay video")
    g.add_argument("input", help="the recording: video:FILE, folder:DIR, mcap:FILE, thermal:PATH, or a bare file "
                   "or folder")
    g.add_argument("--out", required=True, help="masks go to OUT/NAME/<frame>.png (DAVIS results layout)")
    g.add_argument("--name", help="NAME of the recording in OUT (default: the file or folder name)")
    g.add_argument("--model", default="online", help=MODEL_HELP)
    g.add_argument("--option", action="append", metavar="KEY=VALUE", help=OPTION_HELP)
    g.add_argument("--threads", type=int, help=THREADS_HELP)
    g.add_argument("--target-mask", help="PNG label mask of the first frame (default: the recording's own, when "
                   "it has one: a DAVIS annotation, an MCAP's first mask)")
    g.add_argument("--box", help="first-frame box x0,y0,x1,y1 (object 1) instead of a mask")
    g.add_argument("--mcap", metavar="FILE.mcap", help="also write the masks, detections and frames as ROS 2 "
                   "messages")
    g.add_argument("--overlay", metavar="VIDEO", help="also write the video with the masks drawn on it (.mp4, .avi)")
    g.add_argument("--camera-id", default="cam0", help="camera id in the MCAP topics (default %(default)s)")
    g.add_argument("--frame-id", help="frame_id in the MCAP headers (default: the camera id)")
    g.add_argument("--size", help="frame size WIDTHxHEIGHT of a raw thermal recording")
    g.add_argument("--profile", help="thermal normalisation profile (a name in calibration/thermal/ or a .toml)")
    g.add_argument("--calibration", help="camera_info YAML to undistort a thermal recording")
    g.add_argument("--two-pass", action="store_true", help=TWO_PASS_HELP)
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=cmd_segment)

    b = sub.add_parser("bench", help="time a segmenter alone on frames of a real size")
    b.add_argument("--model", default="online", help=MODEL_HELP)
    b.add_argument("--backend", default="auto", help="auto | torch | onnxruntime | tensorrt")
    b.add_argument("--size", default="854x480", help="frame size WIDTHxHEIGHT (default 854x480, DAVIS 480p)")
    b.add_argument("--frames", type=int, default=100, help="timed frames")
    b.add_argument("--warmup", type=int, default=10, help="untimed frames first (default %(default)s)")
    b.add_argument("--source", help="frames from this source (e.g. folder:DIR) instead of the synthetic camera")
    b.add_argument("--option", action="append", metavar="KEY=VALUE", help=OPTION_HELP)
    b.add_argument("--threads", type=int, help=THREADS_HELP)
    b.add_argument("--json", help="write fps, latency_ms.{p50,p99}, input, backend, model here")
    b.set_defaults(func=cmd_bench)

    x = sub.add_parser("export", help="build and cache a model's compiled engines for a frame size")
    x.add_argument("--model", default="online", help=MODEL_HELP)
    x.add_argument("--backend", default="onnxruntime", help="onnxruntime | tensorrt")
    x.add_argument("--size", default="854x480", help="frame size WIDTHxHEIGHT (default 854x480)")
    x.add_argument("--option", action="append", metavar="KEY=VALUE", help=OPTION_HELP)
    x.set_defaults(func=cmd_export)

    v = sub.add_parser("view", help="live demo: masks drawn over the video in a browser, a window, a video file "
                       "or a snapshot (run with --publish-images)")
    v.add_argument("--connect", default="tcp://127.0.0.1:5555", help="the run's mask topic (default %(default)s)")
    v.add_argument("--web", metavar="[HOST:]PORT", help="serve the live view to a browser, with a box to draw "
                   "for a new target (headless machines; prints the address to open)")
    v.add_argument("--allow-remote", action="store_true", help="serve --web on a non-loopback HOST")
    v.add_argument("--show", action="store_true", help="open a window (needs an OpenCV build with a GUI)")
    v.add_argument("--record", help="write the overlaid video here (.avi, MJPG)")
    v.add_argument("--record-fps", type=float, default=25.0, help="frame rate of the --record video (default %(default)s)")
    v.add_argument("--snapshot", help="keep this PNG updated with the latest picture (once a second)")
    v.add_argument("--count", type=int, help="stop after N pictures")
    v.add_argument("--timeout", type=float, default=60.0, help="give up when no picture came for this long, s (default %(default)s)")
    v.set_defaults(func=cmd_view)

    c = sub.add_parser("ctl", help="change what a running pipeline follows (add/remove objects, set, reset, stats)")
    c.add_argument("op", choices=("add", "remove", "set", "reset", "stats"), help="add or remove an object, set the "
                   "whole target, reset (follow nothing), or print the run's statistics")
    c.add_argument("--topic", default="tcp://127.0.0.1:5555", help="the run, by its mask topic (its control socket "
                   "is private to the user who started it and found through its run file)")
    c.add_argument("--connect", help="the control socket itself (a tcp:// one configured in the launch file)")
    c.add_argument("--keys", help="CURVE keys folder (rtvos keys) for a control socket on another host")
    c.add_argument("--id", type=int, help="object id (1..255) for add/remove")
    c.add_argument("--mask", help="PNG mask (add: nonzero = the object; set: label mask)")
    c.add_argument("--box", help="x0,y0,x1,y1 (add; set: object --id or 1)")
    c.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the reply (default %(default)s)")
    c.set_defaults(func=cmd_ctl)

    rec = sub.add_parser("record", help="record a running pipeline's topics to MCAP (ROS 2 messages) and/or "
                         "serve them to Foxglove")
    rec.add_argument("--connect", default="tcp://127.0.0.1:5555", help="the run's mask topic")
    rec.add_argument("--out", metavar="FILE.mcap", help="the MCAP file to write")
    rec.add_argument("--foxglove", metavar="[HOST:]PORT", help="serve the topics live to Foxglove")
    rec.add_argument("--allow-remote", action="store_true", help="serve Foxglove on a non-loopback HOST")
    rec.add_argument("--image-format", choices=("jpeg", "raw"), default="jpeg", help="frames as JPEG or raw rgb8")
    rec.add_argument("--count", type=int, help="stop after N masks (default: until the stream ends or Ctrl-C)")
    rec.add_argument("--timeout", type=float, default=10.0, help="stop when no mask came for this long")
    rec.set_defaults(func=cmd_record)

    st = sub.add_parser("stats", help="look at a run's statistics (rtvos run --stats-json S.json)")
    st.add_argument("action", choices=("plot",), help="plot: latency over time and its histogram, as a PNG")
    st.add_argument("stats", help="the statistics JSON of a run")
    st.add_argument("--out", help="the PNG to write (default: next to the JSON, .png)")
    st.set_defaults(func=cmd_stats)

    k = sub.add_parser("keys", help="make CURVE keys for a control socket other hosts can reach")
    k.add_argument("folder", help="where to write them (server and client key pairs)")
    k.set_defaults(func=cmd_keys)

    t = sub.add_parser("train", help="train a model's offline part on DAVIS (see `rtvos train MODEL --help`)",
                       add_help=False)
    t.add_argument("model", choices=sorted(trainable()), help="the model whose offline part to train")
    t.add_argument("rest", nargs=argparse.REMAINDER, help="the trainer's own options")
    t.set_defaults(func=cmd_train)

    m = sub.add_parser("models", help="list the available models")
    m.set_defaults(func=cmd_models)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
