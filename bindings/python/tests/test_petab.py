"""PEtab import, on the five problems of the benchmark collection in ../shared/data/petab:
the log-likelihood at the nominal parameters against AMICI's reference (within AMICI's own test
tolerance), the simulated measurements against the collection's files, exact gradients against
central differences (AMICI's tolerances), and bad input as errors naming the file and id."""

import math
import pathlib
import shutil

import numpy as np
import pandas as pd
import pytest

import diffid
import diffid.petab as dp

# AMICI's reference log-likelihoods at the nominal parameters (its benchmark test list).
REFERENCE = {
    "Boehm_JProteomeRes2014": -138.22199693517703,
    "Bruno_JExpBot2016": 46.688176988431806,
    "Crauste_CellSystems2017": -190.96521897435176,
    "Fujita_SciSignal2010": 53.08377736998929,
    "Sneyd_PNAS2002": 319.79177818768756,
}


@pytest.fixture(scope="module")
def collection(repo_root):
    return repo_root.parent / "shared" / "data" / "petab"


def yaml(collection, name):
    return collection / name / f"{name}.yaml"


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_the_nominal_log_likelihood_matches_amici(collection, name):
    problem = dp.load(yaml(collection, name))
    llh = problem.log_likelihood(problem.nominal())
    ref = REFERENCE[name]
    assert abs(llh - ref) <= 1e-3 + 1e-3 * abs(ref), (llh, ref)
    table = pd.read_csv(collection / name / f"parameters_{name}.tsv", sep="\t")
    estimated = table[table["estimate"] == 1]
    assert problem.parameters() == list(estimated["parameterId"])
    scales = list(estimated["parameterScale"])
    nominal = estimated["nominalValue"].to_numpy(dtype=float)
    on_scale = [math.log10(v) if s == "log10" else math.log(v) if s == "log" else v
                for v, s in zip(nominal, scales)]
    np.testing.assert_allclose(problem.nominal(), on_scale, rtol=1e-12)


@pytest.mark.parametrize("name", ["Boehm_JProteomeRes2014", "Bruno_JExpBot2016",
                                  "Crauste_CellSystems2017"])
def test_the_simulated_measurements_match_the_collection(collection, name):
    problem = dp.load(yaml(collection, name), rtol=1e-10, atol=1e-14)
    sim = problem.simulate_measurements(problem.nominal())
    expected = pd.read_csv(collection / name / f"simulatedData_{name}.tsv", sep="\t")["simulation"]
    np.testing.assert_allclose(sim, expected.to_numpy(), rtol=1e-4, atol=1e-8)


def slope_at_zero(problem, x, j, window):
    """The slope at 0 of a quintic fitted to 21 values within ±window along coordinate j."""
    steps = np.linspace(-window, window, 21)
    values = []
    for step in steps:
        y = x.copy()
        y[j] += step
        values.append(problem.evaluate(y))
    return np.polyfit(steps / window, np.array(values) - values[10], 5)[-2] / window


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_exact_gradients_match_central_differences(collection, name):
    # Crauste's likelihood bends sharply at its nominal parameters (third derivatives ~1e14:
    # the model blows up within 1e-4 of them), which biases every central difference: there
    # the exact gradient is checked against the slope of a polynomial fitted within ±1e-7 or
    # ±1e-8, at tight tolerances.
    crauste = name.startswith("Crauste")
    rtol, atol = (1e-12, 1e-16) if crauste else (1e-10, 1e-14)
    problem = dp.load(yaml(collection, name), rtol=rtol, atol=atol)
    x = problem.nominal()
    grad = problem.evaluate_gradient(x)
    for j in range(len(x)):
        if crauste:
            estimates = [slope_at_zero(problem, x, j, w) for w in (1e-7, 1e-8)]
        else:
            # Central differences of an adaptive solve are noisy at small steps and biased at
            # large ones: the exact gradient must agree at one of the steps.
            estimates = []
            for h in (1e-4, 1e-5, 1e-6):
                up, down = x.copy(), x.copy()
                up[j] += h
                down[j] -= h
                estimates.append((problem.evaluate(up) - problem.evaluate(down)) / (2 * h))
        # AMICI's tolerances for this check.
        assert any(abs(grad[j] - e) <= 1e-3 + 1e-2 * abs(e) for e in estimates), (
            problem.parameters()[j], grad[j], estimates)


def test_the_generated_model_and_the_problem_describe_themselves(collection):
    problem = dp.load(yaml(collection, "Boehm_JProteomeRes2014"))
    code = dp.to_diffsl(yaml(collection, "Boehm_JProteomeRes2014"))
    assert "kphos" in code and "k_phos" not in code and "out_i" in code
    assert problem.model.names["k_phos"] == "kphos"
    assert "9 estimated parameters" in repr(problem)
    assert problem.problem.solver_counts()["choice"] == "bdf"


def copy_problem(collection, tmp_path, name="Boehm_JProteomeRes2014") -> pathlib.Path:
    target = tmp_path / name
    shutil.copytree(collection / name, target)
    return target / f"{name}.yaml"


def test_a_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(dp.PetabError, match="nothing.yaml"):
        dp.load(tmp_path / "nothing.yaml")


def test_an_unknown_observable_in_the_measurements_is_an_error_naming_the_row(collection, tmp_path):
    path = copy_problem(collection, tmp_path)
    table = path.parent / "measurementData_Boehm_JProteomeRes2014.tsv"
    df = pd.read_csv(table, sep="\t")
    df.loc[3, "observableId"] = "pSTAT5C_rel"
    df.to_csv(table, sep="\t", index=False)
    # Data row 3 is line 5 of the file (after the header).
    with pytest.raises(dp.PetabError,
                       match=r"measurementData_Boehm_JProteomeRes2014.tsv, line 5: .*'pSTAT5C_rel'"):
        dp.load(path)


def test_an_sbml_event_is_refused_by_name(collection, tmp_path):
    import libsbml

    path = copy_problem(collection, tmp_path)
    sbml = path.parent / "model_Boehm_JProteomeRes2014.xml"
    doc = libsbml.readSBMLFromFile(str(sbml))
    event = doc.getModel().createEvent()
    event.setId("pulse")
    trigger = event.createTrigger()
    trigger.setMath(libsbml.parseL3Formula("time > 10"))
    assignment = event.createEventAssignment()
    assignment.setVariable("STAT5A")
    assignment.setMath(libsbml.parseL3Formula("1"))
    libsbml.writeSBMLToFile(doc, str(sbml))
    with pytest.raises(dp.PetabError, match="events"):
        dp.load(path)
