"""tools/bench/cpc_hours.py end to end on the synthetic tone speaker (no espeak-ng): the curve's points train on
growing amounts of audio for the same steps, and every row is probed on the same held-out clips."""

import json
import os

import pytest
from test_examples import run


def test_cpc_hours_curve_on_tones(tmp_path):
    out = tmp_path / "curve"
    run(["tools/bench/cpc_hours.py", "--engine=tones", "--corpus=harvard", "--sentences=24", "--speakers=3",
         "--hours=0.002,0.004", "--steps=3", "--batch_size=4", "--window=3200", "--width=8", "--context_dim=8",
         "--probe_clips=6", "--probe_frames=300", "--test_fraction=0.25", "--lookahead=4", f"--out={out}"], tmp_path)
    results = json.loads((out / "results.json").read_text())
    rows, training, settings = results["rows"], results["training"], results["run"]
    assert list(rows)[:2] == ["MFCC (39)", "random init"] and len(rows) == 4
    for name, row in rows.items():
        assert 0 <= row["phone_context"] <= 1 and 0 <= row["speaker_context"] <= 1, name
        if name != "MFCC (39)":  # the context read 4 frames later (--lookahead=4)
            assert 0 <= row["phone_context_ahead"] <= 1, name
    points = list(training.values())
    assert [p["hours"] for p in points] == sorted(p["hours"] for p in points) and points[0]["hours"] >= 0.002
    assert points[0]["clips"] < points[1]["clips"]
    # the same steps at every point: fewer clips get more crops each
    assert points[0]["crops_per_clip"] * points[0]["clips"] >= 3 * 4 <= points[1]["crops_per_clip"] * points[1]["clips"]
    assert points[0]["crops_per_clip"] >= points[1]["crops_per_clip"]
    assert all(p["load"]["samples"] >= 1 for p in points)
    assert settings["test_clips"] == 6 and settings["phones"] > 2


@pytest.mark.parametrize("name", ["cpc_hours.json", "cpc_hours_4000.json", "cpc_hours_sequence_1000.json",
                                  "cpc_hours_sequence_4000.json", "cpc_hours_sequence_12000.json",
                                  "cpc_hours_w128.json"])
def test_readme_rows_are_the_committed_curves(name):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", "results", name)) as f:
        curve = json.load(f)
    with open(os.path.join(root, "README.md")) as f:
        readme = f.read().replace("**", "")  # whichever row is bold (the best) in its table
    rows = curve["rows"]
    cpc = [row for row_name, row in rows.items() if row_name.startswith("CPC")]
    joined = lambda key: " / ".join(f"{row[key]:.3f}" for row in cpc)  # noqa: E731
    assert f"| {joined('phone_context')} | {joined('speaker_context')} |" in readme
    width = "" if curve["run"]["width"] == 64 else f" (width {curve['run']['width']})"
    assert (f"| random init{width} | {rows['random init']['phone_context']:.3f} | "
            f"{rows['random init']['speaker_context']:.3f} |") in readme
    assert f"| MFCC (39) | {rows['MFCC (39)']['phone_context']:.3f} | {rows['MFCC (39)']['speaker_context']:.3f} |" in readme
