"""A bundle built with GEMMACOMPARE_BUNDLE_DEMOS=1 finds its demo models in _internal/models/."""

from __future__ import annotations

import sys

from gemmacompare.models.demo import GEMMA3_FILE, SMOLLM2_FILE, demo_models


def test_bundled_demo_models_come_first(tmp_path, monkeypatch, demo_paths):
    models = tmp_path / "models"
    models.mkdir()
    (models / SMOLLM2_FILE).symlink_to(demo_paths["smollm2"])
    (models / GEMMA3_FILE).symlink_to(demo_paths["gemma3"])
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    found = demo_models()
    assert [d.key for d in found] == ["smollm2", "gemma3"]
    assert [d.path for d in found] == [models / SMOLLM2_FILE, models / GEMMA3_FILE]


def test_without_bundled_models_the_packages_are_used(tmp_path, monkeypatch, demo_paths):
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)  # a bundle without demos
    assert [d.path for d in demo_models()] == [demo_paths["smollm2"], demo_paths["gemma3"]]
