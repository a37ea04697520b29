"""Settings files: round trip, and every kind of unusable file set aside."""

from __future__ import annotations

import json

import pytest

from gemmacompare.state.settings import AppSettings, load_settings, pane_settings, save_settings, settings_path


def test_round_trip():
    s = AppSettings(mode="fair", theme="dark", models=("a.gguf", "b.gguf"),
                    panes=(pane_settings(temperature=0.7, flash_attn="off", type_k="q8_0", swa_full=True),
                           pane_settings(max_tokens=12, system_prompt="hi")))
    save_settings(s)
    assert load_settings().settings == s


@pytest.mark.parametrize(
    "content",
    [
        "{ not json",
        '{"panes": [1, 2]}',
        '{"panes": {"a": 1, "b": 2}}',
        '{"models": "x"}',
        '[1, 2, 3]',
        '{"panes": [{"n_ctx": 0}, {}]}',
        '{"panes": [{"max_tokens": -5}, {}]}',
        '{"panes": [{"temperature": "hot"}, {}]}',
        '{"panes": [{"flash_attn": "maybe"}, {}]}',
        '{"panes": [{}, {"type_v": "q3_weird"}]}',
        '{"mode": "sprint"}',
        '{"schema_version": 99}',
        '{"recent_models": 5}',
        "\udcff",
    ],
)
def test_unusable_file_is_set_aside(content):
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    loaded = load_settings()
    assert loaded.settings == AppSettings()
    assert loaded.message and "\n" not in loaded.message and "defaults" in loaded.message
    assert loaded.backup is not None and loaded.backup.read_bytes() == content.encode("utf-8", "surrogateescape")
    assert not path.exists()


def test_unknown_keys_are_ignored():
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mode": "fair", "future_option": 1, "panes": [{"seed": 3, "new": True}, {}]}))
    s = load_settings()
    assert s.message is None and s.settings.mode == "fair" and s.settings.panes[0].sampling.seed == 3
