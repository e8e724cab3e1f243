"""What the lab suggests and warns about: each objective's recommended settings, read from the shipped presets
(WGAN: RMSProp 5e-5, 5 critic steps, clip 0.01, Arjovsky et al. 2017; WGAN-GP: Adam 1e-4, betas (0, 0.9), 5
critic steps, lambda 10, Gulrajani et al. 2017; ns: ring8-ns), and a stalled generator: |grad G| fallen far
below its early value for a while, the saturation of Goodfellow et al. 2014, Sec. 3.
"""

from __future__ import annotations

import functools

from gankit.config import Config, read_config

# objective -> the preset whose optimizers, k and objective settings the lab offers for it
PRESETS = {"ns": "ring8-ns", "wgan": "arjovsky2017-wgan-clip", "wgan-gp": "gulrajani2017-wgan-gp"}
STALL_WINDOW = 10  # records: the early ones set the scale, the last ones are compared with it
STALL_FRACTION = 0.05  # |grad G| below 5% of its early largest value in every recent record: stalled


@functools.cache
def _preset(name: str) -> Config:
    return read_config(preset=name)


def recommended(objective: str) -> dict | None:
    """{"objective", "preset", "settings" (lab settings), "betas", "text"} for an objective with a preset, else
    None. The settings are lab keys (messages.setting_fields); the betas are both optimizers' Adam betas."""
    if objective not in PRESETS:
        return None
    cfg = _preset(PRESETS[objective])
    settings = {"g_opt": cfg.opt_G.name, "g_lr": cfg.opt_G.lr, "d_opt": cfg.opt_D.name, "d_lr": cfg.opt_D.lr,
                "d_steps": cfg.train.d_steps, "g_steps": cfg.train.g_steps}
    if objective == "wgan":
        settings["clip"] = cfg.objective.clip
    if objective == "wgan-gp":
        settings["gp_lambda"] = cfg.objective.gp_lambda
    betas = list(cfg.opt_G.betas) if cfg.opt_G.name == "adam" else None
    text = (f"{objective} works best with {cfg.opt_D.name} lr {cfg.opt_D.lr:g}"
            + (f" betas ({betas[0]:g}, {betas[1]:g})" if betas else "")
            + f", {cfg.train.d_steps} D step{'s' if cfg.train.d_steps > 1 else ''} per G step"
            + (f", clip {cfg.objective.clip:g}" if objective == "wgan" else "")
            + (f", GP lambda {cfg.objective.gp_lambda:g}" if objective == "wgan-gp" else "")
            + f" (preset {PRESETS[objective]})")
    return {"objective": objective, "preset": PRESETS[objective], "settings": settings, "betas": betas,
            "text": text}


def differs(rec: dict, settings: dict, cfg: Config) -> bool:
    """Whether the game's settings differ from the recommendation `rec`."""
    if any(settings[k] != v for k, v in rec["settings"].items()):
        return True
    return rec["betas"] is not None and (list(cfg.opt_G.betas) != rec["betas"] or list(cfg.opt_D.betas) != rec["betas"])


def stalled_generator(history: list[dict]) -> dict | None:
    """An alarm when G has stalled: in each of the last STALL_WINDOW records |grad G| is below STALL_FRACTION of
    its largest value in the first STALL_WINDOW records of the game; else None."""
    grads = [r["grad/G"] for r in history if r.get("grad/G") is not None]
    if len(grads) < 2 * STALL_WINDOW:
        return None
    early, recent = max(grads[:STALL_WINDOW]), max(grads[-STALL_WINDOW:])
    if early <= 0 or recent >= STALL_FRACTION * early:
        return None
    return {"kind": "stalled-generator", "early": early, "recent": recent,
            "message": f"G has stalled: |grad G| is {recent:.3g}, under {STALL_FRACTION:.0%} of its early "
                       f"{early:.3g}, for the last {STALL_WINDOW} records. D may have saturated (Goodfellow et al. "
                       f"2014): try the non-saturating loss, a smaller D learning rate or fewer D steps."}
