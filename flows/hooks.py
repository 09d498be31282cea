"""Flow-run state hooks: tell people when a run completes or fails (e-mail over SMTP, JSON to webhooks).

Training flows notify ``ZYGARDE_NOTIFY_EMAIL``; the job flow notifies whom its spec names. (The platform-wide
webhook is a Prefect automation that ``zygarde deploy --webhook URL`` creates.)
"""

from __future__ import annotations

import logging
from typing import Any

from prefect.client.schemas.objects import FlowRun, State
from prefect.settings import get_current_settings
from pydantic import BaseModel

from zygarde.notify import Notice, post_webhooks, send_email
from zygarde.settings import get_settings

log = logging.getLogger(__name__)


def notice_of(flow: Any, flow_run: FlowRun, state: State) -> Notice:
    """The notice of a finished run: its state, its outcome (a training summary's model decision) or failure."""
    facts: dict[str, Any] = {}
    if state.is_completed():
        try:
            result = state.result()
        except Exception:  # a result that cannot be read back still makes a notice
            result = None
        data = result.model_dump() if isinstance(result, BaseModel) else result if isinstance(result, dict) else {}
        facts = {key: data[key] for key in ("model", "mlflow", "test_metrics", "drifted") if key in data}
    model = facts.get("model") or {}
    outcome = f"{model['name']} v{model['version']}: {model['reason']}" if model else ""
    ui = get_current_settings().ui_url
    url = f"{ui.rstrip('/')}/runs/flow-run/{flow_run.id}" if ui else ""
    subject = f"zygarde: {flow.name} run {flow_run.name} {state.name}" + (f" ({outcome})" if outcome else "")
    body = "\n".join(part for part in (
        f"Flow {flow.name}, run {flow_run.name} ({flow_run.id}) ended {state.name}.",
        f"Outcome: {outcome}" if outcome else "",
        f"Reason: {state.message}" if state.message and not state.is_completed() else "",
        f"Run page: {url}" if url else "",
    ) if part)  # fmt: skip
    return Notice(subject, body, state.name, flow.name, str(flow_run.id), url, facts)


def notify_watchers(flow: Any, flow_run: FlowRun, state: State) -> None:
    """Hook of the training flows: mail ``ZYGARDE_NOTIFY_EMAIL``."""
    settings = get_settings()
    if settings.notify_addresses:
        send_email(settings, settings.notify_addresses, notice_of(flow, flow_run, state))


def notify_job_owner(flow: Any, flow_run: FlowRun, state: State) -> None:
    """Hook of the job flow: mail and post to whom the job spec's ``notify`` names."""
    notify = (flow_run.parameters.get("spec") or {}).get("notify") or {}
    emails, webhooks = list(notify.get("email") or []), list(notify.get("webhook") or [])
    if not emails and not webhooks:
        return
    notice = notice_of(flow, flow_run, state)
    send_email(get_settings(), emails, notice)
    post_webhooks(webhooks, notice)


TRAINING_HOOKS: dict[str, Any] = {"on_completion": [notify_watchers], "on_failure": [notify_watchers]}
