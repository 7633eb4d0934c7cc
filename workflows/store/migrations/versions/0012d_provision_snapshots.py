"""monthly provision snapshots and their movements

Revision ID: 0012d
Revises: 0012c
"""

import sqlalchemy as sa
from alembic import op

revision = "0012d"
down_revision = "0012c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provision_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("base_currency", sa.String(length=3), nullable=False),
        sa.Column("matrix", sa.String(length=120), nullable=False),
        sa.Column("previous_id", sa.Integer(), nullable=True),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("matrix_provision", sa.BigInteger(), nullable=False),
        sa.Column("specific_provision", sa.BigInteger(), nullable=False),
        sa.Column("opening", sa.BigInteger(), nullable=False),
        sa.Column("charge", sa.BigInteger(), nullable=False),
        sa.Column("release", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.Column("closing", sa.BigInteger(), nullable=False),
        sa.Column("posted_by", sa.String(length=80), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["previous_id"], ["provision_runs.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("as_of"),
    )
    op.create_table(
        "provision_run_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("bucket", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("fx_rate", sa.BigInteger(), nullable=False),
        sa.Column("balance_base", sa.BigInteger(), nullable=False),
        sa.Column("rate", sa.BigInteger(), nullable=False),
        sa.Column("provision", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["provision_runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_provision_run_lines_run", "provision_run_lines", ["run_id"], unique=False)
    op.create_table(
        "provision_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provision_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"]),
        sa.ForeignKeyConstraint(["provision_id"], ["provisions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_provision_releases_at", "provision_releases", ["at"], unique=False)
    op.create_index(
        op.f("ix_provision_releases_provision_id"), "provision_releases", ["provision_id"], unique=False
    )
    # What recoveries and write-offs took off a specific provision (hundredths, as Decimal2 stores money).
    with op.batch_alter_table("provisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("released_amount", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("provisions", schema=None) as batch_op:
        batch_op.drop_column("released_amount")
    op.drop_index(op.f("ix_provision_releases_provision_id"), table_name="provision_releases")
    op.drop_index("ix_provision_releases_at", table_name="provision_releases")
    op.drop_table("provision_releases")
    op.drop_index("ix_provision_run_lines_run", table_name="provision_run_lines")
    op.drop_table("provision_run_lines")
    op.drop_table("provision_runs")
