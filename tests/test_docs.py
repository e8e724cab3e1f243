"""What users read holds settings and pointers, not diaries: presets carry at most six comment lines (provenance,
one line of result with a link), and no user-facing text names tracker issues or folders outside the repository."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRESETS = sorted((ROOT / "src" / "gankit" / "presets").glob("*.toml"))


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_a_preset_holds_settings_and_at_most_six_comment_lines(preset):
    lines = preset.read_text().splitlines()
    comments = [line for line in lines if "#" in line]
    assert len(comments) <= 6, f"{preset.name}: {len(comments)} comment lines"
    for link in re.findall(r"benchmarks/results/[\w-]+\.(?:md|json|jsonl|png)", preset.read_text()):
        assert (ROOT / link).is_file(), f"{preset.name} links to {link}, which does not exist"


@pytest.mark.parametrize("path", [*PRESETS, ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))],
                         ids=lambda p: p.name)
def test_user_facing_text_names_no_issues_and_no_outside_paths(path):
    text = path.read_text()
    assert not re.search(r"\bissues? #?\d+", text, re.IGNORECASE), f"{path.name} names a tracker issue"
    assert "../shared" not in text, f"{path.name} points outside the repository"


def test_the_commands_page_lists_every_config_field_with_its_default():
    """docs/commands.md's table is the schema (config.py) as a user reads it: a field added or a default changed
    there must show up here."""
    import dataclasses

    from gankit.config import Config

    text = (ROOT / "docs" / "commands.md").read_text()
    cfg = Config()
    for section in dataclasses.fields(cfg):
        value = getattr(cfg, section.name)
        fields = dataclasses.fields(value) if dataclasses.is_dataclass(value) else [section]
        for f in fields:
            key = f.name if f is section else f"{section.name}.{f.name}"
            assert f"| `{key}` |" in text, f"docs/commands.md lacks the config field {key}"


@pytest.mark.parametrize("path", [ROOT / "README.md", ROOT / "benchmarks" / "README.md", ROOT / "CHANGELOG.md",
                                  *sorted((ROOT / "docs").glob("*.md"))], ids=lambda p: p.name)
def test_every_relative_link_points_at_a_file(path):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
        if "://" not in target:
            assert (path.parent / target).exists(), f"{path.name} links to {target}, which does not exist"
