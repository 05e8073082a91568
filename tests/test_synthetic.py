"""Fast unit tests of the synthetic H&E nucleus generator (no model involved)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from pathosam_server._testing.synthetic import CLASS_NAMES, SyntheticSample, make_region, make_sample


@pytest.fixture(scope="module")
def sample() -> SyntheticSample:
    return make_sample(3)


def test_class_names_are_pannuke() -> None:
    assert CLASS_NAMES == {1: "Neoplastic", 2: "Inflammatory", 3: "Connective", 4: "Dead", 5: "Epithelial"}


def test_same_seed_same_sample() -> None:
    a, b = make_sample(11), make_sample(11)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.instances, b.instances)
    np.testing.assert_array_equal(a.semantic, b.semantic)
    assert a.classes == b.classes


def test_different_seeds_differ() -> None:
    assert not np.array_equal(make_sample(1).instances, make_sample(2).instances)


@pytest.mark.parametrize("shape", [(512, 512), (200, 333), (333, 200)])
def test_shapes_and_dtypes(shape: tuple[int, int]) -> None:
    s = make_sample(5, shape=shape)
    assert s.image.shape == (*shape, 3) and s.image.dtype == np.uint8
    assert s.instances.shape == shape and s.instances.dtype == np.int32
    assert s.semantic.shape == shape and s.semantic.dtype == np.uint8


def test_instance_ids_are_consecutive_and_classified(sample: SyntheticSample) -> None:
    ids = np.unique(sample.instances)
    n = int(sample.instances.max())
    np.testing.assert_array_equal(ids, np.arange(n + 1))
    assert set(sample.classes) == set(range(1, n + 1))
    assert set(sample.classes.values()) <= set(CLASS_NAMES)


def test_semantic_matches_instances(sample: SyntheticSample) -> None:
    lut = np.zeros(len(sample.classes) + 1, dtype=np.uint8)
    for i, c in sample.classes.items():
        lut[i] = c
    np.testing.assert_array_equal(sample.semantic, lut[sample.instances])


def test_every_instance_is_one_piece_and_not_tiny(sample: SyntheticSample) -> None:
    for i, sl in enumerate(ndimage.find_objects(sample.instances), start=1):
        obj = sample.instances[sl] == i
        _, n_pieces = ndimage.label(obj)  # 4-connectivity: the strictest notion of "one piece"
        assert n_pieces == 1, f"instance {i} has {n_pieces} pieces"
        assert obj.sum() >= 30


def test_nuclei_touch_or_overlap_somewhere(sample: SyntheticSample) -> None:
    lab = sample.instances
    right = (lab[:, :-1] > 0) & (lab[:, 1:] > 0) & (lab[:, :-1] != lab[:, 1:])
    down = (lab[:-1] > 0) & (lab[1:] > 0) & (lab[:-1] != lab[1:])
    assert right.any() or down.any()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_all_classes_present(seed: int) -> None:
    s = make_sample(seed)
    counts = np.bincount(list(s.classes.values()), minlength=6)
    assert (counts[1:] >= 2).all(), counts


def test_density_scales_nucleus_count() -> None:
    sparse = sum(make_sample(k, density=0.5).instances.max() for k in range(3))
    dense = sum(make_sample(k, density=1.5).instances.max() for k in range(3))
    assert dense > 1.5 * sparse


def test_classes_differ_in_size_and_stain(sample: SyntheticSample) -> None:
    ids = np.arange(1, sample.instances.max() + 1)
    areas = ndimage.sum_labels(np.ones_like(sample.instances), sample.instances, ids)
    grey = sample.image.astype(np.float32).mean(axis=2)
    brightness = ndimage.mean(grey, sample.instances, ids)
    cls = np.array([sample.classes[int(i)] for i in ids])

    def mean_of(values: np.ndarray, c: int) -> float:
        return float(values[cls == c].mean())

    # Neoplastic largest, then epithelial, inflammatory small; inflammatory much darker than epithelial.
    assert mean_of(areas, 1) > mean_of(areas, 5) > mean_of(areas, 2)
    assert mean_of(brightness, 2) < mean_of(brightness, 5) - 40
    # Nuclei are darker than the eosin background.
    assert grey[sample.instances > 0].mean() < grey[sample.instances == 0].mean() - 40


def test_connective_nuclei_are_elongated(sample: SyntheticSample) -> None:
    for i, c in sample.classes.items():
        if c != 3:
            continue
        ys, xs = np.nonzero(sample.instances == i)
        if len(ys) < 60 or ys.min() == 0 or xs.min() == 0:
            continue
        eig = np.linalg.eigvalsh(np.cov(np.stack([ys, xs])))
        assert eig[1] > 3 * eig[0]


def test_region_shape() -> None:
    r = make_region(4)
    assert r.image.shape == (1536, 2048, 3)
    assert r.instances.max() > 500
