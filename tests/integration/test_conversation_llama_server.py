"""Our kept cache against llama.cpp's own llama-server (issue 31, item 3): one conversation on
SmolLM2, our engine with the cache kept beside the real llama-server with its defaults
(cache_prompt on), and per turn our reused count against its `timings.cache_n`.

CI builds llama-server first (.ci/run calls scripts/build_llama_tools.sh); elsewhere the test
skips, saying so, where the binary is missing.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
from pathlib import Path

import pytest

from gemmacompare.engine import protocol as p
from gemmacompare.engine.conversation import Conversation, play_conversation
from gemmacompare.engine.run_settings import RunSettings
from gemmacompare.engine.session import CompareSession
from gemmacompare.state.settings_table import with_values
from tests.fake_servers import free_port, stop_process, wait_until_serving


def llama_server_binary() -> Path | None:
    """llama-server as scripts/build_llama_tools.sh leaves it (the same llama.cpp source as ours)."""
    # Read at import, before the tests' private HOME is set.
    root = Path(os.environ.get("GEMMACOMPARE_TOOLS") or Path.home() / ".cache" / "gemmacompare" / "llama-tools")
    version = importlib.metadata.version("llama-cpp-python")
    for folder in (f"{version}-portable", version):
        exe = root / folder / "bin" / "llama-server"
        if exe.is_file() and os.access(exe, os.X_OK):
            return exe
    return None


LLAMA_SERVER = llama_server_binary()
pytestmark = pytest.mark.skipif(LLAMA_SERVER is None, reason="llama-server is not built here: "
                                "scripts/build_llama_tools.sh builds it from llama-cpp-python's own llama.cpp")

CONV = Conversation("server", ("What is the capital of France?", "And of Italy?", "Which of the two is bigger?"),
                    "You are a helpful assistant. Answer in one short sentence.")
SETTINGS = with_values(RunSettings(), {"temperature": 0.0, "max_tokens": 12, "n_ctx": 2048})


@pytest.fixture
def llama_server(demo_paths, tmp_path):
    assert LLAMA_SERVER is not None
    log = tmp_path / "llama-server.log"
    port = free_port()
    # llama-server's defaults (cache_prompt on, its checkpoints); the context as ours.
    proc = subprocess.Popen([str(LLAMA_SERVER), "-m", str(demo_paths["smollm2"]), "--host", "127.0.0.1",
                             "--port", str(port), "-c", "2048"], stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    try:
        wait_until_serving(proc, f"http://127.0.0.1:{port}/health", log, "llama-server")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop_process(proc)


def test_our_reused_counts_match_llama_servers_cache_n(demo_paths, llama_server):
    with CompareSession(["ours", "llama-server"]) as session:
        assert session.load([str(demo_paths["smollm2"]), llama_server], SETTINGS.load) == [None, None]
        result = play_conversation(session, [SETTINGS, SETTINGS], CONV, p.CACHE_KEEP, "fair")
    assert result.complete
    ours, theirs = result.models
    # Both sides render the same GGUF template and answer greedily with the same llama.cpp, so each
    # keeps the same history; were the replies to differ, the counts would measure two conversations.
    assert ours.replies == theirs.replies
    for a, b in zip(ours.figures, theirs.figures):
        assert b.server and not a.server
        assert a.n_prompt == b.n_prompt, (a, b)
        # Equal, turn by turn: both reuse the longest common token prefix of the new prompt with the
        # cache, which holds the last prompt and the reply. The end-of-turn token that stopped the
        # reply was sampled but never decoded, so it is in neither cache (llama-server counts it in
        # its predicted_n, we do not count it as a token): the template's own end-of-turn follows.
        assert a.n_reused == b.n_reused, (a, b)
        assert a.n_prefilled == b.n_prefilled
        assert a.ttft_s and b.ttft_s  # our time to first token beside the one measured through the server
        assert b.server_prompt_ms is not None and a.server_prompt_ms is None  # and llama-server's own
    assert ours.figures[0].n_reused == 0
    for before, a in zip(ours.figures, ours.figures[1:]):
        assert a.n_reused is not None and 0 < a.n_reused <= before.n_prompt + (before.n_tokens or 0)


def test_compare_chat_prints_llama_servers_cache_n_beside_ours(demo_paths, llama_server, tmp_path):
    from tests.unit.test_cli import cli

    chat = tmp_path / "c.jsonl"
    chat.write_text('{"id": "c", "turns": ["Say hi.", "Say bye."]}\n')
    out = cli("compare", str(demo_paths["smollm2"]), llama_server, "--chat", str(chat), "-n", "6", "--mode", "fair")
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines() if line[:2] in ("1 ", "2 ")]
    assert [r[:3] for r in rows] == [["1", "A", "cold"], ["1", "B", "cold"], ["2", "A", "keep"], ["2", "B", "keep"]]
    assert rows[3][4:6] == [rows[2][4], "(cache_n)"]  # the server's reused count, named as the server names it
