"""devtools/capacity.py, the capacity and cost model (docs/CAPACITY.md): Erlang C on values known in
closed form, sizing that never shrinks as the load grows, the cost arithmetic, and the model's
check against the committed bench_serving run (within 20 %); docs/CAPACITY.md's tables are the
command's output."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace

import pytest

from devtools import capacity
from devtools.capacity import Pool, Size

pytestmark = pytest.mark.unit


def erlang_c_by_definition(c: int, a: float) -> float:
    """Erlang C from its textbook sum (fine for small c): the recursion in the module must agree."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


# --- queueing ------------------------------------------------------------------------------------------


def test_erlang_c_on_known_values():
    assert capacity.erlang_c(1, 0.6) == pytest.approx(0.6)  # M/M/1: an arrival waits with probability rho
    assert capacity.erlang_c(2, 1.0) == pytest.approx(1 / 3)
    for c, a in [(3, 2.5), (5, 1.0), (10, 8.0), (20, 15.0), (40, 39.0)]:
        assert capacity.erlang_c(c, a) == pytest.approx(erlang_c_by_definition(c, a), rel=1e-9), (c, a)
    assert capacity.erlang_c(4, 4.0) == capacity.erlang_c(4, 9.0) == 1.0  # saturated: everyone waits
    assert capacity.erlang_c(3, 0.0) == 0.0
    assert 0 < capacity.erlang_c(400, 380.0) < 1  # large pools stay finite (Erlang B's recursion)


def test_the_p95_wait_is_the_closed_form_and_scales_with_variability():
    rate, service = 4.0, 0.2  # M/M/1 at rho 0.8: P(wait > t) = rho e^-(mu - lambda)t
    expected = math.log(0.8 / 0.05) / (1 / service - rate)
    assert capacity.wait_quantile(1, rate, service) == pytest.approx(expected)
    assert capacity.wait_quantile(1, rate, service, scv=0.0) == pytest.approx(expected / 2)  # M/D/1
    assert capacity.wait_quantile(1, rate, service, arrival_scv=5.0) == pytest.approx(expected * 3)  # batches
    assert capacity.wait_quantile(1, 5.0, service) == math.inf  # rho 1
    assert capacity.wait_quantile(3, 0.5, 0.2) == 0.0  # fewer than 5 % wait at all
    assert capacity.wait_quantile(2, 0.0, 1.0) == 0.0


def test_servers_for_is_the_fewest_that_meet_the_target():
    for rate, service, target in [(4.0, 0.2, 0.1), (50.0, 0.05, 0.01), (1.0, 60.0, 30.0), (300.0, 2.0, 1.0)]:
        c = capacity.servers_for(rate, service, target)
        assert capacity.wait_quantile(c, rate, service) <= target
        assert c == math.floor(rate * service) + 1 or capacity.wait_quantile(c - 1, rate, service) > target
    assert capacity.servers_for(0.0, 1.0, 1.0, minimum=2) == 2
    assert capacity.servers_for(0.01, 1.0, 1.0, minimum=3) == 3


def test_processes_share_the_cores_they_lack():
    assert capacity.effective_processes(2, 2, 1.33) == pytest.approx(2 / 1.33)
    assert capacity.effective_processes(2, 4, 1.33) == 2
    assert capacity.effective_processes(1, 2, 1.33) == 1


# --- the figures and the pools ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fig():
    return capacity.read_figures()


def test_the_figures_come_from_the_committed_results(fig):
    sources = " ".join(source for _, _, source in fig.sources)
    for name in ("serving.json", "features.json", "sharded.json", "events.json"):
        assert name in sources
    assert set(fig.labels) == set(capacity.RESOLUTIONS) and set(fig.features) == set(capacity.FEATURES)
    assert any("estimate" in value for _, value, _ in fig.sources), "1080p is not measured: it says so"
    for cost in [*fig.labels.values(), *fig.features.values()]:
        assert cost.cpu > 0 and cost.wall > 0
    assert 1 <= fig.labels["720p"].cores <= 2  # ffmpeg beside the model
    assert fig.video("720p", ("people", "text")).cpu == pytest.approx(
        fig.labels["720p"].cpu + fig.features["people"].cpu + fig.features["text"].cpu)


def test_the_pools_follow_the_mix(fig):
    load = capacity.Load(86400, ((30.0, 0.5), (600.0, 0.5)), hotel_requests_per_day=86400 * 2)
    pools = {p.name: p for p in capacity.pools(load, fig)}
    assert pools["predict"].rate == pytest.approx(0.5)  # the 30 s half: whole, on predict replicas
    n = math.ceil(600 / capacity.setting("SEGMENT_MAX_S"))
    assert pools["segments"].rate == pytest.approx(0.5 * n)  # the 10-min half: n segments each
    assert pools["segments"].arrival_scv == pytest.approx(n)  # batches of n
    assert pools["control"].rate == pytest.approx(0.5)  # one plan (and merge) per sharded job
    assert pools["events"].rate == pytest.approx(2.0)
    assert pools["predict"].service_s == pytest.approx(30 * fig.labels["720p"].wall + fig.per_job_s)
    assert pools["predict"].min_processes == 2 and pools["events"].min_processes == 0  # deploy/k8s/keda.yaml


def test_sizing_never_shrinks_as_the_load_grows(fig):
    load = capacity.Load(0, capacity.parse_mix("30s:0.5,2m:0.3,10m:0.15,30m:0.05"), hotel_requests_per_day=0)
    before = None
    for n in (100, 1000, 5000, 20000, 60000, 150000):
        pools = capacity.pools(replace(load, videos_per_day=n, hotel_requests_per_day=10 * n), fig)
        sizes = [capacity.size(p, p.rate) for p in pools]
        if before is not None:
            assert all(now.processes >= then.processes for now, then in zip(sizes, before)), n
            assert capacity.hosts(sizes, 8) >= capacity.hosts(before, 8)
        before = sizes
    assert capacity.hosts(before, 8) > capacity.hosts([capacity.size(p, p.rate) for p in capacity.pools(
        replace(load, videos_per_day=100), fig)], 8)
    shape = capacity.profile("flat")
    served = [capacity.videos_per_day(h, load, fig, shape, 8) for h in (1, 2, 3)]
    assert 0 < served[0] < served[1] < served[2]
    assert capacity.videos_per_day(1, load, fig, capacity.profile("daily"), 8) < served[0]  # sized for the peak


# --- the day and the cost ---------------------------------------------------------------------------------


def test_a_flat_day_costs_its_processes_around_the_clock():
    pool = Pool("p", rate=2.0, service_s=1.0, scv=1.0, p95_wait_s=1.0, cores_per_process=1.5, cooldown_s=300)
    day = capacity.fleet(pool, capacity.profile("flat"))
    peak = capacity.size(pool, 2.0)
    assert day.reactive == day.fixed == pytest.approx((peak.cores * 24, 0.0))
    assert day.predictive[0] >= day.reactive[0]
    assert capacity.monthly(24, 0, core_price=1.0, gpu_price=5.0) == pytest.approx(730)
    assert capacity.monthly(0, 24, core_price=1.0, gpu_price=5.0) == pytest.approx(5 * 730)


def test_elastic_fleets_follow_the_day_and_hold_each_drop_for_the_cooldown():
    steps = [Size(1, 1, 1.0, 0, 0, 0), Size(4, 4, 4.0, 0, 0, 0), Size(2, 2, 2.0, 0, 0, 0)]
    cores_h, _ = capacity._hours(steps, cooldown_s=450)
    # 7 core-steps of 15 min, plus 2 cores held for 450 s after 4 -> 2, and 1 after 2 -> 1 (the day wraps)
    assert cores_h == pytest.approx(7 * 0.25 + (2 * 450 + 1 * 450) / 3600)
    pool = Pool("p", rate=1.0, service_s=2.0, scv=1.0, p95_wait_s=2.0)
    daily = capacity.profile("daily")
    assert min(daily) < 1 < max(daily)
    assert sum((a + b) / 2 for a, b in zip(daily, daily[1:])) / (len(daily) - 1) == pytest.approx(1.0)
    day = capacity.fleet(pool, daily)
    assert day.reactive[0] < day.fixed[0] <= day.peak.cores * 24 + 1e-9
    assert day.reactive[0] <= day.predictive[0]


def test_a_fixed_fleet_pays_whole_hosts_and_gpus_apart():
    cpu = [Size(5, 5, 5.0, 0, 0, 0), Size(4, 4, 4.0, 0, 0, 0)]  # 9 cores: two hosts of 8
    assert capacity.fixed_hosts(cpu, host_cores=8, host_gpus=1) == pytest.approx((16 * 24, 0))
    gpu = [Size(3, 3, 6.0, 3, 0, 0)]
    assert capacity.fixed_hosts(cpu + gpu, host_cores=8, host_gpus=2) == pytest.approx(((16 + 6) * 24, 4 * 24))


def test_the_mix_parser():
    assert capacity.parse_mix("30s:1,2m:2,1h:1") == ((30, 0.25), (120, 0.5), (3600, 0.25))
    with pytest.raises(ValueError):
        capacity.parse_mix("30s:0")


# --- the check, and the doc ----------------------------------------------------------------------------------


def test_the_model_predicts_bench_serving_within_20_percent():
    checks = capacity.serving_checks()
    assert {(c.run, c.replicas) for c in checks} >= {("unpinned", 2), ("pinned", 2)}
    for check in checks:
        assert check.ok, f"{check}: {check.error:+.1%}"
    unpinned = next(c for c in checks if c.run == "unpinned" and c.replicas == 2)
    assert unpinned.predicted < unpinned.alone, "two replicas on two cores share them"


def test_the_check_fails_a_run_the_model_does_not_predict(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(capacity.RESULTS, results)
    serving = json.loads((results / "serving.json").read_text())
    serving["served"]["2"]["video_s_per_s"] *= 0.6  # as if two replicas had done far less
    (results / "serving.json").write_text(json.dumps(serving))
    bad = [c for c in capacity.serving_checks(results) if not c.ok]
    assert [(c.run, c.replicas) for c in bad] == [("unpinned", 2)]
    assert capacity.main(["--results", str(results), "--host-counts", "1"]) == 1


def test_the_doc_holds_the_commands_output():
    text = capacity.DOC.read_text()
    block = text.split(capacity.START, 1)[1].split(capacity.END, 1)[0].strip()
    assert block == capacity.report(capacity.parser().parse_args([])).strip(), (
        "docs/CAPACITY.md is stale (bench results, settings or the model changed): run `make capacity ARGS=--write`")
