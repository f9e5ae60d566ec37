"""The one rounding rule for shares shown anywhere (reports, quiz analysis, scores, the live view)."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def percent(part: int, whole: int) -> float | None:
    """`part` of `whole` in per cent with one decimal, halves rounded up (5 of 8 is 62.5, 2 of 3 is 66.7);
    None when there is no whole to share. Decimal, because float rounding sends some halves down."""
    if not whole:
        return None
    exact = Decimal(100) * Decimal(part) / Decimal(whole)
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def one_decimal(value: float | Decimal) -> float:
    """An average or other computed share rounded by the same rule (one decimal, halves up)."""
    return float(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def best_percent(results) -> float | None:
    """The best of several (right, asked) quiz results in per cent, by the one rule; None for no results."""
    shares = [percent(right, asked) for right, asked in results if asked]
    return max(shares) if shares else None


def score_text(part: int, whole: int) -> str:
    """A quiz score as a member reads it: "85%", "62.5%" (the same rounding, without a trailing ".0")."""
    value = percent(part, whole) or 0.0
    return f"{value:g}%"
