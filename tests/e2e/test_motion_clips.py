"""The broad motion clips' geometry (scripts/motion_clips.py, issue 35), without OBS: the truth of a moved
person is exact only if the picture is sampled through the true inverse of the motion, and a clip's speed
must be what it claims."""
from __future__ import annotations

import math

import numpy as np
import pytest

import obs_harness  # noqa: F401  (puts scripts/ on sys.path)
import motion_clips as mc

PERSON = mc.Cutout("composites_dev", "c0015", "Wood.jpg")
BOX = (440, 216, 400, 504)  # x0, y0, width, height of a person standing at the bottom of the frame


def person_points() -> np.ndarray:
    x0, y0, pw, ph = BOX
    ys, xs = np.mgrid[y0:y0 + ph:4, x0:x0 + pw:4]
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)


@pytest.mark.parametrize("motion", mc.MOTIONS)
def test_every_motion_samples_through_its_true_inverse(motion: str) -> None:
    move = mc.Move(PERSON, motion, move_s=mc.MOTION_SECONDS.get(motion, 2.0))
    points = person_points()
    warp = move._warp(*BOX, points)
    for t in (0.25, 0.5, 1.0):
        back = warp(warp(points, t, forward=True), t, forward=False)
        assert np.abs(back - points).max() < 0.05, f"{motion} at {t}: off by {np.abs(back - points).max():.3f} px"


@pytest.mark.parametrize("motion", mc.MOTIONS)
def test_the_fastest_point_moves_at_the_peak_speed(motion: str) -> None:
    move = mc.Move(PERSON, motion, move_s=mc.MOTION_SECONDS.get(motion, 2.0))
    points = person_points()
    warp = move._warp(*BOX, points)
    tracks = np.stack([warp(points, t, forward=True) for t in move.amounts()])
    speed = np.linalg.norm(np.diff(tracks, axis=0), axis=2).max()
    assert 0.95 * move.peak <= speed <= 1.02 * move.peak, f"{motion}: fastest point {speed:.2f} px per frame"


def test_the_arm_moves_alone() -> None:
    """Only the arm's side moves: the far side of the body stays where it was."""
    move = mc.Move(PERSON, "arm", move_s=mc.MOTION_SECONDS["arm"])
    points = person_points()
    warp = move._warp(*BOX, points)
    moved = np.linalg.norm(warp(points, 1.0, forward=True) - points, axis=1)
    x0, _, pw, _ = BOX
    far_side = points[:, 0] < x0 + 0.3 * pw
    assert moved[far_side].max() < 0.05 * moved.max(), moved[far_side].max()
    assert moved.max() > 20


def test_the_broad_set_holds_every_motion_for_tuned_and_held_out_people_and_neighbours_differ() -> None:
    names = mc.clip_names("broad")
    assert set(mc.clip_names("broad-tuned")).isdisjoint(mc.clip_names("broad-held-out"))
    assert sorted(mc.clip_names("broad-tuned") + mc.clip_names("broad-held-out")) == sorted(names)
    for motion in mc.MOTIONS:
        assert sum(n.startswith(motion + "-") for n in mc.clip_names("broad-held-out")) == len(mc.HELD_OUT)
    tags = [mc.CLIPS[n].tag for n in names]
    assert all(a != b for a, b in zip(tags, tags[1:])), tags
    assert len({p.dataset for p in {**mc.TUNED, **mc.HELD_OUT}.values()}) == 4


def test_a_moved_frame_keeps_the_person_whole() -> None:
    """The farthest frame of a turn: the truth is one piece of about the person's area, and the picture's
    person pixels are where the truth says (the edge aside)."""
    move = mc.Move(PERSON, "turn")
    frames = list(move.frames(mc.EVAL_DIR))
    rest, far = frames[0][1], frames[round(move.fps * (move.still_s + move.move_s / 2))][1]
    assert abs(int(far.sum()) - int(rest.sum())) < 0.03 * rest.sum()
    assert not (far == rest).all()
    assert math.isclose(frames[0][2], 0.0) and max(f[2] for f in frames) > 0.9 * move.peak


def test_a_recorded_overlay_gives_back_its_frame_index_and_mask() -> None:
    """bench-motion --record reads the frame index and the mask from the mask view's overlay (the background
    tinted as PSMaskOverlay tints it): exact without compression, and close under an encoder's noise."""
    import motion_score as ms
    rng = np.random.default_rng(7)
    h, w = mc.H // 2, mc.W // 2
    picture = rng.integers(0, 256, (h, w, 3)).astype(np.float64)
    code = np.zeros((mc.H, mc.W, 3), np.uint8)
    mc.draw_code(code, 5, 321)
    picture[: mc.CODE_BOX[3] // 2 + 1, : mc.CODE_BOX[2] // 2 + 1] = code[::2, ::2][: mc.CODE_BOX[3] // 2 + 1,
                                                                              : mc.CODE_BOX[2] // 2 + 1]
    person = np.zeros((h, w), bool)
    person[100:, 200:440] = True
    tinted = picture + (ms.TINT - picture) * ms.TINT_SHARE
    frame = np.where(person[..., None], picture, tinted)
    assert mc.decode_code(ms.untinted(np.round(frame).astype(np.uint8))) == (5, 321)
    assert (ms.overlay_mask(np.round(frame), picture) == person).all()
    noisy = np.clip(np.round(frame + rng.normal(0, 4, frame.shape)), 0, 255).astype(np.uint8)
    assert mc.decode_code(ms.untinted(noisy)) == (5, 321)
    assert (ms.overlay_mask(noisy, picture) == person).mean() > 0.99
