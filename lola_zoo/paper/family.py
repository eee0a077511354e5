"""The LOLA family side by side on the exact IPD: ``lola-zoo reproduce --only family``.

Every opponent-shaping rule this package has on exact values — NL, LOLA, higher-order LOLA, SOS,
exact LOLA, POLA, COLA — in self-play and against a naive learner, plus M-FOS against a naive
learner, all on the same IPD (γ = 0.96, memory-1 policies, initial logits N(0, 1)) with one batch
of seeds per pairing.  Not the LOLA paper's table: it is the comparison the later papers make,
measured here under one protocol.  COLA and M-FOS are trained inside the section (COLA's
consistency training, M-FOS's PPO meta-training), so it takes minutes and is not a default
section.
"""

from __future__ import annotations

from typing import Any

from lola_zoo.paper.core import Section, SectionContext, SectionResult, _row, register_section

__all__ = ["FAMILY_RULES", "family_section"]

#: exact rules in the table: (registered name, label)
FAMILY_RULES: tuple[tuple[str, str], ...] = (
    ("nl", "NL"), ("lola", "LOLA"), ("hola", "HOLA-2"), ("sos", "SOS"), ("exact-lola", "exact LOLA"),
    ("pola", "POLA"), ("cola", "COLA"),
)


def _exact_rows(ctx: SectionContext, name: str, label: str, seeds: int, steps: int, lr: float) -> list[dict[str, Any]]:
    from lola_zoo.experiments.exact import ExactConfig, run_exact, summarize

    rows = []
    opponents = [(name, label)] if name == "nl" else [(name, label), ("nl", "NL")]
    for other, other_label in opponents:
        cfg = ExactConfig(learners=(name, other), seeds=seeds, steps=steps, lr=(lr, lr if other == name else 1.0),
                          device=ctx.device)
        s = summarize(run_exact(cfg, progress=ctx.progress, description=f"family: {label} vs {other_label}"))
        setting = f"{label} vs {other_label}"
        rows.append(_row("family", "ipd", setting, "reward", s["players"]["player_0"]["reward_mean"], "num"))
        rows.append(_row("family", "ipd", setting, "opponent_reward", s["players"]["player_1"]["reward_mean"], "num"))
        rows.append(_row("family", "ipd", setting, "tit_for_tat", s["shares"]["tit_for_tat"], "share"))
    return rows


def family_section(ctx: SectionContext) -> SectionResult:
    """Final reward per step and TFT share of each rule in self-play and against NL; M-FOS against NL."""
    from lola_zoo.agents.cola import COLAConfig, register_cola, train_cola
    from lola_zoo.agents.mfos import MFOSConfig, evaluate_mfos, train_mfos

    seeds = ctx.seeds or (64 if ctx.quick else 1000)
    steps = 30 if ctx.quick else 200
    cola = train_cola("ipd", config=COLAConfig(steps=60 if ctx.quick else 1000), progress=ctx.progress)
    register_cola(cola, "cola", override=True)
    rows: list[dict[str, Any]] = []
    for name, label in FAMILY_RULES:
        lr = cola.config.eta if name == "cola" else 1.0  # COLA plays theta += eta h (its training's eta)
        rows.extend(_exact_rows(ctx, name, label, seeds, steps, lr))
    mfos_config = MFOSConfig(opponent="nl", iterations=4 if ctx.quick else 120, batch=32 if ctx.quick else 128)
    agent, history = train_mfos("ipd", mfos_config, progress=ctx.progress)
    ev = evaluate_mfos(agent, "ipd", mfos_config, episodes=seeds)
    setting = "M-FOS vs NL"
    rows.append(_row("family", "ipd", setting, "reward", ev["mfos_final"], "num"))
    rows.append(_row("family", "ipd", setting, "opponent_reward", ev["opponent_final"], "num"))
    rows.append(_row("family", "ipd", setting, "mean_reward", ev["mfos_mean"], "num"))
    lola_vs_nl = next(r["ours"] for r in rows if r["setting"] == "LOLA vs NL" and r["metric"] == "reward")
    m_fos_mean = ev["mfos_mean"]
    # M-FOS's claim (Lu et al. 2022): it exploits a naive learner more than LOLA does.
    rows.append(_row("family", "ipd", setting, "mean_reward_minus_lola_vs_nl", m_fos_mean - lola_vs_nl, "num",
                     "> 0", m_fos_mean > lola_vs_nl))
    summary = {
        "seeds": seeds, "steps": steps, "cola_consistency_loss": cola.history[-1] if cola.history else None,
        "mfos": {k: v for k, v in ev.items() if not k.endswith("curve")},
        "mfos_training_seconds": history["seconds"][-1] if history["seconds"] else 0.0,
    }
    return SectionResult(rows, [], summary)


register_section(Section("family", "The LOLA family on the exact IPD: self-play and against NL", family_section,
                         ("family", "pola", "cola", "mfos"), default=False), override=True)
