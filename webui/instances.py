"""/instances: the cases a user may see, each with its status, data, tasks, history, incidents and diagram."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from webui.auth import login_required_view, web_actor
from webui.diagram_names import prime
from webui.diagrams import instance_markers
from webui.i18n import status_label
from webui.services import page_arg, services
from workflows.credit.roles import PROCESS_OWNERS
from workflows.decision_log import decision_ids_of, decisions_of
from workflows.definitions.versions import process_keys
from workflows.engine import runner
from workflows.instances import instance_detail, list_instances
from workflows.store.models import InstanceStatus
from workflows.store.paging import Page

bp = Blueprint("instances", __name__)

HISTORY_PAGE = "history_page"
DECISIONS_PAGE = "decisions_page"


@bp.get("/instances")
@login_required_view
def index() -> str:
    svc = services()
    flt = {
        "process_key": request.args.get("process") or None,
        "status": request.args.get("status") if request.args.get("status") in InstanceStatus.ALL else None,
        "business_key": (request.args.get("business_key") or "").strip() or None,
    }
    page, per_page = page_arg("page"), svc.rt.settings.web.page_size
    with svc.rt.factory() as session:
        rows, total = list_instances(session, web_actor(), page=page, per_page=per_page, **flt)
        prime(row.id for row in rows)  # the rows' versions, for the process names in zh
        return render_template(
            "instances/list.html",
            found=Page(rows, total, page, per_page),
            flt=flt,
            statuses=InstanceStatus.ALL,
            processes=process_keys(session),
            args={k: v for k, v in request.args.items() if k != "page" and v},
        )


@bp.get("/instances/<int:instance_id>")
@login_required_view
def show(instance_id: int) -> str:
    svc = services()
    now = svc.clock()
    history_page, per_page = page_arg(HISTORY_PAGE), svc.rt.settings.web.page_size
    decision = (request.args.get("decision") or "").strip()[:120] or None
    actor = web_actor()
    with svc.rt.factory() as session:
        found = instance_detail(session, actor, instance_id, history_page=history_page, per_page=per_page)
        taken = decisions_of(
            session, actor, instance_id, decision=decision, page=page_arg(DECISIONS_PAGE), per_page=per_page
        )
        return render_template(
            "instances/show.html",
            instance=found.instance,
            now=now,
            tasks=found.tasks,
            task_titles={t.id: t.title for t in found.tasks},
            events=found.events,
            incidents=found.incidents,
            markers=instance_markers(found.path).as_dict(),
            history_param=HISTORY_PAGE,
            decisions=taken,
            decision=decision,
            decision_ids=decision_ids_of(session, instance_id),
            decisions_param=DECISIONS_PAGE,
            is_process_owner=actor.in_any(PROCESS_OWNERS),
        )


@bp.post("/instances/<int:instance_id>/retry")
@login_required_view
def retry(instance_id: int) -> Response:
    """Re-run the failed step (admin only; the runner refuses anyone else)."""
    svc = services()
    instance = runner.retry_instance(svc.rt, instance_id, actor=web_actor(), now=svc.clock())
    svc.nudge()
    flash(
        _(
            "Retried %(key)s #%(id)s: it is now %(status)s.",
            key=instance.process_key,
            id=instance.id,
            status=status_label(instance.status),
        )
    )
    return redirect(url_for("instances.show", instance_id=instance.id))
