"""Production runs several workers against one Redis; jobs spread across them."""

import pytest

from portal.health.tasks import worker_identity


@pytest.mark.worker
def test_two_workers_share_the_jobs_of_one_redis(celery_workers):
    celery_workers.start("alpha", "--concurrency", "1")
    celery_workers.start("beta", "--concurrency", "1")
    names = celery_workers.wait_until_ready(2)
    assert len(names) == 2

    results = [worker_identity.delay(0.3) for _ in range(10)]
    ran_on = [r.get(timeout=30) for r in results]

    assert {name.split("@")[0] for name in ran_on} == {"alpha", "beta"}
