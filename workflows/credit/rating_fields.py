"""Who may type a customer's external rating: the credit staff who record ratings (POST
/customers/ID/rating), never whoever merely creates the customer. A rating typed by sales at creation
lifted a new customer's grade (a customer without history, capped at C, graded B with "AAA")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.credit.roles import RATING_RECORDERS
from workflows.errors import Forbidden
from workflows.messages import _
from workflows.users import Actor

# The fields of a customer that only RATING_RECORDERS (or an admin) may set, on any path that writes them.
RATING_FIELDS = ("external_rating", "rating_agency", "rating_date")


def check_rating_fields(actor: Actor, raw: Mapping[str, Any], *, action: str) -> None:
    """Refuse rating fields (an empty value counts as absent) from anyone but the credit staff or an admin,
    before anything is written.

    Raises:
        Forbidden: naming the fields sent and who may set them.
    """
    sent = [name for name in RATING_FIELDS if raw.get(name) not in (None, "")]
    if not sent or actor.in_any(RATING_RECORDERS):
        return
    raise Forbidden(
        _(
            "%(user)s may not set %(sent)s when they %(action)s: only "
            "%(rating_recorders)s or admin record external ratings; leave them out "
            "and ask credit staff to record the rating (POST "
            "/api/customers/ID/rating)",
            user=actor.username,
            sent=", ".join(sent),
            action=action,
            rating_recorders=", ".join(sorted(RATING_RECORDERS)),
        ),
        # Field -> sentence, as every error's `fields` (the OpenAPI ErrorDetail and the 422s) has it.
        details={"fields": dict.fromkeys(sent, _("Only credit staff record external ratings."))},
    )
