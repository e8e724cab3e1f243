"""Alarms raised while training: a NaN/Inf loss or weight (the run stops, or rolls back), a saturated
discriminator (D(x) -> 1, D(G(z)) -> 0 and G's gradient vanishing: the saturation of Goodfellow et al.
2014, Sec. 3), mode collapse (modes captured, or the entropy of the class histogram, falling) and, on 2D
data, a generator whose samples run off towards infinity (the run stops).
Each one becomes an `alarm` line in stats.jsonl, a note on the progress bar and a line of the summary
at the end. Everything is read at log intervals: nothing here waits for the device at every step.
"""

from __future__ import annotations

import math

import torch
from torch import nn

NEVER = 2**62  # "no non-finite value seen yet", larger than any step
SATURATED = 0.01  # D(x) >= 1 - 0.01 and D(G(z)) <= 0.01: D separates real from fake almost surely
VANISHED = 0.01  # |grad G| below 1% of its largest logged value
RUNAWAY = 100.0  # G's samples beyond 100 times the data's largest |coordinate|: they have run off


class NonFinite:
    """The first generator step at which D's or G's loss or gradient norm was NaN or Inf, kept in a
    device tensor (a few tiny kernels per step, no host sync); `check` reads it with the weights."""

    def __init__(self, device: torch.device):
        self.device = device
        self.reset()

    def reset(self) -> None:
        self.first = torch.full((2,), NEVER, dtype=torch.long, device=self.device)  # (D, G)

    def update(self, step: int, d_stats: dict[str, torch.Tensor], g_stats: dict[str, torch.Tensor]) -> None:
        """Losses every step; gradient norms on the steps that measured them (a NaN gradient reaches the
        weights, hence the next step's loss, so a step without them is caught one step later)."""
        values = [d_stats["loss/D"], d_stats.get("grad/D", d_stats["loss/D"]),
                  g_stats["loss/G"], g_stats.get("grad/G", g_stats["loss/G"])]
        bad = ~torch.isfinite(torch.stack([v.float().to(self.device) for v in values])).view(2, 2).all(1)
        self.first = torch.where(bad & (self.first == NEVER), step, self.first)

    def check(self, step: int, G: nn.Module, D: nn.Module, first: torch.Tensor | None = None) -> dict | None:
        """None, or {network, step, message} for the network that went non-finite first. Within one step
        D is updated first and G's loss goes through D, so D is blamed on a tie. `first`: the tracked
        steps after a minimum over ranks (`dist.minimum`)."""
        first_D, first_G = (self.first if first is None else first).tolist()
        if min(first_D, first_G) < NEVER:
            net, at = ("D", first_D) if first_D <= first_G else ("G", first_G)
            return {"network": net, "step": at,
                    "message": f"NaN/Inf in {net}'s loss or gradient at step {at}"}
        for net, module in (("D", D), ("G", G)):
            if not finite(module):
                return {"network": net, "step": step, "message": f"NaN/Inf in {net}'s weights at step {step}"}
        return None


def finite(module: nn.Module) -> bool:
    """Every parameter of `module` finite (one host sync)."""
    return bool(torch.stack([torch.isfinite(p).all() for p in module.parameters()]).all())


class Runaway:
    """A generator whose samples run off towards infinity. An unbounded critic (an f-GAN's KL or chi^2 on
    well-separated modes) can reward moving samples ever further out; left alone the run ends with samples
    at 1e5 or inf and W1 = inf. `check` looks at G's samples on a fixed noise batch at log intervals."""

    def __init__(self, real: torch.Tensor):
        self.scale = max(real.detach().abs().max().item(), 1e-6)  # the data's largest |coordinate|

    def check(self, fake: torch.Tensor, step: int) -> dict | None:
        """None, or a stopping alarm when a coordinate of `fake` is non-finite or beyond RUNAWAY x the data's."""
        far = fake.detach().abs().amax().item()
        if far <= RUNAWAY * self.scale:
            return None
        return {"alarm": "runaway", "network": "G", "step": step, "action": "stop",
                "message": f"G's samples ran off at step {step}: a coordinate reached {far:.3g}, over "
                           f"{RUNAWAY:g}x the data's largest |coordinate| {self.scale:.3g}: training stopped (the "
                           "critic is unbounded: see the toy settings in `gankit list objectives` and `gankit list "
                           "divergences`)"}


class Watch:
    """Saturation and mode collapse, from the stats and eval lines as they are logged. Each alarm fires
    once when its condition starts and again only after it has cleared."""

    def __init__(self, *, patience: int, collapse_drop: float):
        self.patience, self.collapse_drop = patience, collapse_drop
        self.recent: list[dict] = []  # the last `patience` stats lines of a GAN objective
        self.peak_grad_G = 0.0
        self.best_count = 0.0
        self.active: set[str] = set()

    def replay(self, lines: list[dict]) -> None:
        """Rebuild the state from a resumed run's stats.jsonl (the alarms it raised are not raised again)."""
        for line in lines:
            if "alarm" not in line:
                self.on_line(line)

    def on_line(self, line: dict) -> dict | None:
        """Look at one logged line (stats or evaluation); an alarm dict when one starts."""
        if not self.patience:
            return None
        if "eval/modes" in line or "eval/class_kl_uniform" in line:
            return self._collapse(line)
        if "loss/G" not in line:
            return None
        grad = _number(line, "grad/G")
        if math.isfinite(grad):
            self.peak_grad_G = max(self.peak_grad_G, grad)
        if "estimate/value" in line:  # D outputs are probabilities only for the GAN objectives
            self.recent = (self.recent + [line])[-self.patience:]
        return self._once("saturation", self._saturated(), line, network="D", message=lambda: (
            f"D saturated for {self.patience} log intervals up to step {line['step']}: D(x) = "
            f"{_number(line, 'D/real'):.4f}, D(G(z)) = {_number(line, 'D/fake'):.4f}, |grad G| = {grad:.2e} "
            f"(peak {self.peak_grad_G:.2e}): G learns almost nothing"))

    def _saturated(self) -> bool:
        def one(s: dict) -> bool:
            return (_number(s, "D/real") >= 1 - SATURATED and _number(s, "D/fake") <= SATURATED
                    and _number(s, "grad/G") < VANISHED * self.peak_grad_G)

        return len(self.recent) == self.patience and all(one(s) for s in self.recent)

    def _collapse(self, line: dict) -> dict | None:
        if "eval/modes" in line:  # 2D mixtures: modes captured
            count, what = _number(line, "eval/modes"), "modes captured"
        else:  # images: exp(entropy of the class histogram) = 10 exp(-KL(hist || uniform)), effective classes
            count, what = 10 * math.exp(-_number(line, "eval/class_kl_uniform")), "effective classes exp(H)"
        if not math.isfinite(count):
            return None
        self.best_count = max(self.best_count, count)
        dropped = self.best_count >= 2 and count <= (1 - self.collapse_drop) * self.best_count
        return self._once("collapse", dropped, line, network="G", message=lambda: (
            f"mode collapse at step {line['step']}: {what} fell to {count:.2f} from its best {self.best_count:.2f}"))

    def _once(self, kind: str, condition: bool, line: dict, *, network: str, message) -> dict | None:
        if not condition:
            self.active.discard(kind)
            return None
        if kind in self.active:
            return None
        self.active.add(kind)
        return {"alarm": kind, "network": network, "step": line["step"], "message": message(), "action": "warn"}


def _number(line: dict, key: str) -> float:
    """line[key] as a float; NaN when missing or not finite (stats.jsonl writes those as strings)."""
    value = line.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
