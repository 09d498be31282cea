"""zygarde as a service, as a user runs it: a real `prefect server` (temporary PREFECT_HOME, 127.0.0.1), the
shipped prefect.yaml deployed by `zygarde deploy`, a real process worker, runs started by API, by job spec, by
events; notices caught by a local webhook and a local SMTP server."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml

from tests.helpers import DATA, CliRun, free_port, stop_process, zygarde

pytestmark = [pytest.mark.slow, pytest.mark.integration]
BIN = Path(sys.executable).parent
SMALL = {"algorithms": ["rf"], "trials": 1, "cv": 2}  # one quick trial: these tests are about the platform


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append(json.loads(body or b"{}"))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd hook)
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode(errors="replace")))
        return "250 OK"


@dataclass
class Platform:
    """The running platform and what its notices delivered."""

    api: str
    env: dict[str, str]
    data_root: Path
    work_dir: Path
    webhook: list[dict[str, Any]]
    webhook_url: str
    mailbox: _Mailbox

    def cli(self, *args: str) -> CliRun:
        return zygarde(*args, env=self.env)

    def prefect(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "prefect"), *args], env={**os.environ, **self.env}, capture_output=True,
                              text=True, timeout=120, check=True)  # fmt: skip

    def client(self) -> Any:
        from prefect.client.orchestration import SyncPrefectClient

        return SyncPrefectClient(self.api)

    def runs(self, deployment: str) -> list[Any]:
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId

        with self.client() as client:
            found = client.read_deployment_by_name(deployment)
            return client.read_flow_runs(
                flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=[found.id]))
            )

    def wait_for(self, deployment: str, match: Any, timeout: float = 240) -> Any:
        """The first run of ``deployment`` whose parameters satisfy ``match``, once it is final."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for run in self.runs(deployment):
                if match(run.parameters) and run.state is not None and run.state.is_final():
                    return run
            time.sleep(1)
        raise AssertionError(f"no finished run of {deployment} matched within {timeout} s: {self.runs(deployment)}")

    def wait_final(self, flow_run_id: str, timeout: float = 240) -> Any:
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while time.monotonic() < deadline:
                run = client.read_flow_run(flow_run_id)
                if run.state is not None and run.state.is_final():
                    return run
                time.sleep(1)
        raise AssertionError(f"flow run {flow_run_id} did not finish within {timeout} s")

    def mlflow_runs(self, flow_run_id: Any) -> list[Any]:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(f"sqlite:///{self.work_dir / 'mlflow.db'}")
        experiments = [e.experiment_id for e in client.search_experiments()]
        return client.search_runs(experiments, f"tags.`prefect.flow_run_id` = '{flow_run_id}'")

    def mlflow_trainings(self, registry_name: str) -> list[Any]:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(f"sqlite:///{self.work_dir / 'mlflow.db'}")
        experiments = [e.experiment_id for e in client.search_experiments()]
        query = f"tags.`zygarde.registry_name` = '{registry_name}' and tags.`zygarde.family` = 'tabular'"
        return [r for r in client.search_runs(experiments, query) if "mlflow.parentRunId" not in r.data.tags]

    def events(self, name: str, resource: str | None = None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"event": {"name": [name]}, "occurred": {"since": "2000-01-01T00:00:00Z"}}
        if resource:
            query["resource"] = {"id": [resource]}
        found = httpx.post(f"{self.api}/events/filter", json={"filter": query, "limit": 50}, timeout=10)
        return found.json()["events"]


@pytest.fixture(scope="module")
def platform(dask_address: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """Server, pool and deployments (`zygarde deploy`), a worker, a webhook and an SMTP server; all stopped after."""
    from aiosmtpd.controller import Controller

    root = tmp_path_factory.mktemp("platform")
    data_root, work_dir, home = root / "data", root / "work", root / "prefect-home"
    data_root.mkdir()
    for table in DATA.glob("*.csv"):
        shutil.copy(table, data_root)
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ZYGARDE_", "MLFLOW_"))}
    server_env = {**base, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                  "PREFECT_UI_ENABLED": "false"}  # fmt: skip
    server = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    received: list[dict[str, Any]] = []
    webhook = ThreadingHTTPServer(("127.0.0.1", 0), type("Hook", (_Webhook,), {"received": received}))
    threading.Thread(target=webhook.serve_forever, daemon=True).start()
    mailbox = _Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    env = {**server_env, "PREFECT_API_URL": api, "ZYGARDE_DATA_ROOT": str(data_root), "ZYGARDE_WORK_DIR": str(work_dir),
           "ZYGARDE_DASK_ADDRESS": dask_address, "ZYGARDE_NOTIFY_EMAIL": "ops@example.com",
           "ZYGARDE_SMTP_HOST": "127.0.0.1", "ZYGARDE_SMTP_PORT": str(smtp.port),
           "PREFECT_WORKER_QUERY_SECONDS": "1"}  # fmt: skip
    worker = None
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                assert server.poll() is None and time.monotonic() < deadline, "prefect server did not start"
                time.sleep(0.5)
        hook_url = f"http://127.0.0.1:{webhook.server_address[1]}/notices"
        deployed = zygarde("deploy", "--webhook", hook_url, env=env)
        assert deployed.code == 0, deployed.output
        worker = subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "zygarde"], env={**base, **env},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        yield Platform(api, env, data_root, work_dir, received, hook_url, mailbox)
    finally:
        if worker is not None:
            stop_process(worker)
        stop_process(server)
        smtp.stop()
        webhook.shutdown()


def test_deploy_registers_entrypoints_schedules_concurrency_and_triggers(platform: Platform) -> None:
    from prefect.client.schemas.objects import ConcurrencyLimitStrategy

    shipped = yaml.safe_load((Path(__file__).parents[2] / "deployments" / "prefect.yaml").read_text())
    with platform.client() as client:
        deployments = {f"{client.read_flow(d.flow_id).name}/{d.name}": d for d in client.read_deployments()}
        automations = {a.name: a for a in client.read_automations()}
    assert len(deployments) == len(shipped["deployments"]), deployments.keys()
    diabetes = deployments["train-tabular/diabetes"]
    assert diabetes.entrypoint == "zygarde.flows.tabular.train_tabular" and diabetes.path is None
    assert diabetes.pull_steps == [] and diabetes.work_pool_name == "zygarde"
    assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in diabetes.schedules] == [
        ("0 3 * * *", "UTC", True)
    ]
    assert diabetes.global_concurrency_limit is not None and diabetes.global_concurrency_limit.limit == 1
    assert diabetes.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.ENQUEUE
    form = diabetes.parameter_openapi_schema["definitions"]["TabularRunConfig"]["properties"]["dataset"]
    assert form["examples"] == ["diabetes"] and "diabetes" in form["description"]

    def action(name: str) -> tuple[set[str], dict[str, str], dict[str, Any]]:
        automation = automations[name]
        return automation.trigger.expect, automation.trigger.match.root, automation.actions[0].parameters

    new_batch = (
        {"zygarde.dataset.updated"},
        {"prefect.resource.id": "zygarde.dataset.diabetes", "zygarde.labelled": "true"},
        {"config": {"dataset": "{{ event.payload.path }}", "name": "diabetes"}},
    )
    assert action("diabetes-new-batch") == new_batch  # fmt: skip
    assert action("diabetes-drift")[2] == {"config": {"dataset": "{{ event.payload.retrain_on }}", "name": "diabetes"}}
    assert action("job-submitted")[2] == {"spec": "{{ event.payload.job }}"}
    assert action("diabetes-observed")[1] == {"prefect.resource.id": "zygarde.dataset.diabetes"}
    assert "zygarde-notify-webhook" in automations


def _flow_run_id(run: CliRun) -> str:
    found = re.search(r"\(([0-9a-f-]{36})\)", run.output)
    assert run.code == 0 and found, run.output
    return found.group(1)


def test_runs_started_by_api_job_spec_and_events_complete_and_are_tracked(platform: Platform, tmp_path: Path) -> None:
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # 1. by API
    with temporary_settings(updates={PREFECT_API_URL: platform.api}):
        by_api = run_deployment("train-tabular/train-tabular", parameters={"config": SMALL}, timeout=0)
    # 2. by job spec (`zygarde submit`), and 3. as an event's payload
    spec = {"data": "diabetes", "algorithms": ["rf"], "trials": 1, "options": {"cv": 2},
            "notify": {"email": ["owner@example.com"], "webhook": [platform.webhook_url]}}  # fmt: skip
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(spec))
    by_spec = _flow_run_id(platform.cli("submit", str(job)))
    platform.prefect("event", "emit", "zygarde.job.submitted", "--resource-id", "zygarde.job.from-test",
                     "--payload", json.dumps({"job": {**spec, "experiment": "by-event"}}))  # fmt: skip
    # 4. a new labelled batch, dropped with `zygarde ingest`
    batch = tmp_path / "diabetes-batch.csv"
    pd.read_csv(DATA / "diabetes.csv").sample(frac=0.9, random_state=1).to_csv(batch, index=False)
    ingested = platform.cli("ingest", str(batch), "--dataset", "diabetes")
    assert ingested.code == 0 and "event zygarde.dataset.updated" in ingested.output, ingested.output
    copied = next((platform.data_root / "incoming" / "diabetes").glob("*-diabetes-batch.csv"))
    assert copied.read_bytes() == batch.read_bytes()

    api_run = platform.wait_final(by_api.id)
    spec_run = platform.wait_final(by_spec)
    event_job = platform.wait_for("train-job/job", lambda p: p["spec"].get("experiment") == "by-event")
    event_run = platform.wait_for("train-tabular/diabetes", lambda p: p["config"]["dataset"] == str(copied))
    for run in (api_run, spec_run, event_job, event_run):
        assert run.state.is_completed(), (run.name, run.state.message)
    for run in (api_run, event_run):  # the training flows themselves: an MLflow parent run each, closed FINISHED
        (tracked,) = platform.mlflow_runs(run.id)
        assert tracked.info.status == "FINISHED" and tracked.data.tags["zygarde.registry_name"].startswith("zygarde-")
    assert platform.mlflow_runs(api_run.id)[0].data.tags["zygarde.registry_name"] == "zygarde-diabetes"
    assert platform.mlflow_runs(event_run.id)[0].data.params["dataset"] == str(copied)

    # all four trained zygarde-diabetes, from three deployments: they held its training slot one after another
    trainings = sorted(platform.mlflow_trainings("zygarde-diabetes"), key=lambda r: r.info.start_time)
    assert len(trainings) == 4, trainings
    for earlier, later in itertools.pairwise(trainings):
        assert earlier.info.end_time <= later.info.start_time, (earlier.info, later.info)
    with platform.client() as client:
        slot = client.read_global_concurrency_limit_by_name("zygarde-train-zygarde-diabetes")
    assert slot.limit == 1 and slot.active_slots == 0


def test_a_path_outside_the_data_root_is_refused_by_job_spec(platform: Platform, tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    shutil.copy(DATA / "diabetes.csv", outside)
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"data": str(outside), "target": "Outcome", "algorithms": ["rf"], "trials": 1}))
    run = platform.cli("submit", str(job), "--wait")
    assert run.code == 1 and "is outside the data root" in " ".join(run.output.split()), run.output


def test_an_invalid_job_spec_lists_every_bad_field(platform: Platform, tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({"data": "diabetes", "trials": 0, "algorithms": ["svm"], "min_workers": 4,
                                   "notify": {"email": ["nobody"]}, "colour": "red"}))  # fmt: skip
    run = platform.cli("submit", str(job))
    assert run.code == 1 and len(run.error_lines()) == 1, run.output
    for field_name in ("trials:", "notify.email:", "colour:", "algorithms:", "min_workers:"):
        assert field_name in run.output, run.output


def test_an_event_payload_missing_its_key_starts_no_run_and_reports_the_failed_action(platform: Platform) -> None:
    before = len(platform.runs("train-tabular/diabetes"))
    resource = {"prefect.resource.id": "zygarde.dataset.diabetes", "zygarde.labelled": "true"}
    platform.prefect("event", "emit", "zygarde.dataset.updated", "--resource", json.dumps(resource),
                     "--payload", json.dumps({"rows": 3}))  # fmt: skip
    deadline = time.monotonic() + 60
    while not (failed := platform.events("prefect.automation.action.failed")):
        assert time.monotonic() < deadline, "no prefect.automation.action.failed event"
        time.sleep(1)
    assert any("diabetes-new-batch" in json.dumps(e) for e in failed), failed
    assert len(platform.runs("train-tabular/diabetes")) == before


def test_drift_is_found_on_a_shifted_batch_and_retrains_but_not_on_a_resample(
    platform: Platform, tmp_path: Path
) -> None:
    table = pd.read_csv(DATA / "diabetes.csv")
    shifted = tmp_path / "shifted.csv"
    table.assign(Glucose=table.Glucose + 25, BMI=table.BMI + 6, Age=table.Age + 10,
                 BloodPressure=table.BloodPressure + 8).to_csv(shifted, index=False)  # fmt: skip
    resample = tmp_path / "resample.csv"
    table.sample(len(table), replace=True, random_state=7).to_csv(resample, index=False)
    for batch in (shifted, resample):
        run = platform.cli("ingest", str(batch), "--dataset", "diabetes", "--observed")
        assert run.code == 0 and "zygarde.dataset.observed" in run.output, run.output

    def checked(name: str) -> Any:
        run = platform.wait_for("monitor-drift/diabetes-drift", lambda p: p["check"]["batch"].endswith(name))
        assert run.state.is_completed(), run.state.message
        return run

    drifted, steady = checked("-shifted.csv"), checked("-resample.csv")
    verdicts = {}
    with platform.client() as client:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

        for run in (drifted, steady):
            found = client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
            )
            verdicts[run.id] = {a.key: a.data for a in found}
    assert "**drift detected**" in verdicts[drifted.id]["drift-verdict"], verdicts[drifted.id]
    assert "no drift" in verdicts[steady.id]["drift-verdict"] and "drift" in verdicts[steady.id]
    (tracked,) = platform.mlflow_runs(drifted.id)
    assert tracked.data.metrics["share_drifted"] >= 0.3 and "psi_Glucose" in tracked.data.metrics
    # zygarde.drift.detected -> the diabetes deployment retrains on the labelled shifted batch
    retrain = platform.wait_for("train-tabular/diabetes", lambda p: p["config"]["dataset"].endswith("-shifted.csv"))
    assert retrain.state.is_completed(), retrain.state.message
    assert not [
        r
        for r in platform.runs("train-tabular/diabetes")
        if r.parameters["config"]["dataset"].endswith("-resample.csv")
    ]


def test_notices_reach_the_webhook_and_the_mailbox(platform: Platform) -> None:
    deadline = time.monotonic() + 60
    while not (any(n.get("source") == "zygarde" for n in platform.webhook) and platform.mailbox.messages):
        assert time.monotonic() < deadline, (platform.webhook, platform.mailbox.messages)
        time.sleep(1)
    automation = [n for n in platform.webhook if n.get("source") == "zygarde"]
    assert any("Completed" in n["subject"] for n in automation), automation
    job_hooks = [n for n in platform.webhook if n.get("flow") == "train-job"]
    assert job_hooks and job_hooks[0]["state"] == "Completed", platform.webhook
    recipients = {r for rcpt, _ in platform.mailbox.messages for r in rcpt}
    assert {"ops@example.com", "owner@example.com"} <= recipients, platform.mailbox.messages
    ops = [body for rcpt, body in platform.mailbox.messages if "ops@example.com" in rcpt]
    assert any("zygarde-diabetes v" in body and "Completed" in body for body in ops), ops


def test_watch_ingests_complete_files_and_sets_bad_ones_aside(platform: Platform, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    pd.read_csv(DATA / "fastfood_nutrition.csv").head(40).to_csv(inbox / "menu.csv", index=False)
    (inbox / "broken.csv").write_text("")  # an export that failed: 0 bytes
    (inbox / "notes.txt").write_text("not a table")
    run = platform.cli("watch", str(inbox), "--dataset", "menus", "--once")
    assert run.code == 0, run.output
    assert "40 rows of menus" in run.output and len(run.error_lines()) == 1 and "broken.csv" in run.output, run.output
    assert (inbox / ".ingested" / "menu.csv").exists() and (inbox / ".rejected" / "broken.csv").exists()
    assert (inbox / "notes.txt").exists()  # not a table: left alone
    assert len(list((platform.data_root / "incoming" / "menus").glob("*-menu.csv"))) == 1
    deadline = time.monotonic() + 30  # the server stores events in batches
    while not (announced := platform.events("zygarde.dataset.updated", "zygarde.dataset.menus")):
        assert time.monotonic() < deadline, "the event never reached the server"
        time.sleep(1)
    assert len(announced) == 1 and announced[0]["payload"]["rows"] == 40, announced


@pytest.mark.parametrize(
    ("api", "message"),
    [("", "zygarde ingest needs a running Prefect server"), ("http://127.0.0.1:9/api", "does not answer")],
)
def test_ingest_without_a_reachable_api_refuses_and_copies_nothing(api: str, message: str, tmp_path: Path) -> None:
    from tests.helpers import assert_one_clear_error

    env = {"PREFECT_API_URL": api, "PREFECT_HOME": str(tmp_path / "home"), "ZYGARDE_DATA_ROOT": str(tmp_path / "root")}
    run = zygarde("ingest", str(DATA / "diabetes.csv"), "--dataset", "diabetes", env=env)
    assert_one_clear_error(run, message)
    assert not (tmp_path / "root").exists()
