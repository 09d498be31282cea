"""zygarde as a service on a Prefect server: register the deployments, send job requests, feed new data.

Every function here talks to the Prefect API the user configured (``PREFECT_API_URL``, from the environment or
the active profile) and refuses to run without one that answers: without it Prefect would start a throwaway
server of its own, and a deployment or an event sent there is silently lost.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zygarde.errors import ZygardeError
from zygarde.files import write_atomically
from zygarde.settings import Settings
from zygarde.tables import TABLE_SUFFIXES, read_table

POOL = "zygarde"
WEBHOOK_BLOCK = "zygarde-webhook"
AUTOMATION = "zygarde-notify-webhook"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
log = logging.getLogger(__name__)


def require_api(command: str) -> str:
    """The configured Prefect API's URL, checked to answer; a clear refusal otherwise."""
    from zygarde.orchestration import check_reachable, configured_api_url

    url = configured_api_url()
    if not url:
        raise ZygardeError(
            f"zygarde {command} needs a running Prefect server: start `prefect server start`, then "
            "`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api` (or export PREFECT_API_URL)."
        )
    check_reachable(url)
    return url


# --- deployments -------------------------------------------------------------------------------------------


def ensure_pool(name: str = POOL) -> bool:
    """Create the ``process`` work pool ``name`` unless it exists; True if it was created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
            return False
        except ObjectNotFound:
            template = ProcessWorker.get_default_base_job_template()
            client.create_work_pool(WorkPoolCreate(name=name, type="process", base_job_template=template))
            return True


def deploy(prefect_file: Path, pool: str, log_file: Path) -> list[str]:
    """Register every deployment of ``prefect_file`` (``prefect deploy --all``); their names."""
    prefect_cli = Path(sys.executable).with_name("prefect")
    command = [str(prefect_cli), "--no-prompt", "deploy", "--all", "--prefect-file", str(prefect_file), "--pool", pool]
    with tempfile.TemporaryDirectory(prefix="zygarde-deploy-") as cwd, log_file.open("a") as out:
        done = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = "\n".join(log_file.read_text().splitlines()[-15:])
        raise ZygardeError(f"prefect deploy failed (exit {done.returncode}):\n{tail}")
    import yaml

    names = [d["name"] for d in yaml.safe_load(prefect_file.read_text())["deployments"]]
    return names


def notify_webhook(url: str) -> str:
    """A webhook notification block and an automation that posts to it when a zygarde flow run completes,
    fails or crashes (replacing an earlier one); the automation's name."""
    from prefect.automations import Automation
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.exceptions import ObjectNotFound

    block = CustomWebhookNotificationBlock(
        name="zygarde",
        url=url,
        json_data={"subject": "{{subject}}", "body": "{{body}}", "source": "zygarde"},
    )
    block_id = block.save(WEBHOOK_BLOCK, overwrite=True)
    with contextlib.suppress(ObjectNotFound, ValueError):
        Automation.read(name=AUTOMATION).delete()
    automation = Automation(
        name=AUTOMATION,
        description="Tell the webhook when a zygarde flow run completes or fails.",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Completed", "prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
            match_related={"prefect.resource.id": "prefect.tag.zygarde"},
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[
            SendNotification(
                block_document_id=block_id,
                subject="zygarde: {{ flow.name }} run {{ flow_run.name }} {{ flow_run.state.name }}",
                body="Flow {{ flow.name }}, run {{ flow_run.name }} ({{ flow_run.id }}) ended "
                "{{ flow_run.state.name }}. {{ flow_run.state.message or '' }}",
            )
        ],
    )
    automation.create()
    return AUTOMATION


# --- job requests --------------------------------------------------------------------------------------------


def submit(spec: Any, deployment: str, wait: float | None) -> Any:
    """Start a run of the job ``deployment`` with ``spec``; wait up to ``wait`` seconds (None: forever, 0: not)."""
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    try:
        return run_deployment(
            deployment, parameters={"spec": spec.model_dump(mode="json")}, timeout=wait, as_subflow=False
        )
    except ObjectNotFound:
        raise ZygardeError(
            f"No deployment {deployment!r} on this Prefect server; run `zygarde deploy` first."
        ) from None


def outcome_of(flow_run_id: Any) -> str | None:
    """The ``outcome`` artifact (markdown) of a flow run or of the training flow it ran as a subflow."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
    )

    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id]))
        )
        runs = [flow_run_id, *(child.id for child in children)]
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["outcome"]), flow_run_id=ArtifactFilterFlowRunId(any_=runs)
            )
        )
    return str(found[-1].data) if found else None


def flow_run_url(flow_run_id: Any) -> str:
    """The flow run's page in the Prefect UI (empty when no UI URL is known)."""
    from prefect.settings import get_current_settings

    ui = get_current_settings().ui_url
    return f"{ui.rstrip('/')}/runs/flow-run/{flow_run_id}" if ui else ""


# --- new data ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ingested:
    """A batch copied into the data root, and the event that announced it."""

    path: Path
    dataset: str
    rows: int
    labelled: bool | None
    event: str
    event_id: str


def ingest(source: Path, dataset: str, settings: Settings, *, observed: bool = False) -> Ingested:
    """Copy ``source`` into ``<incoming dir>/<dataset>/`` (``Settings.incoming_dir``) atomically, then announce it.

    ``zygarde.dataset.updated`` (new training data) or, with ``observed``, ``zygarde.dataset.observed`` (rows
    the model meets in production: the drift monitor's input). The event's resource names the dataset, and says
    whether the batch carries the built-in's target (``zygarde.labelled``): only labelled batches retrain.
    """
    from zygarde.tabular.datasets import BUILTIN_DATASETS

    if not _NAME.match(dataset):
        raise ZygardeError(f"--dataset {dataset!r}: use lower-case letters, digits, '-' and '_' (e.g. diabetes).")
    if source.suffix.lower() not in TABLE_SUFFIXES:
        raise ZygardeError(f"{source}: zygarde ingests tables ({', '.join(TABLE_SUFFIXES)}), not {source.suffix!r}.")
    frame = read_table(source)  # missing, empty, garbled: refused before anything is copied
    builtin = BUILTIN_DATASETS.get(dataset)
    labelled = None if builtin is None else builtin.target in frame.columns
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    kind = "observed" if observed else "updated"
    folder = settings.incoming_dir / dataset / ("observed" if observed else "")
    target = write_atomically(folder / f"{stamp}-{source.name}", lambda tmp: shutil.copyfile(source, tmp))
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    resource = {
        "prefect.resource.id": f"zygarde.dataset.{dataset}",
        "prefect.resource.name": dataset,
        "zygarde.labelled": {True: "true", False: "false", None: "unknown"}[labelled],
    }
    payload = {
        "path": str(target),
        "dataset": dataset,
        "rows": len(frame),
        "columns": [str(c) for c in frame.columns],
        "sha256": digest,
        "labelled": labelled,
        "source": str(source.resolve()),
    }
    event = emit(f"zygarde.dataset.{kind}", resource=resource, payload=payload)
    return Ingested(target, dataset, len(frame), labelled, f"zygarde.dataset.{kind}", event)


def emit(event: str, resource: dict[str, str], payload: dict[str, Any]) -> str:
    """Emit an event to the configured API and wait until it is sent; its id."""
    from prefect.events import emit_event

    from zygarde.orchestration import flush_to_api

    sent = emit_event(event, resource=resource, payload=payload)
    if sent is None:
        raise ZygardeError("Prefect did not emit the event (no API configured?); nothing was announced.")
    flush_to_api()
    return str(sent.id)


def watch(folder: Path, on_file: Callable[[Path], bool], *, interval: float = 2.0, once: bool = False) -> None:
    """Hand every table file that appears in ``folder`` to ``on_file`` once it is complete (its size and time
    unchanged over one ``interval``), then move it into ``folder/.ingested`` (or ``.rejected`` when ``on_file``
    returns False); ``once``: one pass, then return."""
    if not folder.is_dir():
        raise ZygardeError(f"{folder} is not a folder; `zygarde watch` watches a folder for new files.")
    seen: dict[Path, tuple[int, float]] = {}
    while True:
        for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES):
            stat = path.stat()
            mark = (stat.st_size, stat.st_mtime)
            if seen.get(path) != mark and not once:  # still being written, or new: look again next pass
                seen[path] = mark
                continue
            done = folder / (".ingested" if on_file(path) else ".rejected")
            done.mkdir(exist_ok=True)
            path.replace(done / path.name)
            seen.pop(path, None)
        if once:
            return
        time.sleep(interval)
