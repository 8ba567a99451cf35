"""The card money books that the fault recipes and the chaos run compare: what the payment gateway (pg-sim)
kept against what Marquee booked as card money (docs/reliability.md, ADR 0028 for refunds)."""

from __future__ import annotations

# Card parts of APPROVED payments and of REFUNDED ones less their confirmed refunds, plus APPROVED top-ups.
MARQUEE_CARD_MONEY = (
    "SELECT (SELECT coalesce(sum(card_amount), 0) FROM payment.payments WHERE state IN ('APPROVED', 'REFUNDED'))"
    " - (SELECT coalesce(sum(card_amount), 0) FROM payment.refunds WHERE state = 'REFUNDED')"
    " + (SELECT coalesce(sum(amount), 0) FROM wallet.charges WHERE state = 'APPROVED')"
)


def gateway_kept(stats: dict) -> int:
    """pg-sim's `/v1/admin/stats`: approved, less cancelled, less refunded (KRW)."""
    return (
        int(stats.get("approvedAmount", 0))
        - int(stats.get("cancelledAmount", 0))
        - int(stats.get("refundedAmount", 0))
    )
