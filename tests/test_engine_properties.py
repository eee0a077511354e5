"""Property tests of the training engine: resume is exact wherever a run is cut; configs round-trip."""

from __future__ import annotations

import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lola_zoo.experiments.engine import TrainConfig, preset_config, train


def _config(**kw) -> TrainConfig:
    base = dict(updates=6, episodes_per_batch=4, episode_length=6, runs=2, checkpoint_every=1, seed=9, window=3,
                device="cpu")
    base.update(kw)
    return preset_config("quick", "ipd", ("lola", "nl"), **base)


_STRAIGHT: dict[str, object] = {}


def _straight():
    if "run" not in _STRAIGHT:
        _STRAIGHT["run"] = train(_config())
    return _STRAIGHT["run"]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(min_value=1, max_value=5), checkpoint_every=st.integers(min_value=1, max_value=3))
def test_a_run_cut_after_any_update_resumes_to_the_straight_run(cut: int, checkpoint_every: int) -> None:
    straight = _straight()
    config = _config(checkpoint_every=checkpoint_every)

    def interrupt(row):
        if row["update"] == cut:
            raise KeyboardInterrupt

    with tempfile.TemporaryDirectory() as out:
        with pytest.raises(KeyboardInterrupt):
            train(config, out, on_update=interrupt)
        resumed = train(config, out, resume=True)
    assert resumed.history == straight.history  # type: ignore[attr-defined]
    assert resumed.summary == straight.summary  # type: ignore[attr-defined]


@settings(max_examples=40, deadline=None)
@given(
    game=st.sampled_from(["ipd", "imp", "stag-hunt", "coin-game"]),
    agents=st.tuples(st.sampled_from(["nl", "lola", "lola-om"]), st.sampled_from(["nl", "lola", "lola-om"])),
    updates=st.integers(1, 10_000),
    lr=st.floats(1e-4, 10.0),
    gamma=st.floats(0.01, 0.99),
    runs=st.integers(1, 64),
    correction=st.sampled_from(["taylor", "lookahead"]),
)
def test_configs_round_trip_through_their_plain_json_form(game, agents, updates, lr, gamma, runs, correction) -> None:
    config = TrainConfig(game=game, agents=agents, updates=updates, lr=lr, gamma=gamma, runs=runs,
                         correction=correction, device="cpu")
    again = TrainConfig.from_dict(config.to_dict())
    assert again == config and again.same_run_as(config)
    assert again.labels()[0].startswith({"nl": "NL-PG", "lola": "LOLA-PG", "lola-om": "LOLA-OM"}[agents[0]])
