"""The one table from service operation names (as diagrams use them) to handler functions.

Operations that move money (limits, contract versions, dispute credit notes; write-offs when they come) are
marked `moves_money` with the rule that finds their approvals: the engine checks the rule before the
handler runs, and a diagram calling one deploys only once a second process owner approves it. Operations
that only read are marked `writes=False`: a step runs them without a savepoint (workflows/engine/step.py).

Entry points (the web app, the CLI, Prefect flows, tests) call `build_operations()` and hand the table
to the Runtime; nothing registers itself on import, so a test that adds an operation to its own copy
leaks nothing into other tests.
"""

from __future__ import annotations

from handlers import (
    contracts,
    credit_file,
    credit_scoring,
    definition_approval,
    disputes,
    dunning,
    dunning_close,
    dunning_disputes,
    dunning_notices,
    dunning_promises,
    legal_handover,
    limit_decision,
    limit_review,
    notifications,
    orders,
    supplier_risk,
    write_offs,
)
from workflows.engine.service_tasks import Operation


def build_operations() -> dict[str, Operation]:
    """Every shipped service operation, by the name diagrams call it."""
    table = [
        Operation(
            "contract.approve_change",
            contracts.approve_change,
            contracts.ApproveChangeRequest,
            moves_money=True,
            approvals=contracts.change_approvals,
        ),
        Operation("contract.expire_change", contracts.expire_change, contracts.ExpireChangeRequest),
        Operation("contract.open_change", contracts.open_change, contracts.OpenChangeRequest),
        Operation("contract.record_safeguard", contracts.store_safeguard, contracts.SafeguardRequest),
        Operation(
            "contract.record_version",
            contracts.record_version,
            contracts.RecordVersionRequest,
            moves_money=True,
            approvals=contracts.change_approvals,
        ),
        Operation("contract.reject_change", contracts.reject_change, contracts.RejectChangeRequest),
        Operation(
            "credit.apply_limit",
            limit_decision.apply_limit,
            limit_decision.ApplyLimitRequest,
            moves_money=True,
            approvals=limit_decision.limit_approvals,
        ),
        Operation(
            "credit.check_recommendation",
            limit_decision.check_recommendation,
            limit_decision.CheckRecommendationRequest,
        ),
        Operation(
            "credit.load_file", credit_file.load_credit_file, credit_file.CreditFileRequest, writes=False
        ),
        # Activating a version lets it move money: checked like a money move, so it needs a second owner.
        Operation(
            "definition.activate",
            definition_approval.activate,
            definition_approval.DecideDefinitionRequest,
            moves_money=True,
            approvals=definition_approval.activation_approvals,
        ),
        Operation(
            "definition.reject", definition_approval.reject, definition_approval.DecideDefinitionRequest
        ),
        Operation(
            "credit.propose_limit",
            limit_decision.propose_limit,
            limit_decision.ProposeLimitRequest,
            writes=False,
        ),
        Operation("credit.record_ratings", credit_file.record_ratings, credit_file.RatingsRequest),
        Operation("credit.record_score", limit_decision.record_score, limit_decision.RecordScoreRequest),
        Operation("credit.score", credit_scoring.score_customer, credit_scoring.ScoreRequest, writes=False),
        Operation("dispute.close", disputes.close, disputes.CloseRequest),
        Operation("dispute.notify_outcome", disputes.notify_outcome, disputes.DisputeRequest),
        Operation("dispute.open", disputes.open_, disputes.OpenDisputeRequest),
        Operation(
            "dispute.post_credit",
            disputes.post_credit_note,
            disputes.DisputeRequest,
            moves_money=True,
            approvals=disputes.credit_approvals,
        ),
        Operation("dispute.record_proposal", disputes.propose, disputes.ProposalRequest),
        Operation("dunning.close_case", dunning_close.close_case, dunning_close.CloseRequest),
        Operation("dunning.current_grade", dunning.current_grade, dunning.CaseRequest),
        Operation(
            "dunning.decide_promise", dunning_promises.decide_promise, dunning_promises.PromiseDecisionRequest
        ),
        Operation("dunning.escalate", dunning_notices.escalate, dunning_notices.EscalateRequest),
        Operation("dunning.legal_handover", legal_handover.legal_handover, dunning.CaseRequest),
        Operation("dunning.open_case", dunning.open_case, dunning.OpenCaseRequest),
        Operation(
            "dunning.raise_dispute", dunning_disputes.raise_dispute, dunning_disputes.RaiseDisputeRequest
        ),
        Operation("dunning.record_promise", dunning_promises.record_promise, dunning_promises.PromiseRequest),
        Operation("dunning.review", dunning.review_case, dunning.ReviewRequest),
        Operation("dunning.send_notice", dunning_notices.send_notice, dunning_notices.NoticeRequest),
        Operation("limit.assess_review", limit_review.assess_review, limit_review.AssessRequest),
        # Its one write is queue_email's INSERT, last: no savepoint on SQLite (Operation.writes_once).
        Operation(
            "notify.email", notifications.notify_email, notifications.NotifyEmailRequest, writes_once=True
        ),
        Operation("order.keep_held", orders.keep_held, orders.OrderDecisionRequest),
        # Releasing an order over the limit extends credit: a credit manager, not the requester, approves.
        Operation(
            "order.release",
            orders.release_order,
            orders.OrderDecisionRequest,
            moves_money=True,
            approvals=orders.release_approvals,
        ),
        Operation(
            "supplier.record_evaluation",
            supplier_risk.record_supplier_evaluation,
            supplier_risk.RecordEvaluationRequest,
        ),
        Operation("supplier.risk_check", supplier_risk.risk_check, supplier_risk.RiskCheckRequest),
        Operation("write_off.open", write_offs.open_write_off, write_offs.OpenRequest),
        Operation(
            "write_off.post",
            write_offs.post_write_off,
            write_offs.PostRequest,
            moves_money=True,
            approvals=write_offs.write_off_approvals,
        ),
        Operation("write_off.reject", write_offs.reject_write_off, write_offs.RejectRequest),
    ]
    return {op.name: op for op in table}
