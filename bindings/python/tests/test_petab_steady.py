"""PEtab pre-equilibration, steady-state measurements and objective priors, on a small
problem written here whose solution is known in closed form.

The model: A is produced at rate k_prod·u and removed at rate (k_deg + k_conv)·A; B is made
from A at rate k_conv·A and removed at rate k_b·B. Under a constant stimulus u the steady
state is A* = k_prod·u / (k_deg + k_conv), B* = k_conv·A* / k_b, and A relaxes to it
exponentially with rate k_deg + k_conv from wherever it starts."""

import math

import numpy as np
import pandas as pd
import pytest

import diffid
import diffid.petab as dp

libsbml = pytest.importorskip("libsbml")

TRUE = {"k_prod": 2.0, "k_deg": 0.3, "k_conv": 0.2, "k_b": 0.8}
U_PRE, U_STIM = 0.2, 1.0
SIGMA = 0.1


def a_star(u, p=TRUE):
    return p["k_prod"] * u / (p["k_deg"] + p["k_conv"])


def a_after_pre(t, p=TRUE):
    """A at time t under the stimulus, starting from the steady state without it."""
    lo, hi = a_star(U_PRE, p), a_star(U_STIM, p)
    return hi + (lo - hi) * math.exp(-(p["k_deg"] + p["k_conv"]) * t)


def b_after_pre(t, p=TRUE):
    """B at time t under the stimulus from the steady state without it: B' = k_conv·A − k_b·B
    with A relaxing at rate r, so B is a constant plus an e^(−r t) and an e^(−k_b t) term."""
    r, kb, kc = p["k_deg"] + p["k_conv"], p["k_b"], p["k_conv"]
    a0, a1 = a_star(U_PRE, p), a_star(U_STIM, p)
    c1 = kc * (a0 - a1) / (kb - r)
    c2 = b_star(U_PRE, p) - kc * a1 / kb - c1
    return kc * a1 / kb + c1 * math.exp(-r * t) + c2 * math.exp(-kb * t)


def a_from_zero(t, p=TRUE):
    return a_star(U_STIM, p) * (1.0 - math.exp(-(p["k_deg"] + p["k_conv"]) * t))


def b_star(u, p=TRUE):
    return p["k_conv"] * a_star(u, p) / p["k_b"]


def write_sbml(path):
    doc = libsbml.SBMLDocument(3, 1)
    m = doc.createModel()
    m.setId("relax")
    c = m.createCompartment()
    c.setId("cell")
    c.setSize(1.0)
    c.setConstant(True)
    for sid in ("A", "B"):
        s = m.createSpecies()
        s.setId(sid)
        s.setCompartment("cell")
        s.setInitialConcentration(0.0)
        s.setHasOnlySubstanceUnits(False)
        s.setBoundaryCondition(False)
        s.setConstant(False)
    for pid, value in {**TRUE, "u": U_STIM}.items():
        p = m.createParameter()
        p.setId(pid)
        p.setValue(value)
        p.setConstant(True)

    def reaction(rid, reactants, products, formula):
        r = m.createReaction()
        r.setId(rid)
        r.setReversible(False)
        for sid in reactants:
            ref = r.createReactant()
            ref.setSpecies(sid)
            ref.setStoichiometry(1.0)
            ref.setConstant(True)
        for sid in products:
            ref = r.createProduct()
            ref.setSpecies(sid)
            ref.setStoichiometry(1.0)
            ref.setConstant(True)
        r.createKineticLaw().setMath(libsbml.parseL3Formula(formula))

    reaction("make_A", [], ["A"], "cell * k_prod * u")
    reaction("lose_A", ["A"], [], "cell * k_deg * A")
    reaction("convert", ["A"], ["B"], "cell * k_conv * A")
    reaction("lose_B", ["B"], [], "cell * k_b * B")
    libsbml.writeSBMLToFile(doc, str(path))


def write_problem(tmp_path, measurements, conditions=None, parameters=None):
    write_sbml(tmp_path / "model.xml")
    pd.DataFrame(conditions or [
        {"conditionId": "pre", "u": U_PRE},
        {"conditionId": "stim", "u": U_STIM},
    ]).to_csv(tmp_path / "conditions.tsv", sep="\t", index=False)
    pd.DataFrame([
        {"observableId": "obs_A", "observableFormula": "A", "noiseFormula": SIGMA},
        {"observableId": "obs_B", "observableFormula": "B", "noiseFormula": SIGMA},
    ]).to_csv(tmp_path / "observables.tsv", sep="\t", index=False)
    pd.DataFrame(measurements).to_csv(tmp_path / "measurements.tsv", sep="\t", index=False)
    pd.DataFrame(parameters or [
        {"parameterId": k, "parameterScale": "log10", "lowerBound": 1e-3, "upperBound": 1e3,
         "nominalValue": v, "estimate": 1}
        for k, v in TRUE.items()
    ]).to_csv(tmp_path / "parameters.tsv", sep="\t", index=False)
    (tmp_path / "problem.yaml").write_text(
        "format_version: 1\n"
        "parameter_file: parameters.tsv\n"
        "problems:\n"
        "- condition_files: [conditions.tsv]\n"
        "  measurement_files: [measurements.tsv]\n"
        "  observable_files: [observables.tsv]\n"
        "  sbml_files: [model.xml]\n"
    )
    return tmp_path / "problem.yaml"


def row(obs, time, value, pre="", cond="stim"):
    return {"observableId": obs, "preequilibrationConditionId": pre,
            "simulationConditionId": cond, "time": time, "measurement": value}


TIMES = [0.0, 0.5, 1.0, 2.0, 5.0]


@pytest.fixture
def problem(tmp_path):
    rows = [row("obs_A", t, a_after_pre(t) + 0.05, pre="pre") for t in TIMES]
    rows += [row("obs_A", t, a_from_zero(t) - 0.02) for t in TIMES[1:]]
    rows += [row("obs_B", math.inf, b_star(U_STIM) + 0.03),
             row("obs_A", math.inf, a_star(U_STIM) - 0.01)]
    return dp.load(write_problem(tmp_path, rows), rtol=1e-10, atol=1e-12)


def expected(p=TRUE):
    return np.array([a_after_pre(t, p) for t in TIMES]
                    + [a_from_zero(t, p) for t in TIMES[1:]]
                    + [b_star(U_STIM, p), a_star(U_STIM, p)])


def test_pre_equilibration_and_steady_state_measurements_match_the_closed_form(problem):
    x = problem.nominal()
    sim = problem.simulate_measurements(x)
    np.testing.assert_allclose(sim, expected(), rtol=1e-7, atol=1e-9)
    # The first row sits at the start: the pre-equilibrated steady state itself.
    assert sim[0] == pytest.approx(a_star(U_PRE), rel=1e-8)
    # Each row's residual is the offset written into its measurement.
    offsets = np.array([0.05] * 5 + [-0.02] * 4 + [0.03, -0.01])
    nllh = 0.5 * np.sum((offsets / SIGMA) ** 2) + len(offsets) * math.log(
        math.sqrt(2 * math.pi) * SIGMA)
    assert problem.evaluate(x) == pytest.approx(nllh, rel=1e-6)


def test_the_other_parameters_move_the_steady_states_as_the_closed_form_says(problem):
    p = {"k_prod": 1.3, "k_deg": 0.7, "k_conv": 0.05, "k_b": 2.0}
    sim = problem.simulate_measurements(problem.to_scale(list(p.values())))
    np.testing.assert_allclose(sim, expected(p), rtol=1e-7, atol=1e-9)


def test_gradients_through_the_steady_states_match_central_differences(problem):
    x = problem.nominal() + np.array([0.05, -0.1, 0.08, 0.02])
    g = problem.evaluate_gradient(x)
    h = 1e-5
    fd = np.array([(problem.evaluate(x + h * e) - problem.evaluate(x - h * e)) / (2 * h)
                   for e in np.eye(len(x))])
    np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-6)


def test_experiments_are_named_by_condition_pre_equilibration_and_steady_state(problem):
    names = set(problem.problem.conditions())
    assert names == {"stim after pre", "stim", "stim at steady state"}


def test_a_fit_through_the_pre_equilibration_recovers_the_parameters(tmp_path):
    rows = [row("obs_A", t, a_after_pre(t), pre="pre") for t in TIMES]
    rows += [row("obs_B", t, b_after_pre(t), pre="pre") for t in TIMES]
    rows += [row("obs_B", math.inf, b_star(U_PRE), cond="pre")]
    problem = dp.load(write_problem(tmp_path, rows), rtol=1e-10, atol=1e-12)
    start = problem.nominal() + np.array([0.2, -0.15, 0.1, -0.2])
    result = problem.optimise(initial=problem.to_natural(start), optimiser=diffid.LBFGSB())
    np.testing.assert_allclose(result.x, list(TRUE.values()), rtol=1e-3)


def log_normal_pdf(x, mean, sd):
    return -0.5 * ((x - mean) / sd) ** 2 - math.log(sd * math.sqrt(2 * math.pi))


def test_objective_priors_follow_petab_on_both_scales(tmp_path):
    parameters = [
        # A normal prior on the log10 scale, one on the natural value, a Laplace, and none.
        {"parameterId": "k_prod", "parameterScale": "log10", "lowerBound": 1e-3,
         "upperBound": 1e3, "nominalValue": 2.0, "estimate": 1,
         "objectivePriorType": "parameterScaleNormal", "objectivePriorParameters": "0.5;0.4"},
        {"parameterId": "k_deg", "parameterScale": "log10", "lowerBound": 1e-3,
         "upperBound": 1e3, "nominalValue": 0.3, "estimate": 1,
         "objectivePriorType": "normal", "objectivePriorParameters": "0.25;0.1"},
        {"parameterId": "k_conv", "parameterScale": "lin", "lowerBound": 0.0,
         "upperBound": 1.0, "nominalValue": 0.2, "estimate": 1,
         "objectivePriorType": "laplace", "objectivePriorParameters": "0.1;0.3"},
        {"parameterId": "k_b", "parameterScale": "log10", "lowerBound": 1e-3,
         "upperBound": 1e3, "nominalValue": 0.8, "estimate": 1},
    ]
    rows = [row("obs_A", t, a_after_pre(t), pre="pre") for t in TIMES]
    problem = dp.load(write_problem(tmp_path, rows, parameters=parameters))
    x = problem.to_scale([1.5, 0.35, 0.25, 0.8])
    want = (log_normal_pdf(math.log10(1.5), 0.5, 0.4)
            + log_normal_pdf(0.35, 0.25, 0.1)
            + (-abs(0.25 - 0.1) / 0.3 - math.log(2 * 0.3)))
    assert problem.log_prior(x) == pytest.approx(want, rel=1e-12)
    # Over the natural values: the log10-normal is a log-normal, the default log-uniform.
    priors = problem.priors()
    assert priors[0].name == "lognormal"
    assert priors[0].params == pytest.approx({"mu": 0.5 * math.log(10), "sigma": 0.4 * math.log(10)})
    assert priors[3].name == "loguniform"
    assert priors[3].params == pytest.approx({"lower": 1e-3, "upper": 1e3})
    # Sampling uses them as densities over the natural values, truncated to the bounds: the
    # log10-normal's is its scale density over the Jacobian θ·ln 10, the default is
    # log-uniform on the bounds.
    normal_mass = 1.0 - 0.5 * (1.0 + math.erf((1e-3 - 0.25) / (0.1 * math.sqrt(2))))
    laplace_mass = (1.0 - 0.5 * math.exp(-0.9 / 0.3)) - 0.5 * math.exp(-0.1 / 0.3)
    want_natural = (log_normal_pdf(math.log10(1.5), 0.5, 0.4) - math.log(1.5 * math.log(10))
                    + log_normal_pdf(0.35, 0.25, 0.1) - math.log(normal_mass)
                    + (-abs(0.25 - 0.1) / 0.3 - math.log(2 * 0.3)) - math.log(laplace_mass)
                    - math.log(0.8 * math.log(1e6)))
    natural = problem.problem.log_prior(problem.to_natural(x))
    assert natural == pytest.approx(want_natural, rel=1e-9)


def test_an_unknown_prior_type_names_the_parameter(tmp_path):
    parameters = [
        {"parameterId": k, "parameterScale": "lin", "lowerBound": 0.0, "upperBound": 5.0,
         "nominalValue": v, "estimate": 1, "objectivePriorType": "cauchy" if k == "k_b" else "",
         "objectivePriorParameters": "0;1" if k == "k_b" else ""}
        for k, v in TRUE.items()
    ]
    path = write_problem(tmp_path, [row("obs_A", 1.0, 1.0)], parameters=parameters)
    with pytest.raises(dp.PetabError, match=r"parameters.tsv, parameter 'k_b'.*cauchy"):
        dp.load(path)


def test_re_initialising_a_species_after_pre_equilibration_is_refused_by_name(tmp_path):
    conditions = [{"conditionId": "pre", "u": U_PRE, "A": 0.0},
                  {"conditionId": "stim", "u": U_STIM, "A": 3.0}]
    path = write_problem(tmp_path, [row("obs_A", 1.0, 1.0, pre="pre")], conditions=conditions)
    with pytest.raises(dp.PetabError, match=r"conditions.tsv, condition 'stim'.*species 'A'"):
        dp.load(path)


def test_an_unknown_pre_equilibration_condition_names_the_file_and_line(tmp_path):
    rows = [row("obs_A", 1.0, 1.0), row("obs_A", 2.0, 1.0, pre="nowhere")]
    with pytest.raises(dp.PetabError, match=r"measurements.tsv, line 3.*'nowhere'"):
        dp.load(write_problem(tmp_path, rows))


def test_a_measurement_before_the_start_names_the_file_line_and_condition(tmp_path):
    rows = [row("obs_A", 1.0, 1.0), row("obs_A", -0.5, 1.0)]
    with pytest.raises(dp.PetabError, match=r"measurements.tsv, line 3.*-0.5.*'stim'"):
        dp.load(write_problem(tmp_path, rows))


def test_an_unknown_condition_names_the_file_and_line(tmp_path):
    rows = [row("obs_A", 1.0, 1.0), row("obs_A", 2.0, 1.0, cond="elsewhere")]
    with pytest.raises(dp.PetabError, match=r"measurements.tsv, line 3.*'elsewhere'"):
        dp.load(write_problem(tmp_path, rows))


def test_an_override_naming_no_parameter_names_the_condition(tmp_path):
    conditions = [{"conditionId": "pre", "u": U_PRE}, {"conditionId": "stim", "u": "k_nowhere"}]
    path = write_problem(tmp_path, [row("obs_A", 1.0, 1.0)], conditions=conditions)
    with pytest.raises(dp.PetabError, match=r"conditions.tsv, condition 'stim'.*'k_nowhere'"):
        dp.load(path)


def test_a_malformed_problem_file_is_an_error_naming_it(tmp_path):
    path = write_problem(tmp_path, [row("obs_A", 1.0, 1.0)])
    path.write_text("format_version: 1\nproblems: [[[\n")
    with pytest.raises(dp.PetabError, match="problem.yaml"):
        dp.load(path)


@pytest.mark.parametrize(
    "construct, words",
    [
        ("algebraic", "algebraic rules are not supported"),
        ("delay", "delays are not supported"),
        ("event", "events"),
    ],
)
def test_unsupported_sbml_constructs_are_refused_by_name(tmp_path, construct, words):
    path = write_problem(tmp_path, [row("obs_A", 1.0, 1.0)])
    sbml = tmp_path / "model.xml"
    doc = libsbml.readSBMLFromFile(str(sbml))
    m = doc.getModel()
    if construct == "algebraic":
        p = m.createParameter()
        p.setId("z")
        p.setValue(1.0)
        p.setConstant(False)
        m.createAlgebraicRule().setMath(libsbml.parseL3Formula("z - A - B"))
    elif construct == "delay":
        law = m.getReaction("lose_A").getKineticLaw()
        law.setMath(libsbml.parseL3Formula("cell * k_deg * delay(A, 1)"))
    else:
        event = m.createEvent()
        event.setId("reset")
        event.setUseValuesFromTriggerTime(True)
        trigger = event.createTrigger()
        trigger.setMath(libsbml.parseL3Formula("time > 2"))
        trigger.setPersistent(True)
        trigger.setInitialValue(False)
        assignment = event.createEventAssignment()
        assignment.setVariable("A")
        assignment.setMath(libsbml.parseL3Formula("0"))
    libsbml.writeSBMLToFile(doc, str(sbml))
    with pytest.raises(dp.PetabError, match=words):
        dp.load(path)


@pytest.mark.parametrize(
    "value, words",
    [("k_prod", "estimated parameter 'k_prod'"), ("nowhere", "'nowhere' names no parameter")],
)
def test_a_pre_equilibration_value_must_be_a_number_or_a_fixed_parameter(tmp_path, value, words):
    conditions = [{"conditionId": "pre", "u": value}, {"conditionId": "stim", "u": U_STIM}]
    path = write_problem(tmp_path, [row("obs_A", 1.0, 1.0, pre="pre")], conditions=conditions)
    with pytest.raises(dp.PetabError, match=rf"conditions.tsv, condition 'pre'.*{words}"):
        dp.load(path)
