"""Fuzzing the config loader (hypothesis): random overrides and random config files end in a
`GankitError` (a one-line message for the user) or a valid config, never another exception."""

import json
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gankit.checks import load_config
from gankit.config import SECTIONS, Config, to_dict
from gankit.errors import GankitError

KEYS = [f"{section}.{key}" for section in SECTIONS for key in to_dict(Config())[section]] + ["name", "description"]
TEXT = st.text(alphabet=string.printable + "éλ\x00", max_size=20)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=True), TEXT)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(TEXT, inner, max_size=3)), max_leaves=8)
# override text: JSON of random values, or raw text such as 1e999, nan, 0.5,0.999, [1, or a bare word
VALUE_TEXT = st.one_of(VALUES.map(json.dumps), TEXT, st.sampled_from(["1e999", "-1e999", "NaN", "Infinity", "0.5,x",
                                                                     "[1,", "{}", "[]", '""', "-0", "1_000"]))
KEY = st.one_of(st.sampled_from(KEYS), TEXT, st.sampled_from(["train.", ".steps", "a.b.c", "train.steps.x", "=", ""]))
OVERRIDE = st.one_of(st.tuples(KEY, VALUE_TEXT).map(lambda kv: f"{kv[0]}={kv[1]}"), TEXT)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def loads_or_explains(**kwargs) -> None:
    try:
        cfg = load_config(**kwargs)
    except GankitError as e:
        assert str(e) and "\n" not in str(e).strip(), repr(str(e))  # one line
    else:
        assert isinstance(cfg, Config)


@FUZZ
@given(st.lists(OVERRIDE, max_size=4), st.sampled_from(["ring8-ns", "classic-mlp-mnist", "ring8-cgan"]))
def test_random_overrides_end_in_a_clean_error_or_a_config(overrides, preset):
    loads_or_explains(preset=preset, overrides=overrides)


@FUZZ
@given(st.dictionaries(st.one_of(st.sampled_from([*SECTIONS, "name", "description"]), TEXT),
                       st.one_of(VALUES, st.dictionaries(st.sampled_from([k.split(".")[-1] for k in KEYS]), VALUES,
                                                         max_size=4)), max_size=4))
def test_random_json_config_files_end_in_a_clean_error_or_a_config(tmp_path, raw):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(raw))
    loads_or_explains(file=path)


@FUZZ
@given(st.binary(max_size=200), st.sampled_from(["cfg.toml", "cfg.json"]))
def test_random_bytes_as_a_config_file_end_in_a_clean_error_or_a_config(tmp_path, data, name):
    path = tmp_path / name
    path.write_bytes(data)
    loads_or_explains(file=path)
