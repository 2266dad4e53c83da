"""The demo's new pieces (issue 15 item 7): the detectors' score table and the joined
series, on the session's matrix builds (the demo builds what it shows the same way)."""

from __future__ import annotations

import collections

import numpy as np
import tensorflow_datasets as tfds

from conversion import demo

DETECTORS = ("fmask", "qa60", "s2cloudless", "sen2cor", "cd_fcnn_rgbi", "cd_fcnn_rgbi_swir",
             "kappamask_l1c", "kappamask_l2a")


def test_demo_scores_every_published_detector(matrix_builds):
    root, _ = matrix_builds
    text = demo.detector_scores(root / "manual" / "cloudsen12_hq", root / "tfrecord")
    rows = [line.split() for line in text.splitlines()[2:] if line and not line.startswith("PA and UA")]
    pairs = {(r[0], r[1]) for r in rows}
    for name in DETECTORS:
        assert (name, "cloud") in pairs, name
    # detectors with a shadow class are scored on all three experiments
    for name in ("fmask", "sen2cor", "kappamask_l1c", "kappamask_l2a"):
        assert {(name, "shadow"), (name, "contaminated")} <= pairs, name
    builder = tfds.builder("cloudsen12_hq/detectors", data_dir=root / "tfrecord")
    images = builder.info.splits["test"].num_examples
    assert {int(r[2]) for r in rows} == {images}


def test_demo_lists_the_joined_series(matrix_builds):
    root, _ = matrix_builds
    text = demo.joined_series(root / "manual" / "s2_cloud_timeseries", root / "tfrecord")
    shown = {}
    for line in text.splitlines()[2:]:
        split, tile, localid, pieces, steps = line.split()[:5]
        shown[(split, tile, int(localid))] = (int(pieces), int(steps))
    # independently: the published pieces grouped by (split, tile, localid), dates united
    pieces = tfds.builder("s2_cloud_timeseries", data_dir=root / "tfrecord")
    groups = collections.defaultdict(list)
    for split in pieces.info.splits:
        for ex in tfds.as_numpy(pieces.as_dataset(split=split)):
            groups[(split, ex["tile"].decode(), int(ex["localid"]))].append(np.asarray(ex["dates"]))
    expected = {key: (len(d), len(np.unique(np.concatenate(d)))) for key, d in groups.items() if len(d) > 1}
    assert expected and shown == expected
