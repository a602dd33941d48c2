"""The motion engine + encode_mp4 against ffmpeg's zoompan + libx264 making the same zoom-in clip.

    .venv/bin/python bench/bench_motion.py [--quick] [--repeats N] [--json PATH]

Both sides start from the same 1920x1080 PNG and make the same eased zoom (the motion engine's
"zoom in" path, written as a zoompan expression) at 1280x720, 24 fps, with the same x264 preset and
CRF. Every run is a child process measured alike: wall clock around it, CPU time and peak RSS from
wait4. reelserve's children also report the time of the work itself, after interpreter start-up and
imports, which is what a job costs inside a running server. Medians over the runs are reported.

zoompan crops whole source pixels, so its zooms step and wobble; the motion engine resamples sub-pixel
boxes, which costs more per frame but moves smoothly. The benchmark measures that too (untimed): both
make the same zoom over a bright band, and the band's tracked position should change evenly.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from reelserve.engines.base import GeneratedVideo, GenerationRequest, Segment
from reelserve.engines.motion import MotionEngine
from reelserve.engines.motion.camera import parse_camera_move
from reelserve.engines.motion.path import plan_camera
from reelserve.media.video import DEFAULT_CRF, DEFAULT_PRESET, Yuv420pPlanes, encode_mp4, probe_mp4

PROMPT = "zoom in"
WIDTH, HEIGHT, FPS = 1280, 720, 24
TARGET_WALL_SECONDS = 5.0
TARGET_RATIO = 1.0

FFMPEG = "ffmpeg"
PIPELINE = "pipeline"
MAKE_IMAGE = "make-image"
VARIANT_TITLES = {
    FFMPEG: "ffmpeg zoompan + libx264",
    PIPELINE: "reelserve engine + encode_mp4",
    "render-yuv": "  render only, yuv420p planes",
    "render-rgb": "  render only, RGB frames",
    "encode-yuv": "  encode only, planes in memory",
    "encode-rgb": "  encode only, RGB in memory",
}


@dataclass
class Run:
    wall: float
    cpu: float
    peak_mb: float
    work_wall: float | None = None
    work_cpu: float | None = None


@dataclass
class Variant:
    name: str
    title: str
    runs: list[Run] = field(default_factory=list)
    output_bytes: int | None = None

    def median(self, attribute: str) -> float | None:
        values = [getattr(run, attribute) for run in self.runs if getattr(run, attribute) is not None]
        return statistics.median(values) if values else None


def photo_like_png(path: Path, width: int = 1920, height: int = 1080) -> None:
    """Sky, hills, scattered shapes and sensor-like noise: detail everywhere for the encoder to work on."""
    rng = np.random.default_rng(42)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    sky = np.stack([90 + 60 * y / height, 140 + 50 * y / height, 230 - 40 * y / height], axis=-1)
    horizon = height * (0.55 + 0.08 * np.sin(x / 170) + 0.04 * np.sin(x / 53 + 1))
    ground = np.stack([60 + 40 * np.sin(x / 90) * np.cos(y / 70), 120 + 30 * np.cos(x / 41), 50 + 0 * x], axis=-1)
    image = Image.fromarray(np.clip(np.where((y > horizon)[..., None], ground, sky), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(160):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(6, 60)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((cx - r, cy - r / 2, cx + r, cy + r / 2), fill=colour)
    noisy = np.asarray(image.filter(ImageFilter.GaussianBlur(1.2))).astype(np.float32)
    noisy += rng.normal(0, 5, noisy.shape)
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path)


def zoompan_filter(seconds: float) -> str:
    """The engine's eased lens zoom, z0 * (z1/z0) ^ smoothstep(t), as a zoompan expression."""
    path = plan_camera([(parse_camera_move(PROMPT), seconds)]).paths[0]
    frames = round(seconds * FPS)
    t = f"(on/{max(1, frames - 1)})"
    zoom = f"{path.start.zoom:.6f}*pow({path.end.zoom / path.start.zoom:.6f},3*pow({t},2)-2*pow({t},3))"
    return (
        f"zoompan=z='{zoom}':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)'"
        f":d={frames}:s={WIDTH}x{HEIGHT}:fps={FPS},format=yuv420p"
    )


def ffmpeg_command(ffmpeg: str, image: Path, output: Path, seconds: float, preset: str, crf: int) -> list[str]:
    frames = str(round(seconds * FPS))
    return [
        ffmpeg, "-v", "error", "-y", "-loop", "1", "-i", str(image), "-vf", zoompan_filter(seconds),
        "-frames:v", frames, "-c:v", "libx264", "-preset", preset, "-crf", str(crf), str(output),
    ]  # fmt: skip


def band_png(path: Path, width: int = 1920, height: int = 1080) -> None:
    """A dark picture with one bright vertical band right of centre, for tracking motion."""
    pixels = np.full((height, width, 3), 30, np.uint8)
    pixels[:, int(width * 0.78) : int(width * 0.8)] = 220
    Image.fromarray(pixels).save(path)


def motion_jitter(video: Path) -> float:
    """Mean |second difference| of the band's position on the middle row, px/frame^2: ~0 for smooth motion."""
    positions = []
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            row = frame.to_ndarray(format="gray")[frame.height // 2].astype(np.float64)
            weight = row - np.median(row)  # background to zero, unclipped so filter ringing stays linear
            positions.append(float((weight * np.arange(len(row))).sum() / weight.sum()))
    return float(np.abs(np.diff(positions, 2)).mean())


def measure(command: list[str], scratch: Path) -> tuple[Run, str]:
    """Run a child to completion; wall clock around it, CPU and peak RSS of that child alone (wait4)."""
    out_path, err_path = scratch / "child.out", scratch / "child.err"
    with out_path.open("w") as out, err_path.open("w") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise RuntimeError(f"{' '.join(command[:3])}... exited {child.returncode}:\n{err_path.read_text()[-3000:]}")
    return Run(wall=wall, cpu=usage.ru_utime + usage.ru_stime, peak_mb=usage.ru_maxrss / 1024), out_path.read_text()


# --- children: one measured piece of reelserve work each -------------------------------------------


def child_main(mode: str, image_path: Path, output: Path, seconds: int, preset: str, crf: int) -> None:
    """Does one piece of work and prints its in-process wall and CPU time as JSON."""
    if mode == MAKE_IMAGE:
        photo_like_png(output)
        return
    # A running server starts its engines once, before any job (the motion engine loads OpenCV then): start-up,
    # like the imports, not the work of a job.
    MotionEngine().start()
    started, cpu_started = time.perf_counter(), time.process_time()
    if mode.startswith("encode-"):
        video = _pre_rendered(image_path, seconds, planar=mode == "encode-yuv")
        started, cpu_started = time.perf_counter(), time.process_time()
        encode_mp4(video, output, preset=preset, crf=crf)
    else:
        video = _generate(image_path, seconds)
        if mode == PIPELINE:
            encode_mp4(video, output, preset=preset, crf=crf)
        elif mode == "render-yuv":
            for _ in video.frames.iter_yuv420p():
                pass
        elif mode == "render-rgb":
            for _ in video.frames:
                pass
        else:
            raise SystemExit(f"unknown mode {mode}")
    print(json.dumps({"work_wall": time.perf_counter() - started, "work_cpu": time.process_time() - cpu_started}))


def _generate(image_path: Path, seconds: int) -> GeneratedVideo:
    image = Image.open(image_path).convert("RGB")
    request = GenerationRequest(
        prompt=PROMPT, segments=[Segment(PROMPT, float(seconds))], duration=seconds, aspect_ratio="16:9", image=image
    )
    return MotionEngine().generate(request, lambda fraction: None, lambda: False)


class _PlanesInMemory:
    """Pre-rendered yuv420p planes, handed to encode_mp4 as the motion engine hands them."""

    def __init__(self, planes: list[Yuv420pPlanes]) -> None:
        self.planes = planes

    def __iter__(self) -> Iterator[np.ndarray]:
        raise TypeError("only planes were pre-rendered")

    def iter_yuv420p(self) -> Iterator[Yuv420pPlanes]:
        return iter(self.planes)


def _pre_rendered(image_path: Path, seconds: int, planar: bool) -> GeneratedVideo:
    video = _generate(image_path, seconds)
    video.frames = _PlanesInMemory(list(video.frames.iter_yuv420p())) if planar else list(video.frames)
    return video


# --- parent: run everything, print the table --------------------------------------------------------


def run_benchmark(seconds: int, repeats: int, preset: str, crf: int) -> dict:
    from imageio_ffmpeg import get_ffmpeg_exe

    ffmpeg = get_ffmpeg_exe()
    variants = {name: Variant(name, title) for name, title in VARIANT_TITLES.items()}
    with tempfile.TemporaryDirectory(prefix="bench-motion-") as scratch_name:
        scratch = Path(scratch_name)
        image = scratch / "photo.png"
        # Made in a child: on Linux a child's peak RSS starts from the parent's, so the parent stays small.
        measure([sys.executable, __file__, "--child", MAKE_IMAGE, "--out", str(image)], scratch)
        floor_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        outputs = {FFMPEG: scratch / "ffmpeg.mp4", PIPELINE: scratch / "reelserve.mp4"}
        for _ in range(repeats):
            for name, variant in variants.items():  # interleaved, so background load hits all alike
                output = outputs.get(name, scratch / f"{name}.mp4")
                if name == FFMPEG:
                    run, _ = measure(ffmpeg_command(ffmpeg, image, output, seconds, preset, crf), scratch)
                else:
                    command = [sys.executable, __file__, "--child", name, "--image", str(image), "--out", str(output),
                               "--seconds", str(seconds), "--preset", preset, "--crf", str(crf)]  # fmt: skip
                    run, stdout = measure(command, scratch)
                    work = json.loads(stdout.strip().splitlines()[-1])
                    run.work_wall, run.work_cpu = work["work_wall"], work["work_cpu"]
                variant.runs.append(run)
        jitter = _jitter_of_both(ffmpeg, scratch, seconds, preset, crf)
        checks = {}
        for name, output in outputs.items():
            info = probe_mp4(output)
            variants[name].output_bytes = output.stat().st_size
            checks[name] = asdict(info)
            expected = (WIDTH, HEIGHT, round(seconds * FPS), FPS)
            if (info.width, info.height, info.frame_count, info.fps) != expected:
                raise RuntimeError(f"{name} made {info}, expected {expected}")
    results = _report(variants, checks, seconds, repeats, preset, crf, ffmpeg)
    results["peak_mb_floor"] = floor_mb
    results["motion_jitter_px"] = jitter
    return results


def _jitter_of_both(ffmpeg: str, scratch: Path, seconds: int, preset: str, crf: int) -> dict[str, float]:
    """The same zoom over a bright band, made by both, untimed: how evenly does the band move?"""
    image = scratch / "band.png"
    band_png(image)
    ffmpeg_output, reelserve_output = scratch / "band-ffmpeg.mp4", scratch / "band-reelserve.mp4"
    measure(ffmpeg_command(ffmpeg, image, ffmpeg_output, seconds, preset, crf), scratch)
    command = [sys.executable, __file__, "--child", PIPELINE, "--image", str(image), "--out", str(reelserve_output),
               "--seconds", str(seconds), "--preset", preset, "--crf", str(crf)]  # fmt: skip
    measure(command, scratch)
    return {FFMPEG: motion_jitter(ffmpeg_output), PIPELINE: motion_jitter(reelserve_output)}


def _report(variants: dict[str, Variant], checks: dict, seconds: float, repeats: int, preset: str, crf: int,
            ffmpeg: str) -> dict:  # fmt: skip
    reference = variants[FFMPEG]
    ours = variants[PIPELINE]
    ratios = {
        "work_wall": ours.median("work_wall") / reference.median("wall"),
        "process_wall": ours.median("wall") / reference.median("wall"),
        "cpu": ours.median("cpu") / reference.median("cpu"),
        "peak_memory": ours.median("peak_mb") / reference.median("peak_mb"),
    }
    # The target applies to what a job costs in the running server (work_wall); a fresh Python
    # process additionally pays ~0.3-0.5 s of start-up and imports, shown as process_wall.
    targets = {
        f"wall <= {TARGET_RATIO:.1f}x ffmpeg": ratios["work_wall"] <= TARGET_RATIO,
        f"wall < {TARGET_WALL_SECONDS:.0f} s": ours.median("work_wall") < TARGET_WALL_SECONDS,
    }
    return {
        "clip": {"prompt": PROMPT, "seconds": seconds, "width": WIDTH, "height": HEIGHT, "fps": FPS},
        "encoder": {"preset": preset, "crf": crf},
        "repeats": repeats,
        "cores": os.cpu_count(),
        "ffmpeg": ffmpeg,
        "zoompan": zoompan_filter(seconds),
        "variants": {name: {**asdict(variant), **_medians(variant)} for name, variant in variants.items()},
        "outputs": checks,
        "ratios": ratios,
        "targets": targets,
    }


def _medians(variant: Variant) -> dict[str, float | None]:
    return {f"median_{key}": variant.median(key) for key in ("wall", "cpu", "peak_mb", "work_wall", "work_cpu")}


def print_table(results: dict) -> None:
    clip, encoder = results["clip"], results["encoder"]
    print(
        f"{clip['seconds']:g} s {clip['width']}x{clip['height']} @ {clip['fps']} fps, '{clip['prompt']}', "
        f"x264 preset {encoder['preset']} crf {encoder['crf']}, {results['cores']} cores, "
        f"median of {results['repeats']} run(s)"
    )
    header = f"{'':34} {'process s':>9} {'work s':>7} {'cpu s':>6} {'work cpu':>8} {'peak MB':>8} {'MP4 kB':>7}"
    print(header)
    print("-" * len(header))
    for variant in results["variants"].values():
        size = f"{variant['output_bytes'] / 1000:.0f}" if variant["output_bytes"] else ""
        work = variant["median_work_wall"] if variant["median_work_wall"] is not None else variant["median_wall"]
        work_cpu = variant["median_work_cpu"] if variant["median_work_cpu"] is not None else variant["median_cpu"]
        print(
            f"{variant['title']:34} {variant['median_wall']:9.2f} {work:7.2f} {variant['median_cpu']:6.2f} "
            f"{work_cpu:8.2f} {variant['median_peak_mb']:8.0f} {size:>7}"
        )
    ratios = results["ratios"]
    print(
        f"\nreelserve / ffmpeg: work wall {ratios['work_wall']:.2f}x, process wall {ratios['process_wall']:.2f}x, "
        f"cpu {ratios['cpu']:.2f}x, peak memory {ratios['peak_memory']:.2f}x"
    )
    print("(work = inside a running server, after start-up and imports; ffmpeg's work is its whole process;")
    print(f" peak MB cannot read below the benchmark's own {results['peak_mb_floor']:.0f} MB, which children inherit)")
    jitter = results["motion_jitter_px"]
    print(
        f"motion jitter (mean |2nd difference| of a tracked edge, px/frame^2; 0 = perfectly smooth): "
        f"ffmpeg zoompan {jitter[FFMPEG]:.3f}, reelserve {jitter[PIPELINE]:.3f}"
    )
    for target, passed in results["targets"].items():
        print(f"target reelserve {target}: {'PASS' if passed else 'FAIL'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 1 s clip, one run each (a smoke test)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="clip length (whole seconds, as the API takes)")
    parser.add_argument("--preset", default=DEFAULT_PRESET)
    parser.add_argument("--crf", type=int, default=DEFAULT_CRF)
    parser.add_argument("--json", type=Path, help="also write the results here")
    children = [name for name in VARIANT_TITLES if name != FFMPEG] + [MAKE_IMAGE]
    parser.add_argument("--child", choices=children, help=argparse.SUPPRESS)
    parser.add_argument("--image", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args.child, args.image, args.out, args.seconds, args.preset, args.crf)
        return 0
    seconds, repeats = (1, 1) if args.quick else (args.seconds, args.repeats)
    results = run_benchmark(seconds, repeats, args.preset, args.crf)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
