"""`compare` against hostile options, prompts, servers and keys (issue 24, items 5, 7 and 8).

Servers are the misbehaving stand-ins of tests/fake_servers.py; no model runs here.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gemmacompare.cli.args import max_threads
from gemmacompare.cli.exit_codes import EXIT_MODEL_FAILED, EXIT_OK, EXIT_USAGE
from gemmacompare.cli.main import main
from gemmacompare.engine import protocol as p
from gemmacompare.engine.session import CompareSession
from gemmacompare.state.secrets import server_env_var
from tests.fake_servers import HOSTILE_ERROR, HOSTILE_ID, MisbehavingServer

RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e")


def compare(capfd, *args: str) -> tuple[int, str, str]:
    rc = main(["compare", *args, "--idle-timeout", "5", "--first-byte-timeout", "10"])
    out = capfd.readouterr()
    return rc, out.out, out.err


def usage_error(capfd, *args: str) -> str:
    """argparse's refusal: exit status 2 and one 'error:' line."""
    with pytest.raises(SystemExit) as info:
        main(["compare", *args])
    assert info.value.code == EXIT_USAGE
    err = capfd.readouterr().err
    line = [x for x in err.splitlines() if "error:" in x]
    assert len(line) == 1 and "Traceback" not in err
    return line[0]


def one_error_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].endswith(".") and len(lines[0]) < 300
    return lines[0]


# --- options -----------------------------------------------------------------------

@pytest.mark.parametrize("option", ["--temp", "--top-p", "--min-p", "--repeat-penalty"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_sampling_numbers_must_be_finite(capfd, option, value):
    assert "is not a finite number" in usage_error(capfd, "-p", "hi", f"{option}={value}")


@pytest.mark.parametrize("threads", ["1100", "2,1100", str(max_threads() + 1)])
def test_threads_beyond_four_per_cpu_are_refused(capfd, threads):
    assert "threads is more than" in usage_error(capfd, "-p", "hi", "--threads", threads)


def test_bench_threads_are_bounded_too(capfd):
    with pytest.raises(SystemExit) as info:
        main(["bench", "--threads", "1100"])
    assert info.value.code == EXIT_USAGE
    assert "threads is more than" in capfd.readouterr().err


def test_prompt_and_file_are_one_or_the_other(capfd, tmp_path):
    (tmp_path / "p.txt").write_text("hi")
    assert "not allowed with" in usage_error(capfd, "-p", "hi", "-f", str(tmp_path / "p.txt"))


@pytest.mark.parametrize(("make", "words"), [
    (lambda d: d / "missing.txt", "does not exist"),
    (lambda d: d, "is a folder"),
    (lambda d: _write(d / "big.txt", b"x" * ((8 << 20) + 1)), "larger than 8 MiB"),
    (lambda d: _write(d / "latin1.txt", b"caf\xe9 au lait"), "is not UTF-8 text (byte 3)"),
    (lambda d: _write(d / "empty.txt", b"  \n"), "The prompt is empty"),
])
def test_prompt_file_problems_are_one_sentence(capfd, tmp_path, make, words):
    t0 = time.monotonic()
    rc, _, err = compare(capfd, "-f", str(make(tmp_path)))
    assert rc == EXIT_USAGE
    assert words in one_error_line(err)
    assert time.monotonic() - t0 < 10


def test_prompt_file_from_dev_zero_is_bounded(capfd):
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    rc, _, err = compare(capfd, "-f", "/dev/zero")
    assert rc == EXIT_USAGE and "larger than 8 MiB" in one_error_line(err)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_prompt_argument_that_is_not_utf8_says_so(capfd):
    bad = b"caf\xe9".decode("utf-8", "surrogateescape")  # how Linux hands Python such argv bytes
    rc, _, err = compare(capfd, "-p", bad)
    assert rc == EXIT_USAGE
    assert "prompt has bytes that are not UTF-8 text" in one_error_line(err)


def test_a_prompt_file_longer_than_a_command_line_can_carry(capfd, tmp_path, misbehaving_server):
    # Linux caps one argument at 128 KiB; -f has no such limit below its own 8 MiB.
    word = "x" * 150_000
    prompt = _write(tmp_path / "long.txt", b"\xef\xbb\xbf" + word.encode())  # a BOM is dropped
    echo = misbehaving_server.url("echo")
    rc, out, err = compare(capfd, echo, echo, "-f", str(prompt), "-n", "1000")
    assert rc == EXIT_OK, err
    assert misbehaving_server.requests[-1]["body"]["messages"][-1]["content"] == word
    assert f"[A] {word}" in out


# --- strangers' text is inert on the terminal -------------------------------------

def test_hostile_server_text_is_printed_inert(capfd, misbehaving_server):
    rc, out, err = compare(capfd, misbehaving_server.url("hostile-names"), misbehaving_server.url("hostile-error"),
                           "-p", "hi")
    assert rc == EXIT_MODEL_FAILED
    for ch in RAW_CONTROLS:
        assert ch not in out and ch not in err
    # Shown, escaped: the answer, the error text and the model id.
    assert "\\x1b[2J\\x1b]0;pwned\\x07Hello \\u202eworld" in out
    assert "line two\\x1b[31m\\x9b1m" in out  # the newline kept: the second line is its own
    assert "boom\\u202e" in err and HOSTILE_ERROR not in err


def test_hostile_server_model_ids_are_listed_inert(capfd, misbehaving_server):
    rc = main(["models", "--server", misbehaving_server.url("hostile-names")])
    out = capfd.readouterr().out
    assert rc == EXIT_OK
    for ch in RAW_CONTROLS:
        assert ch not in out
    assert HOSTILE_ID not in out and "evil\\x1b]0;pwned\\x07\\x1b[31mred\\u202eexe.gguf" in out


# --- API keys go to their own server only -------------------------------------------

def _authorizations(server: MisbehavingServer) -> set[str | None]:
    seen = [r["headers"] for r in server.gets + server.requests]
    assert seen, "the server was never asked"
    return {h.get("Authorization") for h in seen}


def test_one_shared_key_is_not_sent_to_two_servers(capfd, monkeypatch):
    monkeypatch.setenv("GEMMACOMPARE_API_KEY", "sk-shared-1234")
    with MisbehavingServer() as a, MisbehavingServer() as b:
        rc, _, err = compare(capfd, a.url("echo"), b.url("echo"), "-p", "hello")
        assert rc == EXIT_OK, err
        assert _authorizations(a) == {None} and _authorizations(b) == {None}


def test_per_server_keys_reach_their_own_server_only(capfd, monkeypatch):
    with MisbehavingServer(api_key="sk-for-a-1111") as a, MisbehavingServer(api_key="sk-for-b-2222") as b:
        monkeypatch.setenv("GEMMACOMPARE_API_KEY", "sk-shared-1234")
        monkeypatch.setenv(server_env_var(a.url("echo")), "sk-for-a-1111")
        monkeypatch.setenv(server_env_var(b.url("echo")), "sk-for-b-2222")
        rc, _, err = compare(capfd, a.url("echo"), b.url("echo"), "-p", "hello")
        assert rc == EXIT_OK, err
        assert _authorizations(a) == {"Bearer sk-for-a-1111"}
        assert _authorizations(b) == {"Bearer sk-for-b-2222"}


def test_the_shared_key_goes_to_a_single_server(capfd, monkeypatch):
    monkeypatch.setenv("GEMMACOMPARE_API_KEY", "sk-shared-1234")
    with MisbehavingServer(api_key="sk-shared-1234") as a:
        rc, _, err = compare(capfd, a.url("echo"), a.url("echo"), "-p", "hello")
        assert rc == EXIT_OK, err
        assert _authorizations(a) == {"Bearer sk-shared-1234"}


def test_two_host_names_for_one_port_are_two_servers(capfd, monkeypatch):
    # 127.0.0.1 and localhost reach the same socket here, but a key is for the server the user
    # named: another name may be another machine (a proxy, a DNS entry), so neither gets it.
    monkeypatch.setenv("GEMMACOMPARE_API_KEY", "sk-shared-1234")
    with MisbehavingServer() as a:
        other = a.url("echo").replace("127.0.0.1", "localhost")
        rc, _, err = compare(capfd, a.url("echo"), other, "-p", "hello")
        assert rc == EXIT_OK, err
        assert _authorizations(a) == {None}


def test_a_refused_key_names_the_servers_own_variable(capfd, monkeypatch):
    monkeypatch.delenv("GEMMACOMPARE_API_KEY", raising=False)
    with MisbehavingServer(api_key="sk-needed-9999") as a, MisbehavingServer() as b:
        rc, _, err = compare(capfd, a.url("echo"), b.url("echo"), "-p", "hello")
        assert rc == EXIT_MODEL_FAILED  # A refused, B answered
        assert server_env_var(a.url("echo")) in err and "refused the API key" in err


def test_the_session_loading_two_servers_sends_the_shared_key_to_neither(monkeypatch):
    # The window and bench load through the session, not the command line.
    monkeypatch.setenv("GEMMACOMPARE_API_KEY", "sk-shared-1234")
    with MisbehavingServer() as a, MisbehavingServer() as b, CompareSession(("A", "B")) as session:
        assert session.load([a.url("echo"), b.url("echo")], p.LoadSettings()) == [None, None]
        assert _authorizations(a) == {None} and _authorizations(b) == {None}
        # Loading one pane while the other holds a server on another host: still not sent.
        session.load_one(1, b.url("echo"))
        assert _authorizations(b) == {None}
    assert os.environ["GEMMACOMPARE_API_KEY"] == "sk-shared-1234"


@pytest.mark.parametrize("option", ["--idle-timeout", "--first-byte-timeout", "--connect-timeout"])
@pytest.mark.parametrize("value", ["inf", "1e300"])
def test_server_timeouts_must_end(capfd, option, value):
    # An infinite idle timeout is a server that never finishes, allowed by the user.
    assert "is more than a day" in usage_error(capfd, "-p", "hi", f"{option}={value}")
