"""The embedded synthetic benchmark: actor kind x motion, written as a UCF101-format dataset.

Class = actor kind (disc, square, star, triangle, cross: visible in any single frame) x motion (left/right,
up/down, toward/away, cw/ccw: visible only across frames). An RGB network has to learn motion to get the
direction right; a flow network sees it directly. docs/synthetic.md describes the generative process.

Guarantees, each by construction and each tested (tests/test_synthetic.py):

* **No static shortcut.** Every static attribute has the same distribution over frames for all motions of a
  kind. A video's per-frame actor state is ``mid + offset_t`` for x, y, log-radius and angle. A motion that
  moves an attribute uses ``offset_t = velocity * (t - (T-1)/2)``; every other motion draws a *static* offset
  from exactly the distribution of that term at a uniformly random frame (random speed, sign and frame).
  Offsets are independent across attributes, so the joint per-frame distribution is one product of the same
  marginals for every motion: one frame reveals neither the direction nor which pair a motion belongs to.
  Angles are uniform on the circle. Appearance, background and distractors never depend on the motion.
* **Time symmetry.** Velocities are symmetric around the mid frame, pair members draw speeds from one
  distribution with opposite signs, distractors oscillate with uniform phase over a whole number of cycles
  and the camera pans at constant velocity in a uniform direction. Reversing the frames of a sample of class
  ``c`` therefore gives a sample of ``pair(c)`` with the same probability.
* **Determinism.** Video ``(class, group, clip)`` is drawn from ``SeedSequence([seed, crc32(class), group,
  clip])`` and its background from ``(seed, group, class, clip)``: the bytes do not depend on worker count or order.

Motion magnitudes follow the prototype of notes/feasibility.md (1.6-2.4 px/frame at 112 px, a size ratio of
1.8-2.3 over 16 frames, 6.5-10 deg/frame), scaled with the frame size and capped so the travel of a video longer
than 24 frames stays that of a 24-frame one.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from attdistill.config import MOTION_PAIRS, SyntheticConfig
from attdistill.data import boxes as B
from attdistill.data.index import VideoIndex, permutation_from_names
from attdistill.data.ucf101 import parse_ucf101, write_ucf101_lists

GENERATOR_VERSION = 2                   # 2: placement (whole-frame trajectories), partial boxes

KIND_NAMES = {"disc": "Disc", "square": "Square", "star": "Star", "triangle": "Triangle", "cross": "Cross"}
MOTION_NAMES = {"left": "Left", "right": "Right", "up": "Up", "down": "Down", "toward": "Toward", "away": "Away",
                "cw": "Clockwise", "ccw": "CounterClockwise"}
# Horizontal flip: left<->right and cw<->ccw swap; up/down and toward/away are unchanged.
FLIP_MOTIONS = {"left": "right", "right": "left", "cw": "ccw", "ccw": "cw"}
# Which actor attribute a motion changes, and the sign of its rate (image coordinates: x right, y down,
# angle clockwise on screen, log-radius growing = approaching).
MOTION_AXIS = {"left": ("x", -1), "right": ("x", 1), "up": ("y", -1), "down": ("y", 1),
               "toward": ("logr", 1), "away": ("logr", -1), "cw": ("angle", 1), "ccw": ("angle", -1)}
AXES = ("x", "y", "logr", "angle")
DISTRACTOR_SHAPES = ("ring", "bar")     # shape families no actor kind uses

# Magnitudes, in units of the reference frame side (feasibility prototype: 112 px, 16 frames).
REF_SIDE = 112.0
REF_INTERVALS = 23                      # length (frame intervals) beyond which rates shrink to keep travel fixed
SPEED_PX = (1.6, 2.4)                   # translation, px/frame at 112 px
SCALE_RATE = (0.04, 0.056)              # d log(radius) / frame (ratio 1.8-2.3 over 16 frames, as the prototype)
ROT_DEG = (6.5, 10.0)                   # rotation, deg/frame
ACTOR_RADIUS = (0.10, 0.13)             # radius parameter as a fraction of the short side
POSITION_MARGIN = 1.3                   # placement central: keep the mid-point this many max-radii from the limits
MIN_VISIBLE = 0.25                      # a frame has a ground-truth box when this share of the actor is in view
DISTRACTOR_PERIOD = (4.0, 8.0)          # oscillation period in frames (a whole number of cycles per video)
DISTRACTOR_SPEED = (0.8, 1.4)           # peak speed as a fraction of the actor's mean rate, times difficulty
TEXTURE = 48                            # texels of an object's texture (covers local [-1.1, 1.1]^2)


# --------------------------------------------------------------------------------------------- classes
@dataclass(frozen=True)
class SyntheticClass:
    name: str        # CamelCase, no underscores (DiscLeft)
    kind: str        # actor kind (disc, ...)
    motion: str      # motion (left, ...)
    pair: str        # class whose motion is the time reverse (DiscRight)
    flip: str        # class after a horizontal flip (DiscRight; DiscToward -> DiscToward)


def class_name(kind: str, motion: str) -> str:
    return KIND_NAMES[kind] + MOTION_NAMES[motion]


def class_table(cfg: SyntheticConfig) -> list[SyntheticClass]:
    """The classes in label order: kinds outer, motions inner, both in config order."""
    return [SyntheticClass(class_name(k, m), k, m, pair=class_name(k, MOTION_PAIRS[m]),
                           flip=class_name(k, FLIP_MOTIONS.get(m, m)))
            for k in cfg.kinds for m in cfg.motions]


def video_name(cls: str, group: int, clip: int) -> str:
    """``DiscLeft/v_DiscLeft_g03_c01`` (UCF101 naming; groups and clips are 1-based)."""
    return f"{cls}/v_{cls}_g{group:02d}_c{clip:02d}"


def video_slots(cfg: SyntheticConfig) -> list[tuple[int, int]]:
    """(group, clip) of the videos of one class: video i goes to group i % groups + 1, clip i // groups + 1."""
    return [(i % cfg.groups + 1, i // cfg.groups + 1) for i in range(cfg.videos_per_class)]


# --------------------------------------------------------------------------------------------- geometry
def _ellipse(rx: float, ry: float, n: int = 48) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([rx * np.cos(a), ry * np.sin(a)], 1)


def _regular(n: int, radius: float, phase: float = -np.pi / 2) -> np.ndarray:
    a = phase + np.arange(n) * 2 * np.pi / n
    return np.stack([radius * np.cos(a), radius * np.sin(a)], 1)


def _star(points: int = 5, outer: float = 1.0, inner: float = 0.45) -> np.ndarray:
    a = -np.pi / 2 + np.arange(2 * points) * np.pi / points
    r = np.where(np.arange(2 * points) % 2 == 0, outer, inner)
    return np.stack([r * np.cos(a), r * np.sin(a)], 1)


def _cross(arm: float = 0.95, half_width: float = 0.3) -> np.ndarray:
    a, w = arm, half_width
    return np.array([(w, -a), (w, -w), (a, -w), (a, w), (w, w), (w, a),
                     (-w, a), (-w, w), (-a, w), (-a, -w), (-w, -w), (-w, -a)], float)


# Outline polygons in local units (the object's radius parameter = 1); a second polygon is a hole.
SHAPES: dict[str, tuple[np.ndarray, ...]] = {
    "disc": (_ellipse(0.85, 0.85),),
    "square": (np.array([(-0.75, -0.75), (0.75, -0.75), (0.75, 0.75), (-0.75, 0.75)]),),
    "triangle": (_regular(3, 1.0),),
    "star": (_star(),),
    "cross": (_cross(),),
    "ring": (_ellipse(0.9, 0.9), _ellipse(0.5, 0.5)),      # distractor
    "bar": (_ellipse(1.0, 0.42),),                         # distractor
}


def _transform(poly: np.ndarray, x: float, y: float, r: float, angle: float) -> np.ndarray:
    """Local outline -> image pixel coordinates (rotation clockwise on screen by ``angle`` radians)."""
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]]) * r
    return poly @ rot.T + np.array([x, y])


# --------------------------------------------------------------------------------------------- scene spec
@dataclass
class ObjectSpec:
    """One textured object; per-frame state arrays have shape (T,)."""
    shape: str
    color: tuple[float, float, float]            # RGB 0..255 before texture
    texture: np.ndarray                          # (TEXTURE, TEXTURE) float32 brightness factor (stripe included)
    x: np.ndarray                                # world centre x per frame (px)
    y: np.ndarray
    radius: np.ndarray                           # radius parameter per frame (px)
    angle: np.ndarray                            # radians, clockwise on screen


@dataclass
class VideoSpec:
    """Everything needed to render one video; ``sample_video`` draws it, ``render_video`` draws pixels."""
    name: str                                    # video id, e.g. DiscLeft/v_DiscLeft_g03_c01
    width: int
    height: int
    frames: int
    background: np.ndarray                       # (H + 2P, W + 2P, 3) float32 RGB group canvas
    offset: tuple[float, float]                  # canvas coordinate of the frame's top-left at zero pan
    brightness: float
    camera: np.ndarray                           # (T, 2) camera pan per frame (px); image = world - camera
    objects: list[ObjectSpec] = field(default_factory=list)   # in depth order (back to front)
    actor: int = 0                               # position of the actor in ``objects``


@dataclass(frozen=True)
class Ranges:
    """The magnitudes of a config (documented in synthetic.json)."""
    speed: tuple[float, float]                   # px/frame
    scale_rate: tuple[float, float]              # d log r / frame
    rot_rate: tuple[float, float]                # rad / frame
    radius: tuple[float, float]                  # px, mid-video radius parameter
    half_travel: dict[str, float]                # max |offset| per axis over the video (0 for axes no motion uses)
    position: tuple[float, float]                # max |mid - centre| in x and y (px)
    camera_half: float                           # max camera offset from the mid frame (px)
    distractors: int
    contrast: float
    background_pad: int
    jitter: int


def ranges(cfg: SyntheticConfig) -> Ranges:
    side = float(min(cfg.width, cfg.height))
    intervals = cfg.frames - 1
    length = min(1.0, REF_INTERVALS / intervals)
    speed = (SPEED_PX[0] * side / REF_SIDE * length, SPEED_PX[1] * side / REF_SIDE * length)
    scale = (SCALE_RATE[0] * length, SCALE_RATE[1] * length)
    rot = (math.radians(ROT_DEG[0]), math.radians(ROT_DEG[1]))
    radius = (ACTOR_RADIUS[0] * side * cfg.actor_scale, ACTOR_RADIUS[1] * side * cfg.actor_scale)
    used = {MOTION_AXIS[m][0] for m in cfg.motions}
    hi = {"x": speed[1], "y": speed[1], "logr": scale[1], "angle": rot[1]}
    half = {a: (hi[a] * intervals / 2 if a in used else 0.0) for a in AXES}
    cam_half = cfg.camera_motion * intervals / 2
    if cfg.placement == "central":
        # the actor stays whole inside the frame over the whole video: box centres crowd the middle
        margin = POSITION_MARGIN * radius[1]
        pos = (max(0.0, cfg.width / 2 - half["x"] - cam_half - margin),
               max(0.0, cfg.height / 2 - half["y"] - cam_half - margin))
    else:
        # whole-frame: the mid-video position is anywhere the actor is whole inside the frame; along the way it may
        # leave the frame in part or in full, as actors do (frames where it is gone have no box)
        pos = (max(0.0, cfg.width / 2 - radius[1]), max(0.0, cfg.height / 2 - radius[1]))
    jitter = int(round(0.08 * side))
    pad = int(math.ceil(cam_half)) + jitter + 2
    return Ranges(speed, scale, rot, radius, half, pos, cam_half, int(round(cfg.distractors * cfg.difficulty)),
                  float(np.clip(1.25 - 0.25 * cfg.difficulty, 0.3, 1.0)), pad, jitter)


def _seed(*keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in keys]))


def _crc(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Gaussian-blurred white noise, rescaled to unit std (float32)."""
    n = rng.standard_normal(shape).astype(np.float32)
    n = cv2.GaussianBlur(n, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    if n.ndim == 2 and len(shape) == 3:
        n = n[..., None]
    return n / max(float(n.std()), 1e-6)


def _hsv_color(h: float, s: float, v: float) -> tuple[float, float, float]:
    hsv = np.array([[[h * 360.0, s, v]]], np.float32)             # float HSV: H in degrees, S and V in [0, 1]
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0] * 255.0
    return tuple(float(c) for c in rgb)


def group_background(cfg: SyntheticConfig, seed: int, group: int, video: int = 0) -> np.ndarray:
    """A background canvas (H + 2P, W + 2P, 3) float32 RGB: low-frequency gradients + blurred noise.

    Drawn per video (``video`` = a class-independent key such as the clip number mixed with the class), from
    the same distribution for every class, so it carries no class information. A background per *group*
    (every class of a group on one scene, like UCF101) left the default split with only 3 training scenes,
    and models learned those scenes instead of the actor: test accuracy collapsed to chance.
    """
    rg = ranges(cfg)
    rng = _seed(seed, 0x5CE7E, group, video)
    h, w = cfg.height + 2 * rg.background_pad, cfg.width + 2 * rg.background_pad
    side = min(cfg.width, cfg.height)
    base = np.array(_hsv_color(rng.uniform(0, 1), rng.uniform(0.15, 0.5), rng.uniform(0.35, 0.65)), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.broadcast_to(base, (h, w, 3)).copy()
    for c in range(3):                                                   # linear ramps per channel
        gx, gy = rng.uniform(-25, 25, size=2)
        img[..., c] += gx * (xx / w - 0.5) + gy * (yy / h - 0.5)
    for _ in range(2):                                                   # low-frequency waves
        period = rng.uniform(1.2, 3.0) * side
        theta, phase = rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi)
        amp = rng.uniform(6, 16, size=3).astype(np.float32)
        wave = np.cos(2 * np.pi * (np.cos(theta) * xx + np.sin(theta) * yy) / period + phase)
        img += wave[..., None] * amp
    fine = _smooth_noise(rng, (h, w), 0.035 * side)[..., None] * rng.uniform(10, 18)
    coarse = _smooth_noise(rng, (h, w, 3), 0.1 * side) * rng.uniform(8, 14)
    img += fine + coarse
    return np.clip(img, 0, 255).astype(np.float32)


def _texture(rng: np.random.Generator, stripe: bool = True) -> np.ndarray:
    """(TEXTURE, TEXTURE) brightness factor in local coordinates: blurred noise and a 'clock hand' stripe.

    The stripe runs from the centre to the right edge (local +u), so rotation and its direction are visible
    even on a disc.
    """
    n = TEXTURE
    tex = 1.0 + rng.uniform(0.15, 0.3) * _smooth_noise(rng, (n, n), rng.uniform(2.0, 4.0))
    if stripe:
        q = (np.arange(n, dtype=np.float32) - (n - 1) / 2) / ((n - 1) / 2) * 1.1
        v, u = np.meshgrid(q, q, indexing="ij")
        hand = (np.abs(v) < rng.uniform(0.12, 0.18)) & (u > -0.05)
        tex = np.where(hand, tex * rng.uniform(0.3, 0.45), tex)
    return cv2.GaussianBlur(tex.astype(np.float32), (0, 0), 0.8)


def _object_color(rng: np.random.Generator, family: tuple[int, int] | None = None) -> tuple[float, float, float]:
    """A saturated colour; with ``family = (k, n)`` its hue lies in the k-th of n hue families.

    An actor kind owns a hue family (half of its 1/n sector of the hue circle): colour still varies within a kind,
    but together with the shape it makes the kind learnable from a few hundred SGD steps, as real actors are
    recognisable by appearance. Distractors draw from the whole circle, so colour alone never says which
    object is the actor or which way it moves.
    """
    u = rng.uniform(0, 1)
    hue = u if family is None else (family[0] + 0.5 * u) / family[1]
    return _hsv_color(hue, rng.uniform(0.45, 0.9), rng.uniform(0.6, 0.95))


def _oscillation(rng: np.random.Generator, tau: np.ndarray, peak_rate: float, intervals: int) -> np.ndarray:
    """A sinusoid with a whole number of cycles over the video (zero net change) and uniform phase."""
    ks = [k for k in range(1, intervals + 1) if DISTRACTOR_PERIOD[0] <= intervals / k <= DISTRACTOR_PERIOD[1]] or [1]
    k = int(rng.choice(ks))
    omega = 2 * np.pi * k / intervals
    phase = rng.uniform(0, 2 * np.pi)
    return (peak_rate / omega) * np.sin(omega * tau + phase)


def sample_video(cfg: SyntheticConfig, seed: int, cls: SyntheticClass, group: int, clip: int,
                 background: np.ndarray | None = None) -> VideoSpec:
    """Draw the parameters of video ``(cls, group, clip)`` (deterministic in those and ``seed``)."""
    rg = ranges(cfg)
    T, W, H = cfg.frames, cfg.width, cfg.height
    intervals = T - 1
    tau = np.arange(T, dtype=np.float64) - intervals / 2              # frame time around the mid frame
    rng = _seed(seed, _crc(cls.name), group, clip)
    if background is None:
        background = group_background(cfg, seed, group, _crc(cls.name) * 1009 + clip)

    # ---- actor: static mid state; then one offset per axis, drawn the same way for every motion
    r0 = rng.uniform(*rg.radius)
    mid = {"x": W / 2 + rng.uniform(-rg.position[0], rg.position[0]),
           "y": H / 2 + rng.uniform(-rg.position[1], rg.position[1]),
           "logr": math.log(r0),
           "angle": rng.uniform(0, 2 * np.pi)}
    rate_range = {"x": rg.speed, "y": rg.speed, "logr": rg.scale_rate, "angle": rg.rot_rate}
    moving_axis, moving_sign = MOTION_AXIS[cls.motion]
    state = {}
    for axis in AXES:
        rate = rng.uniform(*rate_range[axis])        # always drawn: the random stream is the same for all motions
        sign = 1.0 if rng.uniform() < 0.5 else -1.0
        frame = int(rng.integers(0, T))
        if axis == moving_axis:
            state[axis] = mid[axis] + moving_sign * rate * tau
        elif rg.half_travel[axis] > 0 and axis != "angle":
            # static offset ~ the moving term at a uniformly random frame (matches per-frame marginals)
            state[axis] = np.full(T, mid[axis] + sign * rate * tau[frame])
        else:
            state[axis] = np.full(T, mid[axis])
    hue_family = (cfg.kinds.index(cls.kind), len(cfg.kinds))
    actor = ObjectSpec(cls.kind, _object_color(rng, hue_family), _texture(rng), state["x"], state["y"],
                       np.exp(state["logr"]), state["angle"])

    # ---- appearance jitter and camera (class-independent)
    bg_offset = (float(rg.background_pad - rg.jitter + rng.uniform(0, 2 * rg.jitter)),
                 float(rg.background_pad - rg.jitter + rng.uniform(0, 2 * rg.jitter)))
    brightness = rng.uniform(-10, 10)
    pan = rng.uniform(0, 2 * np.pi)
    camera = cfg.camera_motion * np.stack([np.cos(pan) * tau, np.sin(pan) * tau], 1)

    # ---- distractors: other shape families, actor-like colours/sizes/textures, zero-net oscillations
    mean_speed = sum(rg.speed) / 2
    mean_scale = sum(rg.scale_rate) / 2
    mean_rot = sum(rg.rot_rate) / 2
    side = min(W, H)
    objects = [actor]
    for _ in range(rg.distractors):
        shape = DISTRACTOR_SHAPES[int(rng.integers(0, len(DISTRACTOR_SHAPES)))]
        if rng.uniform() < 0.5:                                        # near the actor's hue, or any hue
            h, s, v = cv2.cvtColor(np.array([[actor.color]], np.float32) / 255.0, cv2.COLOR_RGB2HSV)[0, 0]
            color = _hsv_color((h / 360.0 + rng.uniform(-0.08, 0.08)) % 1.0, rng.uniform(0.45, 0.9),
                               rng.uniform(0.6, 0.95))
        else:
            color = _object_color(rng)
        radius = rng.uniform(*rg.radius) * math.exp(rng.uniform(-1, 1) * max(rg.half_travel["logr"], 0.2))
        cx = rng.uniform(0.12 * side, W - 0.12 * side)
        cy = rng.uniform(0.12 * side, H - 0.12 * side)
        direction = rng.uniform(0, 2 * np.pi)
        k = cfg.difficulty
        swing = _oscillation(rng, tau, rng.uniform(*DISTRACTOR_SPEED) * mean_speed * k, intervals)
        log_wobble = _oscillation(rng, tau, rng.uniform(*DISTRACTOR_SPEED) * mean_scale * k, intervals)
        turn = _oscillation(rng, tau, rng.uniform(*DISTRACTOR_SPEED) * mean_rot * k, intervals)
        objects.append(ObjectSpec(shape, color, _texture(rng), cx + math.cos(direction) * swing,
                                  cy + math.sin(direction) * swing, radius * np.exp(log_wobble),
                                  rng.uniform(0, 2 * np.pi) + turn))
    order = rng.permutation(len(objects))
    objects = [objects[i] for i in order]
    return VideoSpec(video_name(cls.name, group, clip), W, H, T, background, bg_offset, brightness, camera,
                     objects, int(np.flatnonzero(order == 0)[0]))


# --------------------------------------------------------------------------------------------- rendering
SUPERSAMPLE = 4                         # coverage of an outline = fraction of SUPERSAMPLE^2 sub-pixels inside


def _draw(frame: np.ndarray, obj: ObjectSpec, t: int, dx: float, dy: float, contrast: float,
          mean_bg: np.ndarray) -> None:
    """Composite object ``obj`` at frame ``t`` onto ``frame`` (H, W, 3) float32 in place.

    Coordinates follow the boxes schema: pixel ``i`` covers ``[i, i + 1)``. The alpha of a pixel is the exact
    area coverage of the outline, measured on a SUPERSAMPLE x SUPERSAMPLE grid (edges are anti-aliased and
    sub-pixel motion is smooth, which optical flow needs).
    """
    H, W = frame.shape[:2]
    x, y, r, a = obj.x[t] - dx, obj.y[t] - dy, obj.radius[t], obj.angle[t]
    polys = [_transform(p, x, y, r, a) for p in SHAPES[obj.shape]]
    x0, y0 = (max(int(v), 0) for v in np.floor(polys[0].min(0)) - 1)
    x1, y1 = (min(int(v), lim) for v, lim in zip(np.ceil(polys[0].max(0)) + 1, (W, H)))
    if x1 <= x0 or y1 <= y0:
        return
    ww, wh = x1 - x0, y1 - y0
    ss = SUPERSAMPLE
    fine = np.zeros((wh * ss, ww * ss), np.uint8)
    for i, p in enumerate(polys):                       # sub-pixel centres at integers: X = ss * (x - x0) - 0.5
        pts = np.round(((p - [x0, y0]) * ss - 0.5) * 16).astype(np.int32)
        cv2.fillPoly(fine, [pts], 255 if i == 0 else 0, lineType=cv2.LINE_8, shift=4)
    alpha = cv2.resize(fine.astype(np.float32), (ww, wh), interpolation=cv2.INTER_AREA)[..., None] / 255.0
    # texel q -> local u = (q - c) / c * 1.1 -> image = centre + r R(a) u; pixel i's centre is at x0 + i + 0.5
    c = (TEXTURE - 1) / 2
    k = 1.1 * r / c
    ca, sa = math.cos(a), math.sin(a)
    M = np.array([[k * ca, -k * sa, 0.0], [k * sa, k * ca, 0.0]])
    M[:, 2] = np.array([x - x0 - 0.5, y - y0 - 0.5]) - M[:, :2] @ np.array([c, c])
    shade = cv2.warpAffine(obj.texture, M, (ww, wh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    color = mean_bg + contrast * (np.asarray(obj.color, np.float32) - mean_bg)
    fg = shade[..., None] * color
    win = frame[y0:y1, x0:x1]
    win += alpha * (fg - win)


def actor_box(spec: VideoSpec, t: int, clip: bool = True) -> B.Box:
    """The actor's box at frame ``t`` in image pixels (from its outline), clipped to the frame unless ``clip=False``."""
    obj = spec.objects[spec.actor]
    dx, dy = spec.camera[t]
    p = _transform(SHAPES[obj.shape][0], obj.x[t] - dx, obj.y[t] - dy, obj.radius[t], obj.angle[t])
    (x1, y1), (x2, y2) = p.min(0), p.max(0)
    if clip:
        x1, x2 = np.clip([x1, x2], 0.0, spec.width)
        y1, y2 = np.clip([y1, y2], 0.0, spec.height)
    return (float(x1), float(y1), float(x2), float(y2))


def background_frame(spec: VideoSpec, t: int) -> np.ndarray:
    """The background of frame ``t`` (H, W, 3) float32: the group canvas seen through the (panning) camera."""
    H, W = spec.height, spec.width
    ox, oy = spec.offset
    dx, dy = spec.camera[t]
    if not np.any(spec.camera):
        iy, ix = int(round(oy)), int(round(ox))
        return spec.background[iy:iy + H, ix:ix + W] + np.float32(spec.brightness)
    M = np.array([[1.0, 0.0, ox + dx], [0.0, 1.0, oy + dy]])            # frame pixel -> canvas pixel
    return cv2.warpAffine(spec.background, M, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT) + np.float32(spec.brightness)


def render_video(spec: VideoSpec, cfg: SyntheticConfig) -> tuple[np.ndarray, list[B.Box]]:
    """Pixels (T, H, W, 3) uint8 RGB and the actor's per-frame boxes."""
    rg = ranges(cfg)
    H, W, T = spec.height, spec.width, spec.frames
    mean_bg = spec.background.reshape(-1, 3).mean(0) + np.float32(spec.brightness)
    still = None if np.any(spec.camera) else background_frame(spec, 0)
    out = np.empty((T, H, W, 3), np.uint8)
    boxes = []
    for t in range(T):
        frame = still.copy() if still is not None else background_frame(spec, t)
        dx, dy = spec.camera[t]
        for obj in spec.objects:
            _draw(frame, obj, t, dx, dy, rg.contrast, mean_bg)
        np.clip(frame, 0, 255, out=frame)
        out[t] = (frame + 0.5).astype(np.uint8)
        boxes.append(actor_box(spec, t))
    return out, boxes


# --------------------------------------------------------------------------------------------- video I/O
def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float, codec: str) -> None:
    """Write (T, H, W, 3) uint8 RGB frames with cv2.VideoWriter and check decord reads them back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    T, H, W = frames.shape[:3]
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*codec), float(fps), (W, H))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: cv2.VideoWriter cannot open codec {codec!r} (try XVID or MJPG)")
    for f in frames:
        writer.write(np.ascontiguousarray(f[..., ::-1]))
    writer.release()
    check_video(path, T, W, H)


def check_video(path: str | os.PathLike, frames: int, width: int, height: int) -> None:
    """Fail loudly unless decord (the frames stage's reader) sees ``frames`` frames of ``width`` x ``height``."""
    import decord

    try:
        vr = decord.VideoReader(str(path), num_threads=1)
        n, shape = len(vr), vr[0].shape
    except Exception as exc:  # decord raises its own DECORDError
        raise RuntimeError(f"{path}: decord cannot read the written video: {exc}") from exc
    if n != frames or tuple(shape[:2]) != (height, width):
        raise RuntimeError(f"{path}: decord reads {n} frames of {shape[1]}x{shape[0]}, "
                           f"expected {frames} of {width}x{height}; try another codec")


# --------------------------------------------------------------------------------------------- dataset
def _make_one(args: tuple) -> tuple[str, B.VideoBoxes]:
    cfg, seed, cls, label, group, clip, videos_dir = args
    spec = sample_video(cfg, seed, cls, group, clip)
    frames, boxes = render_video(spec, cfg)
    write_video(Path(videos_dir) / f"{spec.name}.avi", frames, cfg.fps, cfg.codec)
    seen = [t for t in range(cfg.frames) if visible_fraction(spec, t) >= MIN_VISIBLE]
    return spec.name, B.VideoBoxes(cfg.width, cfg.height, float(cfg.fps), cfg.frames,
                                   [B.Tube(label, seen, [boxes[t] for t in seen])])


def visible_fraction(spec: VideoSpec, t: int) -> float:
    """The share of the actor's (unclipped) box that lies inside the frame at frame ``t``."""
    x1, y1, x2, y2 = actor_box(spec, t, clip=False)
    cx1, cy1, cx2, cy2 = actor_box(spec, t, clip=True)
    full = max(x2 - x1, 1e-9) * max(y2 - y1, 1e-9)
    return max(0.0, cx2 - cx1) * max(0.0, cy2 - cy1) / full


def _init_worker() -> None:
    cv2.setNumThreads(1)                # one process per core; no nested OpenCV threads


def metadata(cfg: SyntheticConfig, seed: int) -> dict:
    """The content of synthetic.json: parameters, seed, classes with their pair and flip partners."""
    rg = ranges(cfg)
    return {
        "generator": "attdistill.data.synthetic",
        "version": GENERATOR_VERSION,
        "seed": seed,
        # actor_scale is left out at 1.0, so that the files of benchmarks made before the knob keep their bytes
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()
                   if not (k == "actor_scale" and v == 1.0)},
        "classes": [{"label": i, **asdict(c)} for i, c in enumerate(class_table(cfg))],
        "test_groups": [f"g{g:02d}" for g in range(1, cfg.test_groups + 1)],
        "train_groups": [f"g{g:02d}" for g in range(cfg.test_groups + 1, cfg.groups + 1)],
        "magnitudes": {
            "speed_px_per_frame": [round(v, 4) for v in rg.speed],
            "scale_log_per_frame": [round(v, 4) for v in rg.scale_rate],
            "rotation_deg_per_frame": [round(math.degrees(v), 3) for v in rg.rot_rate],
            "actor_radius_px": [round(v, 3) for v in rg.radius],
            "half_travel": {k: round(v, 4) for k, v in rg.half_travel.items()},
            "distractors": rg.distractors,
            "contrast": rg.contrast,
            "camera_px_per_frame": cfg.camera_motion,
        },
    }


def generate(cfg: SyntheticConfig, seed: int, out_dir: str | os.PathLike, workers: int = 1) -> None:
    """Write the benchmark to ``out_dir`` in UCF101's layout (videos/, classInd.txt, trainlist01.txt,
    testlist01.txt) plus boxes.json and synthetic.json. Same ``seed`` -> byte-identical files.

    synthetic.json is written last (it marks a complete benchmark). An existing ``out_dir/videos`` is replaced
    only if it is ours: ``out_dir`` holds synthetic.json, or synthetic.json.partial from an interrupted run.
    With ``workers > 1`` the videos are made by spawned processes, so a calling script needs the usual
    ``if __name__ == "__main__":`` guard.
    """
    cfg.validate("synthetic")
    out = Path(out_dir)
    videos_dir = out / "videos"
    done, partial = out / "synthetic.json", out / "synthetic.json.partial"
    if videos_dir.exists():
        if not (done.exists() or partial.exists()):
            raise FileExistsError(f"{videos_dir} exists and is not a previous synthetic benchmark; remove it first")
        shutil.rmtree(videos_dir)
    done.unlink(missing_ok=True)
    videos_dir.mkdir(parents=True)
    partial.write_text(json.dumps(metadata(cfg, seed), indent=1))

    table = class_table(cfg)
    jobs = [(cfg, seed, c, label, g, k, str(videos_dir))
            for label, c in enumerate(table) for g, k in video_slots(cfg)]
    if workers <= 1:
        results = [_make_one(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                 initializer=_init_worker) as pool:
            results = list(pool.map(_make_one, jobs, chunksize=max(1, len(jobs) // (workers * 8))))

    boxes = dict(results)
    train, test = [], []
    for label, c in enumerate(table):
        for g, k in video_slots(cfg):
            rel = f"{video_name(c.name, g, k)}.avi"
            if g <= cfg.test_groups:
                test.append(rel)
            else:
                train.append((rel, label))
    write_ucf101_lists(out, [c.name for c in table], train, test, split=1)
    B.save(boxes, out / "boxes.json")
    os.replace(partial, done)


def build_index(out_dir: str | os.PathLike, cfg: SyntheticConfig) -> VideoIndex:
    """Parse a generated benchmark through the UCF101 parser and add flip/reverse maps and the boxes path.

    ``root`` and ``boxes`` are ``out_dir``-based paths as given (relative stays relative).
    """
    meta_path = Path(out_dir) / "synthetic.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{meta_path}: not found; run generate() first (or the generation was interrupted)")
    meta = json.loads(meta_path.read_text())
    expected = metadata(cfg, meta.get("seed", 0))
    if meta.get("config") != expected["config"] or meta.get("version") != GENERATOR_VERSION:
        raise ValueError(f"{meta_path}: written with other synthetic parameters than the given config; regenerate")
    table = class_table(cfg)
    videos_dir = os.path.join(os.fspath(out_dir), "videos")
    index = parse_ucf101(out_dir, videos_dir, split=1, dataset="synthetic", flip_invariant=False)
    names = [c.name for c in table]
    if index.classes != names:
        raise ValueError(f"{out_dir}: classInd.txt lists {index.classes}, the config gives {names}")
    index.flip_map = permutation_from_names(names, {c.name: c.flip for c in table})
    index.reverse_map = permutation_from_names(names, {c.name: c.pair for c in table})
    index.metric = "mean_class"
    index.boxes = os.path.join(os.fspath(out_dir), "boxes.json")
    index.meta = {"seed": meta["seed"], "kinds": list(cfg.kinds), "motions": list(cfg.motions),
                  "class_kind": [c.kind for c in table], "class_motion": [c.motion for c in table]}
    index.validate()
    return index
