"""The distribution installs as a wheel: built from the tree, installed into a fresh venv outside it, a
`creditflow init --demo` and `creditflow serve` run from an empty directory answer /api/health.

The package list in pyproject.toml is explicit (config/ and bpmn/ are mapped into the package), so a
fast test also checks it against the packages in the tree.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIP = [sys.executable, "-m", "pip"]
HOST = "127.0.0.1"
START_TIMEOUT_S = 30
# Top-level entries of the checkout that are not part of the build: environments, caches, local data and
# the build/ directory, whose leftovers from an earlier build setuptools would pack into the wheel.
NOT_BUILT = {".git", ".venv", "node_modules", "var", "build", "dist", ".pytest_cache", ".ruff_cache"}


def setuptools_config() -> dict[str, Any]:
    return dict(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"])


def files_under(directory: Path, patterns: Iterable[str] = ("**/*",)) -> set[str]:
    """Paths (relative to the checkout) of the files matching `patterns`, without dotfiles and caches."""
    found = {p for pattern in patterns for p in directory.glob(pattern) if p.is_file()}
    return {
        p.relative_to(ROOT).as_posix()
        for p in found
        if not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(directory).parts)
    }


def test_pyproject_lists_every_package_of_the_tree() -> None:
    config = setuptools_config()
    mapped = config["package-dir"]
    in_tree = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("workflows", "handlers", "webui")
        for init in (ROOT / top).rglob("__init__.py")
    }
    listed = set(config["packages"]) - set(mapped)
    assert not in_tree - listed, (
        f"add {sorted(in_tree - listed)} to [tool.setuptools] packages in pyproject.toml"
    )
    assert not listed - in_tree, f"remove {sorted(listed - in_tree)} from [tool.setuptools] packages"
    assert mapped == {"workflows._shipped.bpmn": "bpmn", "workflows._shipped.config": "config"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def run(args: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{' '.join(map(str, args))}:\n{result.stdout}{result.stderr}"
    return result.stdout


def build_wheel(tmp_path: Path) -> Path:
    """`pip wheel` on a copy of the checkout, so nothing is written into it and no stale build/ is packed."""
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=lambda directory, names: [
            n
            for n in names
            if n == "__pycache__" or n.endswith(".egg-info") or (Path(directory) == ROOT and n in NOT_BUILT)
        ],
    )
    run([*PIP, "wheel", "--quiet", "--no-deps", "--wheel-dir", tmp_path / "dist", source], cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("creditflow-*.whl")
    return wheel


def get_health(port: int) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 never via a proxy
    try:
        with opener.open(f"http://{HOST}:{port}/api/health", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code


@pytest.mark.slow
@pytest.mark.wheel
def test_wheel_installed_in_a_fresh_venv_serves_the_demo(tmp_path: Path) -> None:
    # About 25 s in all (pip install ~10 s, wheel ~4 s, init + serve ~5 s), so `make test` runs it too.
    wheel = build_wheel(tmp_path)
    # config/ and bpmn/ (its README.md aside) go to workflows/_shipped/; the rest keeps its path.
    shipped = files_under(ROOT / "config") | files_under(ROOT / "bpmn", ("*.bpmn", "*.dmn", "*.json"))
    expected = {
        *(f"workflows/_shipped/{name}" for name in shipped),
        *files_under(ROOT / "webui" / "templates"),
        *files_under(ROOT / "webui" / "static"),  # with static/vendor/ when `make` has copied it
        *files_under(ROOT / "webui" / "translations"),  # the .po catalogues and the .mo `make` compiled
        *files_under(ROOT / "workflows" / "store" / "migrations", ("*.py", "*.mako", "versions/*.py")),
    }
    with zipfile.ZipFile(wheel) as archive:
        missing = expected - set(archive.namelist())
    assert not missing, f"{wheel.name} lacks {sorted(missing)}; add them to package-data in pyproject.toml"

    # No pip inside the venv: the project's pip installs into it (saves ~5 s); dependencies come from the
    # configured package index, as for any user.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path)
    run([*PIP, "--python", venv / "bin" / "python", "install", "--quiet", wheel], cwd=tmp_path)

    # An empty working directory; the environment has none of the caller's CREDITFLOW_* settings and no
    # PYTHONPATH, so only the wheel's copy of the code and data can be found.
    home = tmp_path / "home"
    home.mkdir()
    (home / "creditflow.toml").write_text("[mail]\nsink_port = 0\n")  # the default 8025 may be taken
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITFLOW_") and k != "PYTHONPATH"}
    env["CREDITFLOW_CONFIG"] = str(home / "creditflow.toml")
    where = run(
        [
            venv / "bin" / "python",
            "-c",
            "from workflows import settings as s; print(s.BPMN_DIR, s.TEMPLATE_DIR)",
        ],
        cwd=home,
        env=env,
    )
    site_packages = next((venv / "lib").glob("python3*/site-packages"))
    assert [Path(p) for p in where.split()] == [
        site_packages / "workflows" / "_shipped" / "bpmn",
        site_packages / "workflows" / "_shipped" / "config" / "templates",
    ]

    creditflow = venv / "bin" / "creditflow"
    run([creditflow, "init", "--demo"], cwd=home, env=env)
    assert (home / "var" / "creditflow.db").is_file()
    port = free_port()
    with (home / "serve.log").open("wb") as log:
        server = subprocess.Popen(
            [creditflow, "serve", "--port", str(port)],
            cwd=home,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        status = None
        deadline = time.monotonic() + START_TIMEOUT_S
        while status is None and time.monotonic() < deadline and server.poll() is None:
            try:
                status = get_health(port)
            except OSError:
                time.sleep(0.1)  # the subprocess is still starting; there is no event to wait on
        log_text = (home / "serve.log").read_text(errors="replace")
        assert status == 200, (
            f"GET /api/health: {status} (server exit code {server.poll()}); log:\n{log_text}"
        )
    finally:
        server.kill()
        server.wait()
