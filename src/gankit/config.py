"""Run configuration: dataclasses with a commented default per field (nanoGPT style).

A config comes from a preset (TOML in `gankit/presets/`) or a file (TOML or a run's config.json),
then `--section.key=value` overrides. Unknown keys and values of the wrong type are `GankitError`s.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import io
import json
import math
import sys
import tokenize
import tomllib
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

import torch

from gankit.errors import GankitError

# Fields with a fixed set of values are typed by these; `_coerce` rejects any other value, naming the choices.
Placement = Literal["auto", "device", "host"]
ZDist = Literal["normal", "uniform", "uniform01"]
Conditioning = Literal["none", "concat", "embed", "projection"]
GForm = Literal["saddle", "alternative"]
OptimName = Literal["adam", "sgd", "rmsprop"]
OnNonfinite = Literal["stop", "rollback"]
Precision = Literal["fp32", "bf16", "fp16"]
CompileMode = Literal["off", "default", "reduce-overhead", "max-autotune"]


@dataclass
class DataConfig:
    name: str = "ring8"  # a registered dataset (`gankit list datasets`)
    root: str = "data"  # folder holding the official IDX .gz files (mnist, fashion-mnist)
    download: bool = False  # fetch missing IDX files from the standard mirrors (MD5-checked)
    mirrors: list[str] = field(default_factory=list)  # base URLs to download from; [] = built-in
    path: str = ""  # a user point set (.npy or .csv, columns x, y[, label]) for dataset `points`,
    #                 or a folder of PNG/JPEG files for dataset `images`
    image_size: int = 32  # images: side of the square the pictures are centre-cropped and resized to
    channels: int = 3  # images: 1 (grayscale) or 3 (RGB)
    pixel_range: list[float] = field(default_factory=lambda: [-1.0, 1.0])  # images as G/D see them
    placement: Placement = "auto"  # "device": the data set lives on the training device; "host": in (pinned) host
    #                          memory, each batch copied without blocking; "auto": device if it fits in half
    #                          the GPU's free memory (always on a CPU)


@dataclass
class ModelConfig:
    name: str = "mlp2d"  # a registered model family (`gankit list models`)
    z_dim: int = 8  # latent dimension
    z_dist: ZDist = "normal"  # "normal": N(0, I); "uniform": U(-sqrt 3, sqrt 3), unit variance; "uniform01": U(0, 1)
    g_hidden: list[int] = field(default_factory=list)  # G hidden widths; [] = the family's own
    d_hidden: list[int] = field(default_factory=list)  # D hidden widths; [] = the family's own
    maxout_pieces: int = 5  # pieces per maxout unit (goodfellow2014 D)
    d_dropout_input: float = 0.0  # dropout probability on D's input (goodfellow2014: 0.2)
    d_dropout: float = 0.0  # dropout probability on D's hidden layers (goodfellow2014: 0.5)
    g_dropout: float = 0.0  # dropout probability on G's hidden layers (mirza2014: 0.5)
    cond: Conditioning = "none"  # labels y into G and D: "none", "concat", "embed", "projection" (conditioning.py)
    embed_dim: int = 16  # width of the learned label embedding (cond = "embed")
    spectral_norm: bool = False  # dcgan: spectral normalisation of every D layer (Miyato et al. 2018)
    minibatch_std: bool = False  # dcgan, lrelu-mlp: D sees its batch's spread (Karras et al. 2018)


@dataclass
class ObjectiveConfig:
    name: str = "ns"  # a registered objective (`gankit list objectives`)
    clip: float = 0.01  # wgan: critic weights clipped to [-clip, clip] after every critic step
    gp_lambda: float = 10.0  # wgan-gp: weight of the gradient penalty (Gulrajani et al. 2017)
    lipschitz_gp: float = 0.0  # any objective but wgan-gp: lambda of the same gradient penalty, a Lipschitz D; 0 = off
    r1_gamma: float = 0.0  # R1 penalty gamma/2 E||grad D(x)||^2 on real data, with any objective; 0 = off
    r1_interval: int = 1  # lazy R1: applied every N discriminator steps, scaled by N (StyleGAN2)
    divergence: str = "jensen-shannon"  # fgan: a registered f-divergence (`gankit list divergences`)
    g_form: GForm = "saddle"  # fgan generator loss: "saddle" (minimise the bound) or "alternative"
    critic_bound: float = 0.0  # fgan: V(x) squashed to critic_bound * tanh(V / critic_bound), a bounded critic; 0 = off


@dataclass
class OptimConfig:
    name: OptimName = "adam"  # "adam", "sgd" or "rmsprop"
    lr: float = 2e-4  # learning rate
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])  # Adam's (beta1, beta2)
    momentum: float = 0.0  # SGD / RMSprop momentum at step 0
    momentum_end: float = -1.0  # momentum reached after `momentum_ramp` steps; -1 = constant
    momentum_ramp: int = 0  # generator steps of the linear momentum ramp
    lr_decay: float = 1.0  # lr is divided by this after every update (pylearn2 ExponentialDecay)
    lr_min: float = 0.0  # floor for the decayed lr
    weight_decay: float = 0.0  # L2 weight decay
    max_norm: float = 0.0  # > 0: after every update each unit's incoming weights are rescaled to L2 norm <= this
    #                        (pylearn2's max_col_norm, used by Goodfellow et al. 2014); 0 = off


@dataclass
class TrainConfig:
    steps: int = 2000  # generator steps
    batch_size: int = 64  # images (or points) per batch
    d_steps: int = 1  # k: discriminator steps per iteration, each on a fresh real batch
    g_steps: int = 1  # generator steps per iteration (GAN Lab's knob); `steps` and a run's step count iterations
    seed: int = 0  # seeds weights, data order, latents and dropout
    device: str = "auto"  # "cpu", "cuda", "cuda:N" or "auto" (cuda when available)
    threads: int = 0  # torch CPU threads; 0 = torch's default
    log_every: int = 100  # generator steps between lines of stats.jsonl
    ckpt_every: int = 1000  # generator steps between checkpoints (one is always written at the end)
    grid_size: int = 64  # samples in the final sample grid
    critic_boost: bool = False  # WGAN reference code: 100 D steps for the first 25 G steps and every 500th
    ema_halflife: int = 0  # images: half-life of an exponential moving average of G's weights; 0 = off
    ema_rampup: float = 0.0  # > 0: the half-life is min(ema_halflife, this x images seen), so early weights fade
    #                          fast (Karras et al. 2020); 0 = the full half-life from the start
    time_limit: float = 0.0  # seconds of training (evaluations, checkpoints not counted), then stop; 0 = none
    eval_every: int = 0  # generator steps between evaluations, logged to stats.jsonl as eval/...; 0 = off
    eval_metrics: list[str] = field(default_factory=list)  # [] = modes, w1 (2D) or fd, classes (images)
    eval_n: int = 2500  # samples per evaluation during training
    keep: int = 1  # newest checkpoints kept as checkpoint-<step>.pt; checkpoint.pt is always the newest of them
    on_nonfinite: OnNonfinite = "stop"  # NaN/Inf in a loss or weight: "stop" (last good checkpoint kept) or "rollback"
    rollback_lr_factor: float = 0.5  # "rollback": both learning rates are multiplied by this at each rollback
    max_rollbacks: int = 3  # "rollback": NaN/Inf after this many rollbacks stops the run
    alarm_patience: int = 3  # log intervals D must stay saturated before its alarm; 0 = no saturation/collapse alarms
    collapse_drop: float = 0.25  # collapse alarm: modes captured (or effective classes) down this fraction from best
    tensorboard: bool = False  # also log to RUN/tensorboard (needs the tensorboard package: gankit[tb])
    precision: Precision = "fp32"  # "fp32"; "bf16" or "fp16": forward passes under autocast (fp16 with loss scaling)
    compile: CompileMode = "off"  # torch.compile G and D: "off", "default", "reduce-overhead" (CUDA graphs),
    #                               "max-autotune"
    channels_last: bool = True  # convolutional models and image batches in channels-last memory format


@dataclass
class Config:
    name: str = "run"  # run name; the default run directory is runs/<name>
    description: str = ""  # one line: what this config trains and where it comes from
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    opt_G: OptimConfig = field(default_factory=OptimConfig)
    opt_D: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


SECTIONS = ("data", "model", "objective", "opt_G", "opt_D", "train")
PRECISIONS = typing.get_args(Precision)
COMPILE_MODES = typing.get_args(CompileMode)
PLACEMENTS = typing.get_args(Placement)
# torch.manual_seed takes 0..2**64-1; gankit derives streams from a seed by adding to it (seed + 1, seed + 2,
# seed + 100003 * rank), so seeds stop at 2**63 - 1, leaving room for every derived one.
SEED_MAX = 2**63 - 1
MAX_THREADS = 1024  # torch.set_num_threads beyond this is a typo, not a machine


def check_seed(seed: int, name: str) -> None:
    """A seed torch can take, with room for the streams derived from it: 0 <= seed <= SEED_MAX."""
    if not 0 <= seed <= SEED_MAX:
        raise GankitError(f"{name} must be from 0 to 2**63-1 ({SEED_MAX}), got {_short(seed)}")


# ---------------------------------------------------------------------------- presets


def preset_names() -> list[str]:
    return sorted(p.name[: -len(".toml")] for p in _preset_dir().iterdir() if p.name.endswith(".toml"))


def preset_description(name: str) -> str:
    return str(_read_toml(_preset_path(name)).get("description", ""))


def _preset_dir():
    return resources.files("gankit") / "presets"


def _preset_path(name: str):
    path = _preset_dir() / f"{name}.toml"
    if not path.is_file():
        raise GankitError(f"unknown preset {name!r}; valid choices: {', '.join(preset_names())}")
    return path


def _read_toml(path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError) as e:  # ValueError: an int of 4,300+ digits
        raise GankitError(f"config file {path} is not valid TOML: {_first_line(e)}") from None
    except RecursionError:
        raise GankitError(f"config file {path} nests its values too deeply to be a config") from None
    except OSError as e:
        raise GankitError(f"config file {path} cannot be read: {e.strerror or e}") from None


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


# ---------------------------------------------------------------------------- building


def read_config(preset: str | None = None, file: str | Path | None = None,
                overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Resolve a config: defaults <- preset or file <- `section.key=value` overrides, then `check_config`.
    Names are not yet checked against the registries: `gankit.load_config` (gankit/checks.py) does both."""
    if preset and file:
        raise GankitError("give either --preset or --config, not both")
    raw: dict = {}
    if preset:
        raw = _read_toml(_preset_path(preset))
        raw.setdefault("name", preset)
    elif file:
        path = Path(file)
        if not path.is_file():
            raise GankitError(f"config file {str(path)!r} does not exist")
        if path.suffix == ".json":
            try:
                raw = json.loads(path.read_text())
            except (UnicodeDecodeError, ValueError) as e:  # JSONDecodeError, or an int of 4,300+ digits
                raise GankitError(f"config file {path} is not valid JSON: {_first_line(e)}") from None
            except RecursionError:  # e.g. 100,000 levels of [
                raise GankitError(f"config file {path} nests its values too deeply to be a config") from None
            except OSError as e:
                raise GankitError(f"config file {path} cannot be read: {e.strerror or e}") from None
        else:
            raw = _read_toml(path)
        if not isinstance(raw, dict):
            raise GankitError(f"config file {path} must hold a table of sections (a JSON object), "
                              f"not {type(raw).__name__}")
        raw.setdefault("name", path.stem)
    cfg = from_dict(raw)
    for item in overrides:
        apply_override(cfg, item)
    check_config(cfg)
    return cfg


def from_dict(raw: dict) -> Config:
    """Build a Config from nested dicts; unknown sections or keys are errors listing valid ones."""
    cfg = Config()
    for key, value in raw.items():
        if isinstance(value, dict):
            section = _section(cfg, key)
            for sub, v in value.items():
                _set(section, f"{key}.{sub}", sub, v)
        else:
            _set(cfg, key, key, value)
    return cfg


def to_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)


def apply_override(cfg: Config, item: str) -> None:
    """Apply one `section.key=value` override; the value is parsed as JSON, else taken as a string."""
    key, sep, text = item.partition("=")
    key = key.removeprefix("--")
    if not sep:
        raise GankitError(f"override {item!r} must look like --section.key=value")
    value = _json_or_str(text)
    if isinstance(value, str) and "," in text and not text.startswith('"'):
        value = [_json_or_str(v) for v in text.split(",")]  # --opt_G.betas=0.5,0.999
    parts = key.split(".")
    if len(parts) == 1:
        _set(cfg, key, key, value)
    elif len(parts) == 2:
        _set(_section(cfg, parts[0]), key, parts[1], value)
    else:
        raise GankitError(f"override key {key!r} must be 'section.key' (sections: {', '.join(SECTIONS)})")


def _json_or_str(text: str):
    try:
        return json.loads(text)
    except ValueError:  # not JSON (JSONDecodeError), or an int of 4,300+ digits: taken as a string
        return text
    except RecursionError:
        raise GankitError(f"override value {_short(text)} nests too deeply to be a config value") from None


def _section(cfg: Config, name: str):
    if name not in SECTIONS:
        raise GankitError(f"unknown config section {name!r}; valid sections: {', '.join(SECTIONS)}")
    return getattr(cfg, name)


def _set(obj, full_key: str, key: str, value) -> None:
    hints = typing.get_type_hints(type(obj))
    valid = [k for k in hints if not (isinstance(obj, Config) and k in SECTIONS)]
    if key not in valid:
        raise GankitError(f"unknown config key {full_key!r}; valid keys here: {', '.join(valid)}")
    setattr(obj, key, _coerce(full_key, value, hints[key]))


def _coerce(key: str, value, kind):
    """Check `value` against the field's type; ints are accepted where floats are expected."""
    origin = typing.get_origin(kind)
    if origin is Literal:
        choices = typing.get_args(kind)
        if type(value) is not type(choices[0]) or value not in choices:  # True == 1: compare types too
            raise GankitError(f"{key} {_short(value)} is not one of: {', '.join(map(str, choices))}")
        return value
    if origin is list:
        (item,) = typing.get_args(kind)
        if not isinstance(value, list):
            value = [value]
        return [_coerce(key, v, item) for v in value]
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }[kind]
    if not ok:
        raise GankitError(f"config key {key!r} must be {kind.__name__}, got {_short(value)}")
    if kind is float:
        try:
            value = float(value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise GankitError(f"config key {key!r} must be a finite number, got {_short(value)}")
    return value


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_config(cfg: Config) -> None:
    """Range checks that types cannot express. Names (data set, model family, objective, ...) are
    checked beside their registries: `gankit.checks.validate` runs this, then those."""
    for name in SECTIONS:  # fixed choices again, for a config whose fields were set in code, not parsed
        section = getattr(cfg, name)
        for key, kind in typing.get_type_hints(type(section)).items():
            if typing.get_origin(kind) is Literal:
                _coerce(f"{name}.{key}", getattr(section, key), kind)
    t = cfg.train
    for key in ("steps", "batch_size", "d_steps", "g_steps", "log_every", "ckpt_every", "grid_size", "keep"):
        if getattr(t, key) < 1:
            raise GankitError(f"train.{key} must be at least 1, got {getattr(t, key)}")
    if t.eval_every < 0:
        raise GankitError(f"train.eval_every must be >= 0 steps (0 = off), got {t.eval_every}")
    if t.time_limit < 0:
        raise GankitError(f"train.time_limit must be >= 0 seconds, got {t.time_limit}")
    if t.ema_halflife < 0:
        raise GankitError(f"train.ema_halflife must be >= 0 images, got {t.ema_halflife}")
    if t.ema_rampup < 0:
        raise GankitError(f"train.ema_rampup must be >= 0 (0 = off), got {t.ema_rampup}")
    if not 0 < t.rollback_lr_factor < 1:
        raise GankitError(f"train.rollback_lr_factor must be in (0, 1), got {t.rollback_lr_factor}")
    if t.max_rollbacks < 0 or t.alarm_patience < 0:
        raise GankitError(f"train.max_rollbacks and train.alarm_patience must be >= 0, got {t.max_rollbacks} and "
                          f"{t.alarm_patience}")
    if not 0 < t.collapse_drop < 1:
        raise GankitError(f"train.collapse_drop must be in (0, 1), got {t.collapse_drop}")
    o = cfg.objective
    if (o.clip <= 0 or o.gp_lambda < 0 or o.lipschitz_gp < 0 or o.r1_gamma < 0 or o.r1_interval < 1
            or o.critic_bound < 0):
        raise GankitError("objective.clip must be > 0, gp_lambda, lipschitz_gp, r1_gamma and critic_bound >= 0, "
                          f"r1_interval >= 1; got {o.clip}, {o.gp_lambda}, {o.lipschitz_gp}, {o.r1_gamma}, "
                          f"{o.critic_bound}, {o.r1_interval}")
    if cfg.data.image_size < 4 or cfg.data.channels not in (1, 3):
        raise GankitError(f"data.image_size must be at least 4 and data.channels 1 or 3; got "
                          f"{cfg.data.image_size} and {cfg.data.channels}")
    if not 0 <= t.threads <= MAX_THREADS:
        raise GankitError(f"train.threads must be from 0 to {MAX_THREADS} (0 = torch's default), got {t.threads}")
    check_seed(t.seed, "train.seed")
    if "\x00" in cfg.name or not cfg.name.strip():
        raise GankitError(f"name {cfg.name!r} must be a non-empty folder name without NUL bytes")
    if cfg.model.z_dim < 1:
        raise GankitError(f"model.z_dim must be at least 1, got {cfg.model.z_dim}")
    widths = [*cfg.model.g_hidden, *cfg.model.d_hidden]
    if cfg.model.maxout_pieces < 1 or any(w < 1 for w in widths):
        raise GankitError(f"model.maxout_pieces and the widths in model.g_hidden, model.d_hidden must be at least 1; "
                          f"got {cfg.model.maxout_pieces} and {widths}")
    if cfg.model.embed_dim < 1:
        raise GankitError(f"model.embed_dim must be at least 1, got {cfg.model.embed_dim}")
    for key in ("d_dropout_input", "d_dropout", "g_dropout"):
        if not 0.0 <= getattr(cfg.model, key) < 1.0:
            raise GankitError(f"model.{key} must be in [0, 1), got {getattr(cfg.model, key)}")
    lo_hi = cfg.data.pixel_range
    if len(lo_hi) != 2 or not lo_hi[0] < lo_hi[1]:
        raise GankitError(f"data.pixel_range must be [low, high] with low < high, got {lo_hi}")
    for name in ("opt_G", "opt_D"):
        opt: OptimConfig = getattr(cfg, name)
        if opt.lr <= 0:
            raise GankitError(f"{name}.lr must be positive, got {opt.lr}")
        if len(opt.betas) != 2 or not all(0.0 <= b < 1.0 for b in opt.betas):
            raise GankitError(f"{name}.betas must be two numbers in [0, 1), got {opt.betas}")
        if opt.lr_decay < 1.0:
            raise GankitError(f"{name}.lr_decay must be >= 1 (lr is divided by it), got {opt.lr_decay}")
        for key in ("momentum", "momentum_ramp", "lr_min", "weight_decay", "max_norm"):
            if getattr(opt, key) < 0:
                raise GankitError(f"{name}.{key} must be >= 0, got {getattr(opt, key)}")
        if opt.momentum_end < 0 and opt.momentum_end != -1:
            raise GankitError(f"{name}.momentum_end must be >= 0, or -1 for a constant momentum; "
                              f"got {opt.momentum_end}")
    if t.device not in ("auto", "cpu") and not t.device.startswith("cuda"):
        raise GankitError(f"train.device {t.device!r} is not one of: auto, cpu, cuda, cuda:N")
    if t.device.startswith("cuda") and not torch.cuda.is_available():
        raise GankitError(f"train.device {t.device!r} asked for, but no CUDA GPU is available; use cpu")


# ---------------------------------------------------------------------------- documentation


@functools.cache
def field_comments() -> dict[str, str]:
    """`section.key` (or `key` at the top) -> the comment beside that field in this file, continuation
    lines joined: the dataclasses' source is the one place each field is documented."""
    source = inspect.getsource(sys.modules[__name__])
    lines = source.splitlines()
    comments = {tok.start[0]: tok.string.lstrip("#").strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    by_class: dict[str, dict[str, str]] = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        fields = by_class[node.name] = {}
        for item in node.body:
            if not isinstance(item, ast.AnnAssign):
                continue
            parts, line = [comments.get(item.end_lineno, "")], item.end_lineno + 1
            while line <= len(lines) and lines[line - 1].strip().startswith("#"):  # comment-only continuation
                parts.append(comments[line])
                line += 1
            fields[item.target.id] = " ".join(p for p in parts if p)
    out = {}
    for f in dataclasses.fields(Config):
        if f.name in SECTIONS:
            section = type(getattr(Config(), f.name)).__name__
            out.update({f"{f.name}.{key}": text for key, text in by_class[section].items()})
        else:
            out[f.name] = by_class["Config"][f.name]
    return out


def show_config(cfg: Config) -> str:
    """Every field as `section.key = value  # comment`; a `*` marks a value that differs from the default."""
    comments, default = field_comments(), _flatten(to_dict(Config()))
    rows = ["# every config field; * marks a value that differs from the default (shown after it)"]
    for key, value in _flatten(to_dict(cfg)).items():
        changed = value != default[key]
        note = f" (default {json.dumps(default[key])})" if changed else ""
        rows.append(f"{'*' if changed else ' '} {key} = {json.dumps(value)}  # {comments[key]}{note}")
    return "\n".join(rows)


def _flatten(raw: dict) -> dict:
    flat = {}
    for key, value in raw.items():
        if key in SECTIONS:
            flat.update({f"{key}.{sub}": v for sub, v in value.items()})
        else:
            flat[key] = value
    return flat


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda when available, else cpu."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
