"""The Ray backend runs the same cell function as the local pool: same seeds, same results file."""

from __future__ import annotations

import pytest

from lola_zoo.experiments import sweep as sw

ray = pytest.importorskip("ray")

SPEC = {
    "kind": "exact-value",
    "grid": {"game": ["ipd", "imp"], "gamma": [0.9, 0.96], "n_pairs": [16, 0]},
    "seeds": 2,
}


@pytest.fixture(scope="module")
def local_ray():
    """A local two-CPU Ray instance, as a laptop user would start it."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_backend_matches_the_local_backend(local_ray, tmp_path, monkeypatch):
    # Without the up-front config check, the n_pairs = 0 cells fail inside the workers.
    monkeypatch.delitem(sw.CHECKS, "exact-value")
    spec = sw.spec_from_dict(SPEC)
    on_ray = sw.run_sweep(spec, tmp_path / "ray", backend="ray", workers=2, progress=False)
    local = sw.run_sweep(spec, tmp_path / "local", backend="local", workers=2, progress=False)
    # n_pairs = 0 cells fail on both backends, with the cell's own error message.
    assert on_ray.ran == local.ran == 8
    assert len(on_ray.failed) == len(local.failed) == 8
    assert all("n_pairs must be a positive integer" in msg for _, msg in on_ray.failed)
    assert {c for c, _ in on_ray.failed} == {c for c, _ in local.failed}
    assert (tmp_path / "ray" / sw.RESULTS_CSV).read_bytes() == (tmp_path / "local" / sw.RESULTS_CSV).read_bytes()


def test_ray_sweep_resumes_a_local_sweep(local_ray, tmp_path):
    """Backends share the results file: a sweep begun locally can be finished on Ray."""
    sw.run_sweep(sw.spec_from_dict({**SPEC, "grid": {"game": ["ipd"]}}), tmp_path, workers=0, progress=False)
    full = sw.spec_from_dict({**SPEC, "grid": {"game": ["ipd", "imp"]}})
    result = sw.run_sweep(full, tmp_path, backend="ray", workers=2, progress=False)
    assert (result.ran, result.skipped) == (2, 2)
    ids = [r["cell_id"] for r in sw.read_results(tmp_path / sw.RESULTS_JSONL)]
    assert sorted(ids) == sorted(c.id for c in sw.expand_cells(full))
