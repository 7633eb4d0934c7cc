"""customer balances

Revision ID: 0014a
Revises: 0013d
"""

import sqlalchemy as sa
from alembic import op

revision = "0014a"
down_revision = "0013d"
branch_labels = None
depends_on = None

BUCKETS = ("not_due", "days_1_30", "days_31_60", "days_61_90", "days_91_120", "over_120")
BALANCE_FILTERS = ("grade", "region", "industry", "sales_owner", "customer_currency", "key_customer")
FILTERS = (
    ("grade", ("grade",)),
    ("region", ("region",)),
    ("industry", ("industry",)),
    ("sales_owner", ("sales_owner",)),
    ("currency", ("currency",)),
    ("key", ("key_customer",)),
)


def upgrade() -> None:
    # The portfolio's maintained balances (workflows/credit/customer_balances.py): per customer and invoice
    # currency the open amount per aging bucket, per customer the base-currency sort amounts and filter
    # columns, the book's sums per currency (in shards), and the one row naming the day and rates they
    # hold. Created not rolled: the first portfolio request or the daily job `balances_roll` fills them.
    op.create_table(
        "customer_balances",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *(sa.Column(bucket, sa.BigInteger(), nullable=False) for bucket in BUCKETS),
        sa.Column("grade", sa.String(length=1), nullable=True),
        sa.Column("region", sa.String(length=80), nullable=True),
        sa.Column("industry", sa.String(length=80), nullable=False),
        sa.Column("sales_owner", sa.String(length=80), nullable=True),
        sa.Column("customer_currency", sa.String(length=3), nullable=False),
        sa.Column("key_customer", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("customer_id", "currency"),
    )
    # A filter's totals: one range of (filter, currency, buckets), read from the index alone.
    for column in BALANCE_FILTERS:
        op.create_index(
            f"ix_customer_balances_{column}",
            "customer_balances",
            [column, "currency", *BUCKETS],
            unique=False,
        )
    op.create_table(
        "customer_exposures",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("rate_missing", sa.Integer(), nullable=False),
        sa.Column("total_base", sa.Numeric(38, 10), nullable=True),
        sa.Column("overdue_base", sa.Numeric(38, 10), nullable=True),
        sa.Column("over_90_base", sa.Numeric(38, 10), nullable=True),
        sa.Column("grade", sa.String(length=1), nullable=True),
        sa.Column("region", sa.String(length=80), nullable=True),
        sa.Column("industry", sa.String(length=80), nullable=False),
        sa.Column("sales_owner", sa.String(length=80), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("key_customer", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    # The default sort (total, largest first), alone and after each filter; overdue and over 90 days.
    for name, first in (("total", ()), *FILTERS):
        op.create_index(
            f"ix_customer_exposures_{name}",
            "customer_exposures",
            [*first, "rate_missing", sa.text("total_base DESC"), "customer_id"],
            unique=False,
        )
    for name in ("overdue", "over_90"):
        op.create_index(
            f"ix_customer_exposures_{name}",
            "customer_exposures",
            ["rate_missing", sa.text(f"{name}_base DESC"), "customer_id"],
            unique=False,
        )
    op.create_table(
        "customer_balance_sums",
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        *(sa.Column(bucket, sa.BigInteger(), nullable=False) for bucket in BUCKETS),
        sa.PrimaryKeyConstraint("currency", "shard"),
    )
    op.create_table(
        "customer_balance_rolls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rolled_on", sa.Date(), nullable=True),
        sa.Column("base_currency", sa.String(length=3), nullable=False),
        sa.Column("rates", sa.JSON(), nullable=False),
        sa.Column("rolled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("customer_balance_rolls")
    op.drop_table("customer_balance_sums")
    for name in ("total", *(f for f, _ in FILTERS), "overdue", "over_90"):
        op.drop_index(f"ix_customer_exposures_{name}", table_name="customer_exposures")
    op.drop_table("customer_exposures")
    for column in BALANCE_FILTERS:
        op.drop_index(f"ix_customer_balances_{column}", table_name="customer_balances")
    op.drop_table("customer_balances")
