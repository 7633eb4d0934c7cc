"""Small approvals driven over REST, the way the SpiffArena baseline was measured.

One approval = create the instance, list the caller's tasks, complete the review, list tasks,
complete the approval: 5 HTTP calls on one keep-alive-less client, sequential, against the real
server (`creditflow serve` equivalent: werkzeug, threaded) on a SQLite file. Peer figure on this
machine: SpiffArena 5.18 approvals/s (benchmarks/README.md). The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from handlers.registry import build_operations

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from werkzeug.serving import make_server  # noqa: E402

from webui import create_app  # noqa: E402
from workflows.cli.demo import seed_demo_users  # noqa: E402
from workflows.definitions.deploy import deploy_files, read_files  # noqa: E402
from workflows.definitions.shipped import shipped_bundles  # noqa: E402
from workflows.settings import load_settings  # noqa: E402
from workflows.store.db import make_engine, make_session_factory, transaction  # noqa: E402
from workflows.store.schema import upgrade_schema  # noqa: E402
from workflows.users import SYSTEM_ACTOR, issue_token  # noqa: E402

SPIFFARENA_PER_S = 5.18
START = {
    "customer_name": "Benchmark Ltd",
    "order_value": 250000,
    "standard_terms_days": 30,
    "requested_terms_days": 45,
    "justification": "benchmark",
}
# The process-wide opener would honour proxy variables; the benchmark only talks to loopback.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(base: str, token: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with OPENER.open(request, timeout=30) as response:
        return json.loads(response.read())


def one_approval(base: str, tokens: dict[str, str], i: int) -> None:
    call(
        base,
        tokens["sales1"],
        "POST",
        "/api/process-instances",
        {"process_key": "payment_terms_exception", "business_key": f"B-{i}", "data": START},
    )
    for user, form in (
        ("analyst1", {"decision": "approve", "approved_terms_days": 45}),
        ("manager1", {"decision": "approve"}),
    ):
        [task] = call(base, tokens[user], "GET", "/api/tasks?per_page=1")["items"]
        call(base, tokens[user], "POST", f"/api/tasks/{task['id']}/complete", {"data": form})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=200, help="approvals to drive (default 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            {}, database={"url": f"sqlite:///{tmp}/rest.db"}, web={"secret_key": "bench"}
        )
        engine = make_engine(settings.database)
        upgrade_schema(engine)
        factory = make_session_factory(engine)
        now = datetime.now(UTC)
        with transaction(factory) as session:
            for bundle in shipped_bundles():
                # As `creditflow init`: the system's deployments of money-moving diagrams are active at once.
                files = read_files(bundle)
                deploy_files(session, files, build_operations(), deployed_by=SYSTEM_ACTOR, now=now)
            tokens = {name: issue_token(session, name, now) for name in seed_demo_users(session, now)}
        engine.dispose()
        server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        for i in range(10):
            one_approval(base, tokens, -i - 1)  # warm-up
        durations = []
        for i in range(args.n):
            began = time.perf_counter()
            one_approval(base, tokens, i)
            durations.append(time.perf_counter() - began)
        server.shutdown()
    rate = len(durations) / sum(durations)
    durations.sort()
    median_ms = statistics.median(durations) * 1000
    print(f"{args.n} approvals over REST (5 calls each): {rate:.1f}/s, median {median_ms:.1f} ms")
    print(
        json.dumps(
            {
                "approvals_per_s": round(rate, 1),
                "median_ms": round(median_ms, 1),
                "p95_ms": round(durations[int(len(durations) * 0.95) - 1] * 1000, 1),
                "spiffarena_per_s": SPIFFARENA_PER_S,
                "ratio_vs_spiffarena": round(rate / SPIFFARENA_PER_S, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
