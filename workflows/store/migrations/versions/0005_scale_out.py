"""scale-out guard: at most one active dunning case per customer, enforced by the database

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ACTIVE = "status IN ('open', 'paused', 'disputed', 'legal')"


def upgrade() -> None:
    duplicates = (
        op.get_bind()
        .execute(
            sa.text(
                f"SELECT customer_id, COUNT(*) FROM dunning_cases WHERE {ACTIVE} "
                "GROUP BY customer_id HAVING COUNT(*) > 1 ORDER BY customer_id"
            )
        )
        .all()
    )
    if duplicates:
        listed = ", ".join(f"customer {c} ({n} cases)" for c, n in duplicates[:20])
        raise RuntimeError(
            f"cannot add the one-active-dunning-case index: {len(duplicates)} customer(s) have several "
            f"active cases: {listed}. Close all but the newest of each (status 'closed') and migrate again."
        )
    op.create_index(
        "ux_dunning_cases_one_active",
        "dunning_cases",
        ["customer_id"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("ux_dunning_cases_one_active", table_name="dunning_cases")
