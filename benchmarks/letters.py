"""PDF letters: CPU per letter in one process, the first letter apart (it loads the fonts).

Renders a level-2 dunning notice in Chinese and an approval letter in English from the shipped templates and
lays each out with `workflows.mail.letters_pdf.letter_pdf` (fpdf2, Noto Sans SC subset), `-n` times each,
alternating, in this process; CPU time (process_time) per letter, so load from other processes disturbs it
little. The last line printed is JSON: {"first_letter_cpu_ms", "cpu_ms_per_letter": {"zh_dunning_notice",
"en_approval_letter", "all"}, "letters", "pdf_bytes": {...}, "load_avg"}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workflows.mail.letters_pdf import letter_pdf  # noqa: E402
from workflows.mail.templates import render_email  # noqa: E402

INVOICES = [
    {"number": f"INV-{n}", "due_date": "2026-03-02", "days_overdue": 14 + n, "open_amount": f"{1200 + n}.00"}
    for n in range(1, 4)
]
CONTEXT: dict[str, Any] = {
    "level": 2,
    "title": "Second reminder",
    "customer_name": "上海精密零件有限公司",
    "invoices": INVOICES,
    "total": Decimal("3606.00"),
    "fees": Decimal("15.00"),
    "currency": "CNY",
    "blocked": False,
    "next_step_on": "2026-03-27",
    "interest": {
        "rate": Decimal("8.5"),
        "reference_rate": Decimal("3.5"),
        "margin_points": Decimal("5"),
        "lines": {i["number"]: Decimal("3.92") for i in INVOICES},
        "total": Decimal("11.76"),
    },
    "limit": Decimal("500000.00"),
    "payment_terms_days": 30,
    "above_policy": False,
    "next_review_date": "2027-01-14",
}
LETTERS = {
    "zh_dunning_notice": ("dunning_notice", "zh", {}),
    "en_approval_letter": ("approval_letter", "en", {"customer_name": "Slowpay Trading", "currency": "EUR"}),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=50, help="letters of each kind after the first (default 50)")
    args = parser.parse_args()
    rendered = {
        kind: render_email(template, {**CONTEXT, **extra}, language=language)
        for kind, (template, language, extra) in LETTERS.items()
    }
    sizes: dict[str, int] = {}

    def one(kind: str) -> float:
        email = rendered[kind]
        started = time.process_time()
        data = letter_pdf(email.html, language=email.language, on=date(2027, 1, 14), title=email.subject)
        spent = time.process_time() - started
        sizes[kind] = len(data)
        return spent

    first = one("zh_dunning_notice")
    spent: dict[str, list[float]] = {kind: [] for kind in LETTERS}
    for _ in range(args.n):
        for kind in LETTERS:
            spent[kind].append(one(kind))
    every = [s for values in spent.values() for s in values]
    per_letter = {kind: round(statistics.mean(values) * 1000, 1) for kind, values in spent.items()}
    print(f"first letter: {first * 1000:.0f} ms CPU; then per letter: {per_letter} ms CPU")
    print(
        json.dumps(
            {
                "first_letter_cpu_ms": round(first * 1000, 1),
                "cpu_ms_per_letter": {**per_letter, "all": round(statistics.mean(every) * 1000, 1)},
                "cpu_ms_median": round(statistics.median(every) * 1000, 1),
                "letters": len(every) + 1,
                "pdf_bytes": sizes,
                "load_avg": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
