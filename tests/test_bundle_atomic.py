"""Replacing a bundle folder in one step, and refusing zip bombs before inflating them."""

from __future__ import annotations

import zipfile

import pytest
from conftest import random_bundle

from engine.bundles.bundle import MANIFEST, WEIGHTS, load_bundle, save_bundle
from engine.runtime import atomic
from engine.runtime.errors import BundleError


def test_exchange_swaps_two_folders(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("from a")
    (b / "y").write_text("from b")
    if not atomic.exchange(a, b):
        pytest.skip("this system has no renameat2(RENAME_EXCHANGE)")
    assert (a / "y").read_text() == "from b" and (b / "x").read_text() == "from a"


@pytest.mark.parametrize("swap", [True, False], ids=["exchange", "two-renames"])
def test_saving_over_a_bundle_folder_leaves_only_the_new_one(tmp_path, monkeypatch, swap):
    if not swap:
        monkeypatch.setattr(atomic, "_RENAMEAT2", None)
    out = tmp_path / "bundle"
    save_bundle(random_bundle(k=8, seed=0), out)
    save_bundle(random_bundle(k=8, seed=1), out)
    assert float(load_bundle(out).W[0, 0]) == float(random_bundle(k=8, seed=1).W[0, 0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    good = save_bundle(random_bundle(k=8, seed=0), tmp_path / "good.l2i")
    with zipfile.ZipFile(good) as zf:
        manifest = zf.read(MANIFEST)
    bomb = tmp_path / "bomb.l2i"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, manifest)
        zf.writestr(WEIGHTS, bytes(64 << 20))  # 64 MB of zeros deflate to about 64 KB
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(BundleError, match="inflates .* refused"):
        load_bundle(bomb)
    load_bundle(good)  # a real bundle's weights barely compress: accepted
