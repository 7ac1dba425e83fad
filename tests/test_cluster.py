"""A real dask.distributed LocalCluster gives the single-process result."""

import pytest
from test_engine import _seam_scene

import weipian


@pytest.mark.filterwarnings("ignore")
def test_local_cluster_equals_local_run(tmp_path):
    distributed = pytest.importorskip("distributed")
    b, a, _ = _seam_scene(tmp_path)
    local = weipian.detect(b, a, window_size=128, scheduler="synchronous")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = weipian.detect(b, a, window_size=128, scheduler=cluster.scheduler_address)
    assert list(remote.patch_id) == list(local.patch_id)
    assert all(x.equals_exact(y, 0) for x, y in zip(remote.geometry, local.geometry))
    assert remote.drop(columns="geometry").equals(local.drop(columns="geometry"))
