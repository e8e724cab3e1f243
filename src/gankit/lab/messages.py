"""What the lab's page may send: every message is a JSON object with a known "type" and known fields, each
type-checked and bounded here (point counts, layers, widths, rates). A bad message raises `GankitError`
naming the field and the valid values; the server sends that reason back and carries on.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from gankit.errors import GankitError

MAX_MESSAGE_CHARS = 200_000  # a 2,000-point drawing is ~40 kB of JSON
MAX_POINTS = 2000  # drawn points in one data set
MIN_POINTS = 2
COORD_LIMIT = 20.0  # |x|, |y| of a drawn point
MAX_LABEL = 24  # drawn points' classes 0..24, as many as grid25 has modes
MAX_STEPS = 1000  # iterations asked for by one "step" message
MAX_SPEED = 50  # iterations per frame while playing
LAYERS = ("real", "fake", "heatmap", "manifold", "arrows", "dstar")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
Z_DISTS = ("normal", "uniform", "uniform01")
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_DEPTH = 8  # nesting of [ and { in one message (a drawing needs 3): deeper is refused before json.loads
SLOWMO_ACTIONS = ("next", "stop")  # slow motion: show the next sub-step of an iteration, or leave
# settings that only one objective reads (the page hides them and an export resets them to their defaults);
# "fgan" stands for every objective whose D outputs an f-GAN V(x) (its registry Reading)
OBJECTIVE_ONLY = {"divergence": "fgan", "g_form": "fgan", "clip": "wgan", "gp_lambda": "wgan-gp"}


@dataclass(frozen=True)
class Field:
    """One setting the page can change: the config field it sets, its kind, choices or range, and whether a
    change rebuilds the networks."""

    path: str  # "section.key" in the config ("model.cond" is shown to the page as a bool: conditional or not)
    kind: str  # "choice", "int", "float", "bool" or "widths"
    choices: tuple[str, ...] = ()
    lo: float = 0.0
    hi: float = 0.0
    restart: bool = False  # True: a new game (fresh networks, step 0) starts


def datasets_2d() -> tuple[str, ...]:
    """The registered 2D data sets ("points": drawn in the page), read from the registry: a toy set registered
    by a plugin appears in the lab too."""
    from gankit.data import DATASETS

    return tuple(n for n in DATASETS.names() if DATASETS.get(n).kind == "points")


def setting_fields() -> dict[str, Field]:
    """The lab's settings, each mapped to its config field, with bounds: the one table the page's controls,
    the frames' `settings` and the config a game runs are read from. The objective and divergence choices
    come from the registries, so user plugins appear too."""
    from gankit.objectives import OBJECTIVES
    from gankit.objectives.fgan import DIVERGENCES

    return {
        "dataset": Field("data.name", "choice", datasets_2d(), restart=True),
        "objective": Field("objective.name", "choice", tuple(OBJECTIVES.names())),
        "divergence": Field("objective.divergence", "choice", tuple(DIVERGENCES.names())),
        "g_form": Field("objective.g_form", "choice", ("saddle", "alternative")),
        "clip": Field("objective.clip", "float", lo=1e-4, hi=1.0),
        "gp_lambda": Field("objective.gp_lambda", "float", lo=0.0, hi=100.0),
        "g_opt": Field("opt_G.name", "choice", OPTIMIZERS),
        "d_opt": Field("opt_D.name", "choice", OPTIMIZERS),
        "g_lr": Field("opt_G.lr", "float", lo=1e-6, hi=0.1),
        "d_lr": Field("opt_D.lr", "float", lo=1e-6, hi=0.1),
        "d_steps": Field("train.d_steps", "int", lo=1, hi=20),
        "g_steps": Field("train.g_steps", "int", lo=1, hi=20),
        "batch_size": Field("train.batch_size", "int", lo=8, hi=2048),
        "z_dim": Field("model.z_dim", "int", lo=1, hi=64, restart=True),
        "z_dist": Field("model.z_dist", "choice", Z_DISTS),
        "g_hidden": Field("model.g_hidden", "widths", lo=1, hi=512, restart=True),
        "d_hidden": Field("model.d_hidden", "widths", lo=1, hi=512, restart=True),
        "cond": Field("model.cond", "bool", restart=True),
        "seed": Field("train.seed", "int", lo=0, hi=2**31 - 1, restart=True),
    }


def inapplicable(objective: str) -> list[str]:
    """The settings the objective `objective` never reads (OBJECTIVE_ONLY): the page hides them and an exported
    run's config holds their defaults."""
    from gankit.objectives import reading

    d_output = reading(objective).d_output
    return [key for key, owner in OBJECTIVE_ONLY.items()
            if not (objective == owner or (owner == "fgan" and d_output == "fgan"))]


MAX_LAYERS = 6  # hidden layers per network


def _int(name: str, value: Any, lo: float, hi: float) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise GankitError(f"{name} must be an integer from {lo:g} to {hi:g}, got {value!r}")
    return value


def _float(name: str, value: Any, lo: float, hi: float) -> float:
    if (not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value)
            or not lo <= value <= hi):
        raise GankitError(f"{name} must be a number from {lo:g} to {hi:g}, got {value!r}")
    return float(value)


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices or not isinstance(value, str):
        raise GankitError(f"{name} {value!r} is not one of: {', '.join(choices)}")
    return value


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise GankitError(f"{name} must be true or false, got {value!r}")
    return value


def _setting(name: str, value: Any, field: Field):
    if field.kind == "choice":
        return _choice(name, value, field.choices)
    if field.kind == "int":
        return _int(name, value, field.lo, field.hi)
    if field.kind == "float":
        return _float(name, value, field.lo, field.hi)
    if field.kind == "bool":
        return _bool(name, value)
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_LAYERS:
        raise GankitError(f"{name} must be a list of 1 to {MAX_LAYERS} layer widths, got {value!r}")
    return [_int(f"{name} width", v, field.lo, field.hi) for v in value]


def _object(name: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise GankitError(f"{name} must be a JSON object, got {type(value).__name__}")
    return value


def _points(value: Any, labels: Any) -> dict:
    if not isinstance(value, list) or not MIN_POINTS <= len(value) <= MAX_POINTS:
        n = len(value) if isinstance(value, list) else type(value).__name__
        raise GankitError(f"points must be a list of {MIN_POINTS} to {MAX_POINTS} [x, y] pairs, got {n}")
    points = []
    for p in value:
        if not isinstance(p, list) or len(p) != 2:
            raise GankitError(f"each point must be [x, y], got {p!r}")
        points.append([_float("a point coordinate", c, -COORD_LIMIT, COORD_LIMIT) for c in p])
    if labels is None:
        return {"points": points, "labels": None}
    if not isinstance(labels, list) or len(labels) != len(points):
        raise GankitError(f"labels must be a list with one class per point ({len(points)}), got {labels!r:.60}")
    return {"points": points, "labels": [_int("a point label", y, 0, MAX_LABEL) for y in labels]}


def _run_name(value: Any) -> str:
    if not isinstance(value, str) or not RUN_NAME.fullmatch(value) or ".." in value:
        raise GankitError(f"a run name is 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit; "
                          f"got {value!r:.80}")
    return value


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')  # a JSON string literal (linear: no nested quantifiers)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _nesting(text: str) -> int:
    """The deepest nesting of [ and { in JSON text, outside string literals, without parsing it (so a page
    sending 100,000 levels of [ gets an error reply, never a RecursionError)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(itertools.accumulate(1 if c in "[{" else -1 for c in brackets), default=0)


# message type -> its fields (besides "type") and whether each is required
SHAPES: dict[str, dict[str, bool]] = {
    "hello": {}, "play": {}, "pause": {}, "reset": {}, "runs": {},
    "step": {"which": False, "n": False},
    "speed": {"value": True},
    "settings": {"settings": True},
    "layers": {"layers": True},
    "points": {"points": True, "labels": False},
    "export": {"name": True},
    "load": {"name": True},
    "slowmo": {"action": True},
    "recommended": {},
}


def parse_message(message: str | bytes | dict) -> dict:
    """Validate one message from the page and return it normalised: {"type": ..., field: value, ...}.

    Raises GankitError with the reason for anything malformed, unknown or out of range.
    """
    if isinstance(message, (str, bytes)):
        if len(message) > MAX_MESSAGE_CHARS:
            raise GankitError(f"message too long ({len(message)} characters; at most {MAX_MESSAGE_CHARS})")
        try:
            text = message.decode() if isinstance(message, bytes) else message
            if _nesting(text) > MAX_DEPTH:
                raise GankitError(f"message is nested too deeply (at most {MAX_DEPTH} levels of [ and {{)")
            message = json.loads(text)
        except RecursionError:  # a second guard: json.loads recurses once per level
            raise GankitError(f"message is nested too deeply (at most {MAX_DEPTH} levels of [ and {{)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise GankitError(f"message is not JSON: {e}") from None
    message = _object("a message", message)
    kind = message.get("type")
    if kind not in SHAPES:
        raise GankitError(f"unknown message type {kind!r:.40}; valid types: {', '.join(SHAPES)}")
    shape = SHAPES[kind]
    extra = sorted(set(message) - set(shape) - {"type"})
    if extra:
        raise GankitError(f"unknown field {extra[0]!r:.40} in a {kind!r} message; its fields: "
                          f"{', '.join(shape) or 'none'}")
    missing = [k for k, required in shape.items() if required and k not in message]
    if missing:
        raise GankitError(f"a {kind!r} message needs the field {missing[0]!r}")
    out: dict = {"type": kind}
    if kind == "step":
        out["which"] = _choice("step which", message.get("which", "both"), ("d", "g", "both"))
        out["n"] = _int("step n", message.get("n", 1), 1, MAX_STEPS)
    elif kind == "speed":
        out["value"] = _int("speed", message["value"], 1, MAX_SPEED)
    elif kind == "settings":
        fields = setting_fields()
        changes = _object("settings", message["settings"])
        if not changes:
            raise GankitError("settings is empty; send at least one of: " + ", ".join(fields))
        out["settings"] = {}
        for key, value in changes.items():
            if key not in fields:
                raise GankitError(f"unknown setting {key!r:.40}; valid settings: {', '.join(fields)}")
            out["settings"][key] = _setting(key, value, fields[key])
    elif kind == "layers":
        layers = _object("layers", message["layers"])
        for key, value in layers.items():
            _choice("layer", key, LAYERS)
            _bool(f"layer {key}", value)
        out["layers"] = dict(layers)
    elif kind == "points":
        out.update(_points(message["points"], message.get("labels")))
    elif kind in ("export", "load"):
        out["name"] = _run_name(message["name"])
    elif kind == "slowmo":
        out["action"] = _choice("slowmo action", message["action"], SLOWMO_ACTIONS)
    return out
