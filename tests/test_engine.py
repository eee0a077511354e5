"""The training engine: one loop for every game and seat, resume that never damages, devices, loggers, errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from lola_zoo.cli import main
from lola_zoo.experiments.engine import (
    TrainConfig,
    Trainer,
    preset_config,
    register_policy,
    train,
)

CUDA = torch.cuda.is_available()


def _ipd(agents=("lola-om", "lola"), **kw) -> TrainConfig:
    base = dict(updates=6, episodes_per_batch=8, episode_length=10, runs=3, checkpoint_every=2, seed=4, window=3,
                device="cpu")
    base.update(kw)
    return preset_config("quick", "ipd", agents, **base)


def _coin(agents=("lola", "nl"), **kw) -> TrainConfig:
    base = dict(runs=2, updates=4, episodes_per_batch=4, episode_length=6, window=2, checkpoint_every=2, lr=0.05,
                eta=1.0, seed=3, policy="gru", policy_kwargs={"channels": 4, "features": 8, "hidden_size": 8},
                device="cpu")
    base.update(kw)
    return TrainConfig(game="coin-game", agents=agents, **base)


def _interrupt_at(update: int):
    def callback(row):
        if row["update"] == update:
            raise KeyboardInterrupt

    return callback


@pytest.mark.parametrize("make", [lambda: _ipd(optimizer="sgd"), lambda: _ipd(optimizer="adam", lr=0.1),
                                  lambda: _coin(), lambda: _coin(agents=("lola-om", "lola"), policy="conv",
                                                                 policy_kwargs={"channels": 4, "features": 8})])
def test_interrupted_then_resumed_run_equals_a_straight_run_summary_included(tmp_path, make) -> None:
    config = make()
    straight = train(config, tmp_path / "straight")
    # Interrupted inside the final window: the resumed summary must still average the same batches.
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "resumed", on_update=_interrupt_at(config.updates - 1))
    saved = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert [r["update"] for r in saved["history"]] == list(range(1, config.updates))  # nothing logged is lost
    resumed = train(config, tmp_path / "resumed", resume=True)
    assert resumed.history == straight.history
    assert resumed.summary == straight.summary


def test_resuming_a_finished_or_longer_run_leaves_every_file_untouched(tmp_path) -> None:
    train(_ipd(updates=4), tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    for updates in (4, 2):  # the same length, then shorter than the checkpoint
        result = train(_ipd(updates=updates), tmp_path, resume=True)
        assert "nothing was trained" in result.message
        assert result.summary["updates_done"] == 4 and "reward_per_step" in result.summary
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_resume_extends_a_run_and_refuses_other_settings_missing_or_damaged_checkpoints(tmp_path) -> None:
    train(_ipd(updates=3), tmp_path / "a")
    longer = train(_ipd(updates=5), tmp_path / "a", resume=True)
    assert [r["update"] for r in longer.history] == [1, 2, 3, 4, 5]
    assert longer.history == train(_ipd(updates=5)).history
    with pytest.raises(ValueError, match="other settings"):
        train(_ipd(updates=6, lr=0.5), tmp_path / "a", resume=True)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(_ipd(), tmp_path / "empty", resume=True)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="damaged or not a lola-zoo checkpoint"):
        train(_ipd(), tmp_path / "bad", resume=True)


def test_an_output_path_that_is_a_file_or_read_only_fails_before_any_work(tmp_path) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        Trainer(_ipd(), file)
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(ValueError, match="not writable"):
            Trainer(_ipd(), ro / "sub")


def test_same_seed_same_run_and_coin_rows_are_consistent() -> None:
    a, b, c = train(_coin()), train(_coin()), train(_coin(seed=4))
    assert a.history == b.history and a.history != c.history
    for row in a.history:
        assert 0.0 <= row["own_coin_share"] <= 1.0
        # +1 per pickup to the picker, -2 to the owner of a taken coin: mean points <= coins per player.
        assert row["points_mean"] <= row["coins_per_episode"] / 2 + 1e-9
    assert a.labels == ["LOLA-PG", "NL-PG"] and len(a.summary["own_coin_share"]["per_run"]) == 2


def test_labels_say_what_runs() -> None:
    assert _ipd(("lola", "lola-om")).labels() == ["LOLA-PG", "LOLA-OM"]
    assert _ipd(("lola", "nl"), correction="lookahead").labels() == ["LOLA-PG (lookahead)", "NL-PG"]


def test_a_user_registered_policy_trains_and_a_wrong_output_shape_is_refused() -> None:
    from lola_zoo.agents.coin_policies import CoinConvPolicy

    register_policy("tiny-conv-test", lambda c, s: CoinConvPolicy(channels=2, features=4, seed=s), override=True)
    result = train(_coin(policy="tiny-conv-test", policy_kwargs={}, updates=2))
    assert len(result.history) == 2

    class NoState(torch.nn.Module):  # forward only: no initial_state / step
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(4))

        def forward(self, observations, actions):
            return torch.log_softmax(self.w, -1)[actions]

    register_policy("no-state-test", lambda c, s: NoState(), override=True)
    with pytest.raises(ValueError, match="lacks initial_state, step of the recurrent-state protocol"):
        Trainer(_coin(policy="no-state-test", policy_kwargs={}))

    register_policy("three-actions-test", lambda c, s: CoinConvPolicy(n_actions=3, channels=2, features=4, seed=s),
                    override=True)
    with pytest.raises(ValueError, match="outputs 3 action log-probabilities, the game has 4"):
        Trainer(_coin(policy="three-actions-test", policy_kwargs={}))


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"agents": ("nl", "sb3")}, "unknown agent kind 'sb3'"),
        ({"agents": ("nl",)}, "one seat per player"),
        ({"game": "ipdd"}, "unknown dilemma id"),
        ({"updates": 0}, "updates must be a positive integer"),
        ({"lr": float("nan")}, "lr must be a positive finite number"),
        ({"eta": float("inf")}, "eta must be a positive finite number"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"init_std": -1.0}, "init_std"),
        ({"device": "tpu"}, "unknown device 'tpu'"),
        ({"policy": "gru"}, "memory-1 policy"),
        ({"episodes_per_batch": 1}, "baseline"),
        ({"game": "coin-game", "agents": ("nl", "tft")}, "memory-1 table"),
    ],
)
def test_bad_settings_are_refused_with_a_message_naming_the_problem(kw, match) -> None:
    base = dict(game="ipd", agents=("lola", "lola"))
    base.update(kw)
    with pytest.raises((ValueError, KeyError), match=match):
        TrainConfig(**base)


@pytest.mark.skipif(CUDA, reason="this machine has a GPU")
def test_cuda_asked_for_without_a_gpu_is_one_clear_error(capsys) -> None:
    with pytest.raises(ValueError, match="no CUDA GPU"):
        TrainConfig(device="cuda")
    assert main(["train", "--device", "cuda", "--no-progress", "--out", "/tmp/lola-zoo-never"]) == 2
    err = capsys.readouterr().err
    assert "no CUDA GPU" in err and "Traceback" not in err


def test_train_command_writes_metrics_curves_and_checkpoint(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    code = main(["train", "--game", "imp", "--agents", "nl", "tft", "--updates", "3", "--episodes-per-batch", "4",
                 "--episode-length", "5", "--runs", "2", "--out", str(out), "--no-progress", "--device", "cpu"])
    assert code == 0
    text = capsys.readouterr().out
    assert "NL-PG (player_0) vs TFT (player_1)" in text and "P(action 0" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["agents"] == ["nl", "tft"] and len(metrics["history"]) == 3
    assert metrics["summary"]["p_action0"][1] == pytest.approx([1.0, 1.0, 0.0, 1.0, 0.0], abs=1e-6)  # TFT is fixed
    assert (out / "metrics.csv").read_text().startswith("update,")
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert torch.load(out / "checkpoint.pt", weights_only=False)["update"] == 3
    # --resume of the finished run: reported, nothing rewritten.
    before = (out / "metrics.json").read_bytes()
    assert main(["train", "--game", "imp", "--agents", "nl", "tft", "--updates", "3", "--episodes-per-batch", "4",
                 "--episode-length", "5", "--runs", "2", "--out", str(out), "--no-progress", "--resume"]) == 0
    assert "nothing was trained" in capsys.readouterr().out and (out / "metrics.json").read_bytes() == before


def test_train_command_runs_the_coin_game_with_the_recurrent_policy(tmp_path, capsys) -> None:
    out = tmp_path / "coin"
    code = main(["train", "--game", "coin-game", "--agents", "nl", "lola", "--policy", "gru", "--updates", "2",
                 "--runs", "2", "--episodes-per-batch", "3", "--episode-length", "5", "--out", str(out),
                 "--no-progress"])
    assert code == 0
    text = capsys.readouterr().out
    assert "share of own-colour coins picked" in text and "gru policy" in text
    assert json.loads((out / "metrics.json").read_text())["config"]["policy"] == "gru"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--agents", "lola", "sb3"], "unknown agent kind 'sb3'"),
        (["--game", "ipdd"], "unknown dilemma id 'ipdd'"),
        (["--updates", "0"], "updates must be a positive integer"),
        (["--device", "gpu"], "unknown device 'gpu'"),
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["--episodes", "10"], "--episodes applies to plain-loop runs"),
    ],
)
def test_train_command_rejects_bad_input_with_one_error_line(tmp_path, capsys, argv, message) -> None:
    code = main(["train", "--out", str(tmp_path), "--no-progress", *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_tensorboard_logger_writes_event_files_beside_the_default_files(tmp_path) -> None:
    pytest.importorskip("tensorboard")
    train(_ipd(updates=2), tmp_path, loggers=["tensorboard"])
    events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    assert [e.step for e in acc.Scalars("reward_0")] == [1, 2]
    assert (tmp_path / "metrics.json").is_file()


def test_wandb_logger_writes_an_offline_run(tmp_path, monkeypatch) -> None:
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    train(_ipd(updates=2), tmp_path, loggers=["wandb"])
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert runs, list(tmp_path.rglob("*"))[:20]


def test_unknown_logger_is_refused_before_training(tmp_path) -> None:
    from lola_zoo.loggers import make_logger

    with pytest.raises(ValueError, match="unknown logger"):
        make_logger(["mlflow"], tmp_path)


def test_sweep_kind_train_runs_the_engine(tmp_path) -> None:
    from lola_zoo.experiments.engine import train_cell

    metrics = train_cell({"preset": "quick", "game": "ipd", "agents": ["nl", "tft"], "updates": 2,
                          "episodes_per_batch": 4, "episode_length": 5, "runs": 2, "device": "cpu"})
    assert "reward_per_step.player_0" in metrics and "exact_value_per_step.player_1" in metrics


@pytest.mark.slow
def test_lola_pg_cooperates_more_than_nl_pg_in_the_ipd_over_ten_seeds() -> None:
    """The paper's headline on a reduced budget: LOLA-PG pairs reach a higher exact value than NL-PG pairs."""
    values = {}
    for agents in (("nl", "nl"), ("lola", "lola")):
        result = train(preset_config("quick", "ipd", agents, updates=50, episode_length=60, seed=7, device="cpu"))
        ex = result.summary["exact_value_per_step"]
        values[agents] = (ex["player_0"]["mean"] + ex["player_1"]["mean"]) / 2
    assert values[("lola", "lola")] > values[("nl", "nl")] + 0.3, values
    assert values[("nl", "nl")] < -1.6, values


def test_naive_learners_learn_to_pick_up_more_coins() -> None:
    # NL-PG's own return grows with the coins it picks: after 50 updates the seats collect more coins per
    # episode than the random initial policies (mean over 4 seeds; single seeds are noisy at this batch).
    config = TrainConfig(game="coin-game", agents=("nl", "nl"), policy="conv", runs=4, updates=50,
                         episodes_per_batch=16, episode_length=16, lr=0.02, window=5, seed=0, device="cpu")
    result = train(config)
    first = result.history[0]["coins_per_episode"]
    last = result.summary["coins_per_episode"]["mean"]
    assert last > 1.1 * first, (first, last)


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
@pytest.mark.cuda
def test_cuda_run_and_resume_across_devices(tmp_path) -> None:
    cpu = train(_coin(updates=4), tmp_path / "x", stop_after=2)
    assert len(cpu.history) == 2
    resumed = Trainer(_coin(updates=4, device="cuda"), tmp_path / "x", resume=True)
    result = resumed.run()
    assert result.device.startswith("cuda") and len(result.history) == 4
    ipd = train(_ipd(device="cuda", updates=3))
    assert ipd.device.startswith("cuda") and len(ipd.history) == 3


def test_reproduce_coin_section_runs_only_when_asked_and_reports_both_settings(tmp_path, monkeypatch) -> None:
    from lola_zoo import paper
    from lola_zoo.paper import coin

    assert "coin" not in [s.name for s in paper.select_sections(None)]  # the default run stays short
    assert [s.name for s in paper.select_sections("coin")] == ["coin"]
    monkeypatch.setitem(coin.COIN_SETTINGS, None, ("quick", {"updates": 2, "episodes_per_batch": 3,
                                                             "episode_length": 5, "runs": 2}))
    summary = paper.reproduce(out_dir=tmp_path, quick=True, only="coin", progress=False, echo=None, device="cpu")
    rows = {(r["setting"], r["metric"]): r for r in summary["rows"]}
    assert rows[("NL vs NL", "own_coin_share")]["paper"] == 0.5
    lola_row = rows[("LOLA vs LOLA", "own_coin_share")]
    nl_share = summary["sections"]["coin"]["NL vs NL"]["own_coin_share"]["mean"]
    margin = float(lola_row["target"].split("+ ")[1].split()[0]) / 100
    assert lola_row["passed"] == (lola_row["ours"] > nl_share + margin)
    assert (tmp_path / "coin-curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (Path(tmp_path) / "coin-lola-lola" / "metrics.json").is_file()


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
@pytest.mark.cuda
def test_exact_lola_on_cuda_matches_the_cpu_run() -> None:
    from lola_zoo.experiments.exact import ExactConfig, run_exact

    cpu = run_exact(ExactConfig(seeds=64, steps=20, device="cpu"))
    gpu = run_exact(ExactConfig(seeds=64, steps=20, device="cuda"))
    assert torch.allclose(gpu.rewards.cpu(), cpu.rewards, atol=1e-8)


@pytest.mark.parametrize("agents, labels, opponent_handle", [
    (("lola", "ppo"), ["LOLA-PG", "PPO"], "WhiteBoxOpponent"),      # white-box: reads PPO's actor
    (("lola-om", "ppo"), ["LOLA-OM", "PPO"], "OpponentModel"),      # black-box: fits PPO's actions
    (("lola-om", "axelrod:TitForTat"), ["LOLA-OM", "Tit For Tat"], "OpponentModel"),
])
def test_plain_loop_seats_say_what_runs_and_train(agents, labels, opponent_handle) -> None:
    config = TrainConfig(game="ipd", agents=agents, runs=1, updates=2, episodes_per_batch=2, episode_length=8,
                         device="cpu")
    trainer = Trainer(config)
    assert trainer.backend.labels == labels
    assert type(trainer.backend.runs[0]["player_0"].learner.opponent).__name__ == opponent_handle
    result = trainer.run()
    assert len(result.history) == 2 and result.summary["setting"] == " vs ".join(labels)
    if agents[1] == "ppo":  # both seats have memory-1 tables: the exact value of the final pair is reported
        assert "exact_value_per_step" in result.summary


def test_plain_loop_run_resumes_like_a_straight_run_for_pg_seats(tmp_path) -> None:
    config = TrainConfig(game="ipd", agents=("lola-om", "tft"), runs=2, updates=4, episodes_per_batch=2,
                         episode_length=8, checkpoint_every=1, device="cpu", seed=2)
    straight = train(config, tmp_path / "a")
    train(config, tmp_path / "b", stop_after=2)
    resumed = train(config, tmp_path / "b", resume=True)
    assert resumed.history == straight.history


def test_a_checkpoint_from_another_device_type_resumes_with_its_parameters_and_fresh_streams(tmp_path) -> None:
    # A CPU-only machine cannot write a CUDA checkpoint, so one is faked: the generator states are
    # marked as CUDA's, which the CPU cannot load; parameters and optimiser state must still be restored.
    config = _ipd(updates=4)
    train(config, tmp_path, stop_after=2)
    path = tmp_path / "checkpoint.pt"
    state = torch.load(path, weights_only=False)
    state["device_type"] = "cuda"
    state["backend"]["generator"]["device"] = "cuda"
    torch.save(state, path)
    trainer = Trainer(config, tmp_path, resume=True)
    assert not trainer.restored_rng
    saved_logits = state["backend"]["policies"][0]["logits"]
    assert torch.equal(trainer.backend.policies[0].logits.detach(), saved_logits)
    result = trainer.run()
    assert [r["update"] for r in result.history] == [1, 2, 3, 4]
