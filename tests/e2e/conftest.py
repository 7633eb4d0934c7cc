"""A real `creditflow serve` in a subprocess on a free 127.0.0.1 port (datasette style), shared by e2e tests.

Every path the server writes (database, scheduler lock, secret key) is set explicitly and points into a
temporary directory, which is also its working directory; nothing is written into the checkout.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest

CREDITFLOW = Path(sys.executable).parent / "creditflow"
HOST = "127.0.0.1"  # the only host these tests ever contact
START_TIMEOUT_S = 60  # seconds: a loaded CI machine (parallel test workers) needs far longer than usual
# SIGTERM to exit: about a second when idle, 17 s with two xdist workers at load 11; kept below the embedded
# scheduler's 30 s sleep (max_sleep_s), so a stop that waits the sleep out still fails.
STOP_TIMEOUT_S = 25
# Limits that only catch a hung command or request, not slowness: `creditflow init --demo` took more than 60 s
# and a page more than 10 s with two pytest-xdist workers on a machine at load 16 (2 cores, other jobs).
CLI_TIMEOUT_S = 300
REQUEST_TIMEOUT_S = 60


def loopback_opener(*handlers: urllib.request.BaseHandler) -> urllib.request.OpenerDirector:
    """An opener that ignores http_proxy and friends, so requests to 127.0.0.1 never leave the machine."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), *handlers)


@dataclass
class Response:
    status: int
    url: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class Server:
    """A running `creditflow serve`: its URL, environment and working directory, and how to stop it."""

    process: subprocess.Popen[bytes]
    base_url: str
    env: dict[str, str]
    directory: Path
    _tokens: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str) -> str:
        """Run another `creditflow` command against the same database; return its stdout."""
        return run_cli(self.env, self.directory, *args)

    def token(self, username: str) -> str:
        """An API token for the user, issued once per server by `creditflow users token`."""
        if username not in self._tokens:
            self._tokens[username] = self.cli("users", "token", username).strip()
        return self._tokens[username]

    def request(
        self,
        method: str,
        path: str,
        *,
        user: str | None = None,
        json_body: Any = None,
        form: bytes | None = None,
        opener: urllib.request.OpenerDirector | None = None,
    ) -> Response:
        """One HTTP request to the server; 4xx and 5xx come back as a Response, not an exception."""
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        data = form
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with (opener or loopback_opener()).open(request, timeout=REQUEST_TIMEOUT_S) as response:
                return Response(response.status, response.geturl(), response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return Response(exc.code, exc.geturl(), exc.read())

    def browser(self) -> urllib.request.OpenerDirector:
        """An opener with its own cookie jar, like one browser session."""
        return loopback_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def log(self) -> str:
        return (self.directory / "serve.log").read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, then the exit code; fails (after killing it) when the server outlives STOP_TIMEOUT_S."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"creditflow serve ignored SIGTERM for {STOP_TIMEOUT_S} s; log:\n{self.log()}")


def run_cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    result = subprocess.run(
        [str(CREDITFLOW), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, f"creditflow {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


def server_environment(directory: Path, database_url: str | None = None) -> dict[str, str]:
    """The caller's environment without its CREDITFLOW_* settings, plus ours, all under `directory`
    (the database too, unless `database_url` names another)."""
    config = directory / "creditflow.toml"
    config.write_text(f'[mail]\nsink_port = 0\n\n[scheduler]\nlock_file = "{directory / "scheduler.lock"}"\n')
    env = {name: value for name, value in os.environ.items() if not name.startswith("CREDITFLOW_")}
    env.update(
        CREDITFLOW_CONFIG=str(config),
        CREDITFLOW_DATABASE_URL=database_url or f"sqlite:///{directory / 'creditflow.db'}",
        CREDITFLOW_HOST=HOST,
        CREDITFLOW_SECRET_KEY="e2e-secret",
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_server(directory: Path, database_url: str | None = None) -> Server:
    """`creditflow init --demo`, then `creditflow serve` on a free port; returns once /api/health is ok."""
    if not CREDITFLOW.exists():
        pytest.skip(f"the console script is not installed at {CREDITFLOW}")
    directory.mkdir(parents=True, exist_ok=True)
    env = server_environment(directory, database_url)
    run_cli(env, directory, "init", "--demo")
    port = free_port()
    with (directory / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [str(CREDITFLOW), "serve", "--port", str(port)],
            env=env,
            cwd=directory,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://{HOST}:{port}", env, directory)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"creditflow serve exited with {process.returncode}; log:\n{server.log()}")
        try:
            if server.request("GET", "/api/health").json().get("status") == "ok":
                return server
        except (OSError, ValueError):
            pass  # not listening yet
        time.sleep(0.1)  # polling a subprocess that is starting up: there is no event to wait on
    server.stop()
    pytest.fail(
        f"creditflow serve did not answer /api/health within {START_TIMEOUT_S} s; log:\n{server.log()}"
    )


@pytest.fixture
def launch_server(tmp_path: Path) -> Iterator[Callable[[], Server]]:
    """Start a server of the test's own (for tests that stop it); any still running is killed afterwards."""
    launched: list[Server] = []

    def launch() -> Server:
        launched.append(start_server(tmp_path / f"serve{len(launched)}"))
        return launched[-1]

    yield launch
    for running in launched:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the whole session; stopping it with SIGTERM must exit 0."""
    running = start_server(tmp_path_factory.mktemp("serve"))
    yield running
    code = running.stop()
    assert code == 0, f"creditflow serve exited with {code} on SIGTERM; log:\n{running.log()}"
