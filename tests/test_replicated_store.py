"""What the API acknowledges survives the loss of the primary: with REDIS_MIN_REPLICAS_ACK, a job
is accepted (202) only once a replica holds its record and message (Redis WAIT), else it is
withdrawn with a 503; and a queued job whose message the broker lost is sent again
(worker/reconcile.py). The app layer, against the session's test Redis and, here, a real replica
of it."""

from __future__ import annotations

import pytest

from brigade import jobs
from brigade.redis_client import redis_client
from devtools import procs
from tests.appkit import problem
from worker import reconcile
from worker.celery_app import app as celery_app

ECHO = "tasks.ops.echo"


@pytest.fixture
def replica(redis_server, tmp_path):
    """A redis-server replicating the session's test Redis, in sync before the test runs."""
    port = procs.free_port()
    primary = redis_client().connection_pool.connection_kwargs
    proc = procs.spawn([*procs.redis_command(port, tmp_path, persist=False), "--replicaof", primary["host"], str(primary["port"])],
                       log_path=tmp_path / "replica.log")
    procs.wait_until(lambda: redis_client().info("replication")["connected_slaves"] >= 1, 30, what="the replica in sync")
    yield port
    procs.stop(proc)
    procs.wait_until(lambda: redis_client().info("replication")["connected_slaves"] == 0, 30, what="the replica gone")


def test_a_job_no_replica_confirms_is_withdrawn_with_a_503(make_app, recorder):
    client = make_app(REDIS_MIN_REPLICAS_ACK="1", REDIS_ACK_TIMEOUT_MS="50").test_client()
    response = client.post("/v1/echo", json={"payload": "hi"})
    body = problem(response, 503, "store-not-replicated")
    assert response.headers["Retry-After"] and "retry later" in body["detail"]
    [sent] = recorder.sent  # it was sent, then withdrawn: if it runs, it is dropped (its job has ended)
    record = jobs.get_job(sent.task_id)
    assert record["status"] == jobs.FAILED and record["error"]["type"] == "not-replicated"
    assert "webhook" not in record


def test_a_job_a_replica_holds_is_accepted(make_app, recorder, replica):
    client = make_app(REDIS_MIN_REPLICAS_ACK="1", REDIS_ACK_TIMEOUT_MS="5000").test_client()
    response = client.post("/v1/echo", json={"payload": "hi"})
    assert response.status_code == 202, response.get_json()
    [sent] = recorder.sent
    record = jobs.get_job(sent.task_id)
    assert record["status"] == jobs.QUEUED and float(record["accepted_at"]) >= record["created_at"]
    assert record["message"] == {"task": ECHO, "kwargs": sent.kwargs, "priority": None}  # kept for reconcile


@pytest.fixture
def only_new_jobs(redis_server):
    """Jobs of earlier tests (recorded, never sent) out of the reconciler's sight during the test."""
    deadlines = redis_client().zrange("brigade:deadlines", 0, -1, withscores=True)
    redis_client().delete("brigade:deadlines", reconcile.suspects_key())
    yield
    if deadlines:
        redis_client().zadd("brigade:deadlines", dict(deadlines))


def test_a_queued_job_whose_message_was_lost_is_sent_again_after_two_looks(only_new_jobs):
    job_id = jobs.new_job_id()
    kwargs = {"job_id": job_id, "payload": "lost"}
    # Its record, as the API writes it, but no message: the broker lost it.
    jobs.create_job("echo", "single", job_id=job_id, message={"task": ECHO, "kwargs": kwargs, "priority": None})
    assert job_id not in reconcile.messages_in_broker(celery_app)

    assert reconcile.reconcile(celery_app) == []  # once missing: a suspect (it may have been between two places)
    assert job_id in redis_client().smembers(reconcile.suspects_key())
    assert reconcile.reconcile(celery_app) == [job_id]  # missing twice in a row: sent again

    record = jobs.get_job(job_id)
    assert "sent again" in record["note"]
    # Now in the broker (or already taken by a worker of another test module, or run)
    assert (job_id in reconcile.messages_in_broker(celery_app) or job_id in redis_client().hkeys("brigade:running")
            or record["status"] != jobs.QUEUED)
    assert reconcile.reconcile(celery_app) == []  # not sent a third time while it is there


def test_a_backlog_over_the_scan_limit_is_not_read_and_nothing_is_sent(only_new_jobs, monkeypatch):
    job_id = jobs.new_job_id()
    jobs.create_job("echo", "single", job_id=job_id, message={"task": ECHO, "kwargs": {"job_id": job_id}, "priority": None})
    with celery_app.connection_for_write() as conn:  # one message waiting: over a limit of 0
        celery_app.send_task(ECHO, kwargs={"job_id": "other"}, queue="shard.1", connection=conn)
    monkeypatch.setattr(reconcile, "SCAN_LIMIT", 0)
    assert reconcile.messages_in_broker(celery_app) is None
    assert reconcile.reconcile(celery_app) == [] and reconcile.reconcile(celery_app) == []
    assert job_id not in redis_client().smembers(reconcile.suspects_key())  # not even suspected: not looked at
    redis_client().delete("shard.1")


def test_a_message_that_is_waiting_is_never_sent_again(only_new_jobs):
    job_id = jobs.new_job_id()
    kwargs = {"job_id": job_id, "payload": "waiting"}
    jobs.create_job("echo", "single", job_id=job_id, message={"task": ECHO, "kwargs": kwargs, "priority": None})
    with celery_app.connection_for_write() as conn:  # a queue no worker of the test session consumes
        celery_app.send_task(ECHO, kwargs=kwargs, task_id=job_id, queue="shard.1", connection=conn)
    assert job_id in reconcile.messages_in_broker(celery_app)
    assert reconcile.reconcile(celery_app) == [] and reconcile.reconcile(celery_app) == []
    redis_client().delete("shard.1")


def test_a_dropped_connection_to_the_primary_asks_the_sentinels_where_it_is_now(redis_server):
    """redis-py reconnects a connection dropped inside a command's retries to the address it last
    had; after a failover that is the lost primary's, for as long as a worker's retries last. A
    Sentinel-managed connection asks the Sentinels again (here a stand-in naming the test Redis)."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    from redis.sentinel import SentinelManagedConnection  # as brigade.redis_client patches it

    promoted = redis_client().connection_pool.connection_kwargs

    class Sentinels:  # what a SentinelConnectionPool hands its connections
        is_master, check_connection = True, False

        def get_master_address(self):
            return promoted["host"], promoted["port"]

    lost = procs.free_port()  # nothing listens there: the primary that was lost
    conn = SentinelManagedConnection(connection_pool=Sentinels(), host="127.0.0.1", port=lost, socket_connect_timeout=1,
                               retry=Retry(NoBackoff(), 2))
    conn.send_command("PING")  # not connected: the reconnect that a command's retry makes
    assert conn.read_response() == b"PONG"
    assert (conn.host, conn.port) == (promoted["host"], promoted["port"])
    conn.disconnect()


def test_a_write_refused_inside_a_script_is_a_store_fault(redis_server):
    """A primary cut off from its replicas refuses a write inside a Lua script too (a job's update is
    one), as `ERR Error running script ... -NOREPLICAS ...`: a connection fault to retry (a worker)
    or answer 503 to (the API), not a plain ResponseError (a 500)."""
    from brigade.redis_client import TRANSIENT, NoReplicasError

    job_id = jobs.create_job("echo", "single")
    redis_client().config_set("min-replicas-to-write", 1)  # the test Redis has none: every write is refused
    try:
        with pytest.raises(NoReplicasError) as refused:
            jobs.update_job(job_id, status=jobs.RUNNING)
    finally:
        redis_client().config_set("min-replicas-to-write", 0)
    assert isinstance(refused.value, TRANSIENT) and "Error running script" in str(refused.value)
    assert jobs.get_job(job_id)["status"] == jobs.QUEUED
