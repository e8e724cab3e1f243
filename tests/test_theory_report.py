"""`gankit theory`: the report's numbers re-derived from its CSVs and from closed forms, its files, the default
cases, one-line errors for bad specs, and docs/theory.md's example."""

import json
import math
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from scipy import stats

from gankit.cli import main
from gankit.theory import check_theorem1, grid_for, parse_density
from gankit.theory.figures import read_csv
from gankit.theory.report import DEFAULT_CASES

LOG4 = math.log(4)
FAST = ["--no-progress", "--no-mnist"]


@pytest.fixture(scope="module")
def report_1d(tmp_path_factory):
    """A small 1D report: p_data = N(0, 1), p_g = N(1.5, 1), short training budgets."""
    out = tmp_path_factory.mktemp("theory") / "r"
    rc = main(["theory", "--data", "gaussian:mean=0,std=1", "--model", "gaussian:mean=1.5,std=1", "--out", str(out),
               "--d-steps", "200", "--critic-steps", "40", "--saturation-steps", "10", *FAST])
    assert rc == 0
    return out, json.loads((out / "summary.json").read_text())


def test_report_files_each_figure_with_its_csv(report_1d):
    out, _ = report_1d
    pngs = sorted(p.stem for p in out.glob("*.png"))
    assert pngs == sorted(["case1-densities", "case1-minimum", "case1-discriminator", "saturation-analytic",
                           "saturation-measured", "critic"])
    for stem in pngs:
        assert (out / f"{stem}.csv").is_file() and (out / f"{stem}.png").stat().st_size > 10_000
    text = (out / "report.md").read_text()
    for stem in pngs:  # the report shows every figure and links its numbers
        assert f"]({stem}.png)" in text and f"]({stem}.csv)" in text


def test_report_numbers_match_the_closed_forms(report_1d):
    _, summary = report_1d
    r = summary["cases"][0]["theorem1"]
    # Theorem 1, to 1e-6 (the report's own claim).
    assert abs(r["value_at_optimum"] + LOG4 - 2 * r["jsd"]) < 1e-6
    # N(0, 1) against N(1.5, 1): KL = (m1 - m2)² / (2 s²) = 1.125 both ways; H = ½ log(2πe) for both;
    # W1 of translates with equal std is the shift |1.5 - 0| (the area between a CDF and its translate).
    assert r["kl_pq"] == pytest.approx(1.125, abs=1e-8) and r["kl_qp"] == pytest.approx(1.125, abs=1e-8)
    assert r["entropy_p"] == pytest.approx(0.5 * math.log(2 * math.pi * math.e), abs=1e-8)
    assert summary["cases"][0]["w1"]["w1"] == pytest.approx(1.5, abs=1e-6)
    # JSD of N(0, 1) and N(1.5, 1) by scipy's adaptive quadrature, sharing no code with the grid sum.
    from scipy import integrate

    a, b = stats.norm(0, 1), stats.norm(1.5, 1)

    def integrand(x):
        pa, pb = a.pdf(x), b.pdf(x)
        m = (pa + pb) / 2
        return 0.5 * pa * math.log(pa / m) + 0.5 * pb * math.log(pb / m)

    assert r["jsd"] == pytest.approx(integrate.quad(integrand, -12, 13.5, points=[0.75], limit=200)[0], abs=1e-8)


def test_densities_csv_recomputes_d_star(report_1d):
    out, _ = report_1d
    cols = read_csv(out / "case1-densities.csv")
    x, p, q, d_star = (cols[k] for k in ("x", "p_data", "p_g", "d_star"))
    assert len(x) > 1000
    for i in range(0, len(x), 97):
        assert p[i] == pytest.approx(stats.norm(0, 1).pdf(x[i]), rel=1e-9, abs=1e-300)
        assert q[i] == pytest.approx(stats.norm(1.5, 1).pdf(x[i]), rel=1e-9, abs=1e-300)
        if p[i] + q[i] > 1e-300:  # Proposition 1, from the CSV's own columns
            assert d_star[i] == pytest.approx(p[i] / (p[i] + q[i]), rel=1e-9)
    # Equal stds: log D*/(1 - D*) = log p - log q = 1.125 - 1.5 x, so D* = 1/2 exactly at x = 0.75.
    i = min(range(len(x)), key=lambda k: abs(x[k] - 0.75))
    assert d_star[i] == pytest.approx(1 / (1 + math.exp(1.5 * x[i] - 1.125)), rel=1e-12)
    # The trained D is close to D* where the densities live.
    trained = cols["d_trained"]
    err = sum(abs(trained[k] - d_star[k]) * (p[k] + q[k]) / 2 for k in range(len(x))) * (x[1] - x[0])
    assert err < 0.05


def test_minimum_csv_reaches_minus_log4_at_p_g_equals_p_data(report_1d):
    out, summary = report_1d
    cols = read_csv(out / "case1-minimum.csv")
    assert cols["t"][0] == 0.0 and cols["t"][-1] == 1.0
    assert cols["value_at_optimum"][0] == pytest.approx(-LOG4, abs=1e-9)
    assert cols["max_abs_dstar_minus_half"][0] == 0.0 and cols["mean_abs_dstar_minus_half"][0] == 0.0
    values = cols["value_at_optimum"]
    assert all(b > a for a, b in zip(values, values[1:]))  # JSD of the walk rises with t (convexity, ends 0 and >0)
    for v, j in zip(values, cols["jsd"]):
        assert v == pytest.approx(-LOG4 + 2 * j, abs=1e-6)
    # The walk ends at p_g itself: the same value as the case's table.
    assert values[-1] == pytest.approx(summary["cases"][0]["theorem1"]["value_at_optimum"], abs=1e-12)


def test_discriminator_and_critic_csvs(report_1d):
    out, summary = report_1d
    d = read_csv(out / "case1-discriminator.csv")
    ceiling = summary["cases"][0]["theorem1"]["value_at_optimum"]
    assert all(v == pytest.approx(ceiling, abs=1e-12) for v in d["value_at_optimum"])
    assert all(v <= ceiling for v in d["value"])  # V(D, G) <= V(D*, G) for every D
    assert d["mean_abs_error"][-1] < d["mean_abs_error"][0] / 5
    c = read_csv(out / "critic.csv")
    assert set(c["critic"]) == {"clip", "gp"} and all(w == pytest.approx(1.5, abs=1e-6) for w in c["w1"])
    K = summary["critic"]["fitted_ratio"]
    # One pair: the fitted K is the final estimate over W1.
    assert K["clip"] == pytest.approx(summary["critic"]["final"]["clip"][0] / 1.5, rel=1e-9)
    assert 0 < K["clip"] < 0.05  # weights clipped to ±0.01: a slope far below 1
    sat = read_csv(out / "saturation-analytic.csv")
    for d_, mm, ns in zip(sat["d_of_g_z"], sat["minimax_autograd"], sat["ns_autograd"]):
        assert mm == pytest.approx(d_, rel=1e-9) and ns == pytest.approx(1 - d_, rel=1e-6)


def test_a_2d_case_from_the_cli(tmp_path, capsys):
    out = tmp_path / "r2"
    rc = main(["theory", "--data", "ring8:std=0.05", "--model", "gaussian:mean=0.2;0.1,std=0.5", "--out", str(out),
               "--d-steps", "0", "--critic-steps", "0", "--saturation-steps", "0", "--w1-samples", "300", *FAST])
    assert rc == 0
    assert "V(D*, G) = " in capsys.readouterr().out
    case = json.loads((out / "summary.json").read_text())["cases"][0]
    r = case["theorem1"]
    assert abs(r["value_at_optimum"] - r["minus_log4_plus_2jsd"]) < 1e-6
    # Recompute from the specs through the Python API: the same numbers.
    p, q = parse_density("ring8:std=0.05"), parse_density("gaussian:mean=0.2;0.1,std=0.5")
    assert check_theorem1(p, q, grid_for(p, q))["jsd"] == pytest.approx(r["jsd"], abs=1e-12)
    # W1 by optimal transport on 300 samples, beside the estimator's floor for p_data against itself.
    assert case["w1"]["samples"] == 300 and 0 < case["w1"]["baseline"] < case["w1"]["w1"]
    cols = read_csv(out / "case1-densities.csv")
    assert set(cols) == {"x", "y", "p_data", "p_g", "d_star", "d_trained"}
    assert all(math.isnan(v) for v in cols["d_trained"][:10])  # no discriminator trained: NaN, not a made-up D
    assert sorted(p.stem for p in out.glob("*.png")) == ["case1-densities", "case1-minimum"]


def test_default_cases_without_training(tmp_path):
    out = tmp_path / "d"
    assert main(["theory", "--out", str(out), "--d-steps", "0", "--critic-steps", "0", "--saturation-steps", "0",
                 *FAST]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [(c["data"], c["model"]) for c in summary["cases"]] == list(DEFAULT_CASES)
    assert {len(c["grid"]["shape"]) for c in summary["cases"]} == {1, 2}  # 1D and 2D cases
    for case in summary["cases"]:
        r = case["theorem1"]
        assert abs(r["difference"]) < 1e-6 and r["value_at_optimum"] == pytest.approx(-LOG4 + 2 * r["jsd"], abs=1e-6)
        assert case["minimum"]["argmin_t"] == 0.0 and case["minimum"]["increasing"]
        assert case["minimum"]["value_at_p_data"] == pytest.approx(-LOG4, abs=1e-6)


@pytest.mark.parametrize("args, message", [
    (["--data", "foo", "--model", "gaussian"], "unknown density 'foo'.*valid choices: gaussian, mixture"),
    (["--data", "gaussian:mean=0,sd=1", "--model", "gaussian"], "KEY one of mean, std, corr"),
    (["--data", "gaussian:mean=x", "--model", "gaussian"], "is not a number"),
    (["--data", "ring8", "--model", "gaussian:mean=0"], "p_data is 2D but p_g is 1D"),
    (["--data", "ring8"], "give both --data SPEC and --model SPEC"),
    (["--d-steps", "-1"], "d-steps must be >= 0"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, args, message):
    assert main(["theory", "--out", str(tmp_path / "x"), *args, *FAST]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gankit: error: ") and re.search(message, err)
    assert not (tmp_path / "x").exists()  # refused before any work


def test_bad_spec_from_the_shell_has_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gankit", "theory", "--data", "gaussian:mean=0;0;0", "--model",
                           "gaussian", "--out", str(tmp_path / "x")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "gankit: error: density spec 'gaussian:mean=0;0;0': mean needs 1 number (1D) or 2 (2D), got 3"]


def test_docs_theory_example(tmp_path, monkeypatch):
    """docs/theory.md's Python example runs as written (with smaller budgets)."""
    page = (Path(__file__).resolve().parents[1] / "docs" / "theory.md").read_text()
    blocks = [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", page, flags=re.S)]
    block = next(b for b in blocks if "theory_report(" in b)
    fast = "TheoryOptions(d_steps=100, critic_steps=20, saturation_steps=0)"  # same calls, smaller budgets
    assert block.count("TheoryOptions(d_steps=2000, critic_steps=400)") == 1
    block = block.replace("TheoryOptions(d_steps=2000, critic_steps=400)", fast)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(block, "docs/theory.md", "exec"), scope)
    assert (tmp_path / "theory-mixture" / "report.md").is_file()
    assert 0 < scope["summary"]["cases"][0]["discriminator"]["mean_abs_error"] < 0.3
