"""How each factor of the customer scorecard scores, 0-100 (research/domain-credit.md 2.4): pure functions
of the scorecard's inputs. How much each factor weighs is policy (bpmn/scorecard_weights.dmn, read by
handlers/credit_scoring.py); a factor without data scores the documented neutral value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

FACTORS = (
    "payment_history",
    "financial_strength",
    "size",
    "relationship",
    "management",
    "industry_outlook",
    "external_rating",
    "collateral",
    "strategic_importance",
)
NEUTRAL = 50
RATING_POINTS = 20  # an analyst's rating 1-5 scores 20-100 (research/domain-credit.md 2.4: "×20")
INDUSTRY_OUTLOOK: dict[str, int] = {
    **dict.fromkeys(("utilities", "healthcare", "food", "public sector", "pharmaceuticals"), 80),
    **dict.fromkeys(("manufacturing", "wholesale", "retail", "services", "technology", "logistics"), 60),
    **dict.fromkeys(("construction", "hospitality", "mining", "real estate", "travel", "textiles"), 30),
}
RATING_SCORES: dict[str, int] = {
    "AAA": 100,
    "AA": 100,
    "A": 90,
    "BBB": 75,
    "BB": 50,
    "B": 30,
    "CCC": 10,
    "CC": 0,
    "C": 0,
    "D": 0,
}


@dataclass(frozen=True)
class ScoreInputs:
    """What the scorecard reads of a customer, gathered from its credit file and its receivables."""

    days_late: Decimal | None  # amount-weighted, last 12 months; None: no history
    current_ratio: Decimal | None
    debt_ratio: Decimal | None
    annual_revenue: Decimal | None
    relationship_years: Decimal | None  # None: no relationship yet
    founded_year: int | None
    industry: str
    external_rating: str | None
    collateral_cover: Decimal | None  # counted collateral / amount at risk; None: no collateral
    management_rating: int | None
    industry_rating: int | None
    strategic_rating: int | None


def factor_scores(inputs: ScoreInputs, today: date) -> dict[str, int]:
    """Each factor's 0-100 score (research/domain-credit.md 2.4)."""
    return {
        "payment_history": payment_history_score(inputs.days_late),
        "financial_strength": financial_strength_score(inputs.current_ratio, inputs.debt_ratio),
        "size": size_score(inputs.annual_revenue),
        "relationship": relationship_score(inputs.relationship_years),
        "management": analyst_score(inputs.management_rating) or management_score(inputs.founded_year, today),
        "industry_outlook": analyst_score(inputs.industry_rating)
        or INDUSTRY_OUTLOOK.get(inputs.industry.strip().lower(), NEUTRAL),
        "external_rating": rating_score(inputs.external_rating),
        "collateral": collateral_score(inputs.collateral_cover),
        "strategic_importance": analyst_score(inputs.strategic_rating) or NEUTRAL,
    }


def weighted_score(weights: Mapping[str, int], factors: Mapping[str, int]) -> int:
    """Σ weight × factor / 100 (weights sum to 100), rounded half up to a whole point."""
    total = sum((Decimal(weights[name]) * factors[name] for name in weights), Decimal(0)) / 100
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def payment_history_score(days_late: Decimal | None) -> int:
    if days_late is None:
        return NEUTRAL
    for limit, score in ((0, 100), (15, 75), (30, 50), (60, 25)):
        if days_late <= limit:
            return score
    return 0


def financial_strength_score(current_ratio: Decimal | None, debt_ratio: Decimal | None) -> int:
    parts = []
    if current_ratio is not None:
        parts.append(
            next(
                s
                for bound, s in (
                    (Decimal("1.5"), 100),
                    (Decimal("1.2"), 70),
                    (Decimal("1.0"), 40),
                    (Decimal(0), 10),
                )
                if current_ratio >= bound
            )
        )
    if debt_ratio is not None:
        parts.append(
            next(
                (
                    s
                    for bound, s in ((Decimal("0.6"), 100), (Decimal("0.75"), 60), (Decimal("0.9"), 30))
                    if debt_ratio <= bound
                ),
                0,
            )
        )
    return sum(parts) // len(parts) if parts else NEUTRAL


def rating_score(rating: str | None) -> int:
    """An agency rating such as "BBB+" scored by its letter grade (neutral when unknown)."""
    return RATING_SCORES.get(_letter_grade(rating), NEUTRAL)


def has_rating(rating: str | None) -> bool:
    """Whether the customer has an agency rating the scorecard knows."""
    return _letter_grade(rating) in RATING_SCORES


def _letter_grade(rating: str | None) -> str:
    return (rating or "").upper().rstrip("+-")


def size_score(annual_revenue: Decimal | None) -> int:
    if annual_revenue is None:
        return 30
    bands = ((50_000_000, 100), (10_000_000, 80), (2_000_000, 60), (500_000, 40))
    return next((score for bound, score in bands if annual_revenue >= bound), 20)


def relationship_score(years: Decimal | None) -> int:
    """Years as our customer (since customer_since, or the first invoice): ≥5 100, ≥3 80, ≥1 60, new 30."""
    if years is None:
        return 30
    return next((score for bound, score in ((5, 100), (3, 80), (1, 60)) if years >= bound), 30)


def management_score(founded_year: int | None, today: date) -> int:
    """Company age, the proxy for management maturity while no analyst has rated it."""
    if founded_year is None:
        return 40
    age = today.year - founded_year
    return next((score for bound, score in ((20, 100), (10, 80), (5, 60), (2, 40)) if age >= bound), 20)


def analyst_score(rating: int | None) -> int | None:
    """An analyst's rating 1-5 as 20-100; None when not rated."""
    return rating * RATING_POINTS if rating else None


def collateral_score(cover: Decimal | None) -> int:
    """Counted collateral against the amount at risk: ≥100 % 100, ≥50 % 75, ≥25 % 50, any 25, none 0."""
    if not cover:
        return 0
    return next(
        (score for bound, score in ((1, 100), (Decimal("0.5"), 75), (Decimal("0.25"), 50)) if cover >= bound),
        25,
    )
