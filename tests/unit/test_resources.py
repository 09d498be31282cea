import time
from pathlib import Path

import pytest

from zygarde.resources import ResourceMeter, profiled


def _busy(seconds: float) -> int:
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        n += 1
    return n


def test_monitor_sees_cpu_work_and_memory_growth() -> None:
    with ResourceMeter() as busy:
        _busy(0.3)
        block = bytearray(200 * 2**20)
        block[::4096] = b"x" * len(block[::4096])
        time.sleep(0.15)
    with ResourceMeter() as idle:
        time.sleep(0.3)
    assert busy.usage.cpu_seconds > idle.usage.cpu_seconds and busy.usage.cpu_percent > idle.usage.cpu_percent
    assert busy.usage.peak_rss_mb > 200 and busy.usage.wall_seconds >= 0.45
    assert set(busy.usage.as_metrics("stage_x_")) == {
        "stage_x_wall_seconds",
        "stage_x_cpu_seconds",
        "stage_x_cpu_percent",
        "stage_x_peak_rss_mb",
    }
    del block


def test_profiled_writes_prof_and_top30_text(tmp_path: Path) -> None:
    with profiled("search", tmp_path) as written:
        _busy(0.05)
    assert [p.name for p in written] == ["search.prof", "search.txt"]
    assert "_busy" in (tmp_path / "search.txt").read_text()
    with profiled("off", None) as nothing:
        pass
    assert nothing == []


def test_a_tracking_outage_loses_the_child_run_not_the_trial(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from zygarde.search.trials import TrialResult
    from zygarde.tracking import TrialLogger

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    result = TrialResult(3, "rf", {"max_depth": 2}, scores={"roc_auc": 0.8})
    with caplog.at_level("WARNING", logger="zygarde.tracking"):
        assert TrialLogger("http://127.0.0.1:9", "0", "parent", writers=8).log(result) is None
    assert "trial 3 was not tracked" in caplog.text and result.scores == {"roc_auc": 0.8}
    assert result.note.startswith("the tracking store http://127.0.0.1:9 failed")
