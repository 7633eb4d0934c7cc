"""Alembic environment: runs on the connection handed over by workflows.store.schema."""

from alembic import context

import workflows.credit.collateral  # noqa: F401  (the collateral table)
import workflows.credit.collection_contacts  # noqa: F401  (the contact log of dunning cases, 0013c)
import workflows.credit.customer_balances  # noqa: F401  (the portfolio's maintained balances, 0014a)
import workflows.credit.disputes  # noqa: F401  (disputes, their lines and credit notes)
import workflows.credit.fx  # noqa: F401  (puts the exchange-rate table on Base.metadata)
import workflows.credit.kpi_snapshots  # noqa: F401  (stored KPIs of finished periods, 0013a)
import workflows.credit.models  # noqa: F401  (puts the credit tables on Base.metadata)
import workflows.credit.order_tables  # noqa: F401  (open orders and credit checks)
import workflows.credit.promises  # noqa: F401  (promises to pay of dunning cases)
import workflows.credit.provision_tables  # noqa: F401  (the provision snapshots, migration 0012d)
import workflows.credit.watchlist  # noqa: F401  (the early-warning watchlist, 0013d)
import workflows.credit.write_offs  # noqa: F401  (write-offs, their provision uses and recoveries)
import workflows.store.decision_log_table  # noqa: F401  (one row per DMN evaluation, 0014b)
import workflows.store.login_tables  # noqa: F401  (the login tables too)
import workflows.store.sink_tables  # noqa: F401  (and the mail sink's)
from workflows.store.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
