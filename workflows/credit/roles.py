"""Every group and process key of the credit domain, named once; who may do what is built from them.

Nothing else spells a group or a process key as a string literal: diagrams name them in their lanes,
and tests/bpmn/test_catalog.py checks those lanes against `GROUPS`.
"""

from __future__ import annotations

from workflows.users import ADMIN_GROUP, Actor

# --- groups ------------------------------------------------------------------------------------------
SALES = "sales"
CREDIT_ANALYST = "credit_analyst"
CREDIT_MANAGER = "credit_manager"
CFO = "cfo"
AUDITOR = "auditor"
COLLECTIONS = "collections"
LEGAL = "legal"
PROCUREMENT = "procurement"
PROCUREMENT_MANAGER = "procurement_manager"
FINANCE = "finance"
# Disputes: logistics investigates delivery and quantity disputes; a collections lead approves small credits.
LOGISTICS = "logistics"
COLLECTIONS_LEAD = "collections_lead"
PROCESS_OWNER = "process_owner"
ADMIN = ADMIN_GROUP

GROUPS = frozenset(
    {
        SALES,
        CREDIT_ANALYST,
        CREDIT_MANAGER,
        CFO,
        AUDITOR,
        COLLECTIONS,
        LEGAL,
        PROCUREMENT,
        PROCUREMENT_MANAGER,
        FINANCE,
        LOGISTICS,
        COLLECTIONS_LEAD,
        PROCESS_OWNER,
        ADMIN,
    }
)

# --- process keys ------------------------------------------------------------------------------------
CREDIT_APPLICATION = "credit_application"
CREDIT_LIMIT_REVIEW = "credit_limit_review"
DUNNING = "dunning"
SUPPLIER_CONTRACT_CHANGE = "supplier_contract_change"
PAYMENT_TERMS_EXCEPTION = "payment_terms_exception"
DISPUTE_RESOLUTION = "dispute_resolution"
# Legal proposes a legal outcome (recovered, settled, uncollectable); a write-off is approved by amount.
WRITE_OFF = "write_off"
# An over-limit order held by a credit check waits for a credit manager's release.
ORDER_RELEASE = "order_release"
# A second process owner approves a deployed version that calls an operation moving money.
DEFINITION_APPROVAL = "definition_approval"

# --- who may do what (README.md, "Who may do what"); admins may do everything -----------------------
PROCESS_OWNERS = frozenset({PROCESS_OWNER})
# The definitions workbench's versions, diagrams and decision tables; only process owners deploy.
DEFINITION_READERS = frozenset({PROCESS_OWNER, AUDITOR})
CUSTOMER_CREATORS = frozenset({SALES, CREDIT_ANALYST, CREDIT_MANAGER})
CUSTOMER_READERS = frozenset(
    {SALES, CREDIT_ANALYST, CREDIT_MANAGER, CFO, COLLECTIONS, LEGAL, FINANCE, PROCUREMENT, AUDITOR}
)
SUPPLIER_CREATORS = frozenset({PROCUREMENT, PROCUREMENT_MANAGER})
SUPPLIER_READERS = frozenset(
    {PROCUREMENT, PROCUREMENT_MANAGER, FINANCE, LEGAL, CFO, CREDIT_ANALYST, CREDIT_MANAGER, AUDITOR}
)
RECEIVABLE_WRITERS = frozenset({FINANCE, COLLECTIONS})
# Open orders and their credit checks come from the ERP's users (finance, sales); readers as for invoices.
ORDER_WRITERS = frozenset({FINANCE, SALES})
PROVISION_READERS = frozenset({FINANCE, CREDIT_MANAGER, CFO, COLLECTIONS, AUDITOR})
# The credit KPIs (GET /api/kpis, docs/kpis.md): the credit staff and the CFO; auditors read them.
KPI_READERS = frozenset({CREDIT_ANALYST, CREDIT_MANAGER, CFO, AUDITOR})
# The collectors' worklist (/collections) and contact log: the collector groups work the cases their
# dunning version lets send promise_to_pay (its `senderGroups`); leads, credit managers and auditors read all.
COLLECTION_OVERSEERS = frozenset({COLLECTIONS_LEAD, CREDIT_MANAGER, AUDITOR})
COLLECTION_READERS = frozenset({COLLECTIONS}) | COLLECTION_OVERSEERS
# Exchange rates into the base currency: finance posts them, the staff read them. Not the credit managers:
# the authority tables compare limits, write-offs and credits in the base currency at these rates, so an
# approver who set a rate would choose who must approve (a GBP rate of 0.0000000001 makes any GBP limit
# a manager's alone).
FX_RATE_WRITERS = frozenset({FINANCE})
FX_RATE_READERS = CUSTOMER_READERS | SUPPLIER_READERS
# The monthly provision run from the shell (`creditflow provisions --post --user U`); the daily job posts as
# the system.
PROVISION_POSTERS = frozenset({FINANCE, CREDIT_MANAGER})
# Disputes and credit notes: whoever raises, investigates, approves or audits them.
DISPUTE_OWNER_GROUPS = (SALES, LOGISTICS, FINANCE)  # who investigates a dispute, by its owner_group
DISPUTE_READERS = CUSTOMER_READERS | frozenset({LOGISTICS, COLLECTIONS_LEAD})
# Auditors read every instance, customer, supplier and contract, and change nothing.
READ_ALL = frozenset({AUDITOR})


def changes_nothing(actor: Actor) -> bool:
    """Whether the actor is only an auditor: then no start, task, claim or message is theirs, whatever a
    diagram names (a lane, `startGroups`, `candidateGroups`, `senderGroups` or an `assignee`)."""
    return not actor.is_admin and bool(actor.groups) and actor.groups <= READ_ALL


RATING_RECORDERS = frozenset({CREDIT_ANALYST, CREDIT_MANAGER})
# Key customers (workflows/credit/key_customers.py): the credit staff name them; /portfolio is read by the
# credit staff, the CFO and auditors.
KEY_CUSTOMER_SETTERS = frozenset({CREDIT_ANALYST, CREDIT_MANAGER})
PORTFOLIO_READERS = frozenset({CREDIT_ANALYST, CREDIT_MANAGER, CFO, AUDITOR})

# --- who must approve a money move: the groups each level of an authority table needs (cumulative) ------
# Each group's approval must come from a different person, none of them the initiator.
# approval_authority.dmn (`approval_level`): a new or higher credit limit.
LIMIT_AUTHORITY: dict[str, tuple[str, ...]] = {
    "analyst": (CREDIT_ANALYST,),
    "manager": (CREDIT_ANALYST, CREDIT_MANAGER),
    CFO: (CREDIT_ANALYST, CREDIT_MANAGER, CFO),
}
# contract_change_authority.dmn (`approval_level`): a supplier contract change, by its value impact.
CONTRACT_CHANGE_AUTHORITY: dict[str, tuple[str, ...]] = {
    PROCUREMENT_MANAGER: (PROCUREMENT_MANAGER,),
    CFO: (PROCUREMENT_MANAGER, CFO),
}

# dispute_credit_authority.dmn (`approval_level`): a dispute's credit note, by its amount in the base
# currency (one approval by someone other than the collector who raised it and the owner who proposed it).
DISPUTE_CREDIT_AUTHORITY: dict[str, tuple[str, ...]] = {
    COLLECTIONS_LEAD: (COLLECTIONS_LEAD,),
    CREDIT_MANAGER: (CREDIT_MANAGER,),
}

# write_off_authority.dmn (`approval_level`): a write-off, by its amount in the base currency.
WRITE_OFF_AUTHORITY: dict[str, tuple[str, ...]] = {
    CREDIT_MANAGER: (CREDIT_MANAGER,),
    CFO: (CREDIT_MANAGER, CFO),
}
# Who proposes a legal outcome (starts write_off) and who lifts a credit block a legal outcome left.
WRITE_OFF_PROPOSERS = frozenset({LEGAL})
BLOCK_LIFTERS = frozenset({CREDIT_MANAGER})

# An over-limit order's release (order_release): a credit manager other than whoever asked for the check.
ORDER_RELEASE_AUTHORITY: tuple[str, ...] = (CREDIT_MANAGER,)

# The demo users of `init --demo` (README.md, "Demo users"): one group each, password "demo".
DEMO_USERS: dict[str, str] = {
    "sales1": SALES,
    "analyst1": CREDIT_ANALYST,
    "manager1": CREDIT_MANAGER,
    "cfo1": CFO,
    "auditor1": AUDITOR,
    "collector1": COLLECTIONS,
    "lead1": COLLECTIONS_LEAD,
    "logistics1": LOGISTICS,
    "legal1": LEGAL,
    "buyer1": PROCUREMENT,
    "pm1": PROCUREMENT_MANAGER,
    "finance1": FINANCE,
    "owner1": PROCESS_OWNER,
    "admin": ADMIN,
}
