//! Exact forward sensitivities against analytic derivatives and central finite differences,
//! for every solver and both backends, models with several outputs, intermediate definitions
//! and inputs that set initial states.

use diffid_ode::{Backend, DiffslModel, OdeSimulator, SolveError, SolveOptions, SolverKind};

const SOLVERS: [SolverKind; 4] = [
    SolverKind::Tsit45,
    SolverKind::Bdf,
    SolverKind::Esdirk34,
    SolverKind::TrBdf2,
];
const BACKENDS: [Backend; 2] = [Backend::Dense, Backend::Sparse];

fn times(n: usize, t_end: f64) -> Vec<f64> {
    (0..n).map(|i| t_end * i as f64 / (n - 1) as f64).collect()
}

fn tight(solver: SolverKind, backend: Backend) -> SolveOptions {
    SolveOptions::default()
        .with_solver(solver)
        .with_tolerances(1e-10, 1e-12)
        .with_backend(backend)
}

fn simulator(code: &str, t: &[f64], params: &[&str], opts: SolveOptions) -> OdeSimulator {
    let names: Vec<String> = params.iter().map(|p| (*p).to_owned()).collect();
    OdeSimulator::new(
        DiffslModel::new(code).expect("valid model"),
        t.to_vec(),
        &names,
        opts,
    )
    .expect("valid simulator")
}

fn with_sens(sim: &OdeSimulator, p: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let k = sim.times().len() * sim.model().n_outputs();
    let mut out = vec![0.0; k];
    let mut sens = vec![0.0; k * p.len()];
    sim.solve_with_sensitivities(p, &mut out, &mut sens)
        .expect("solve succeeds");
    (out, sens)
}

/// Central differences of the plain solve, column `j` for parameter `j`.
fn finite_differences(sim: &OdeSimulator, p: &[f64]) -> Vec<f64> {
    let k = sim.times().len() * sim.model().n_outputs();
    let mut fd = vec![0.0; k * p.len()];
    for j in 0..p.len() {
        let h = 1e-5 * p[j].abs().max(1.0);
        let (mut up, mut down) = (p.to_vec(), p.to_vec());
        up[j] += h;
        down[j] -= h;
        let (mut a, mut b) = (vec![0.0; k], vec![0.0; k]);
        sim.solve(&up, &mut a).expect("solves");
        sim.solve(&down, &mut b).expect("solves");
        for r in 0..k {
            fd[r * p.len() + j] = (a[r] - b[r]) / (2.0 * h);
        }
    }
    fd
}

fn assert_close(got: &[f64], want: &[f64], rel: f64, what: &str) {
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-12);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= rel * scale.max(w.abs()),
            "{what}: entry {i}: {g} vs {w} (scale {scale})"
        );
    }
}

const DECAY: &str = "
in_i { k = 0.5, y0 = 2.0 }
u_i { y = y0 }
F_i { -k * y }
";

#[test]
fn decay_sensitivities_match_the_analytic_derivatives_for_every_solver_and_backend() {
    let t = times(11, 3.0);
    for backend in BACKENDS {
        for solver in SOLVERS {
            let sim = simulator(DECAY, &t, &["k", "y0"], tight(solver, backend));
            let (k, y0) = (0.7, 1.5);
            let (out, sens) = with_sens(&sim, &[k, y0]);
            let mut want_out = Vec::new();
            let mut want = Vec::new();
            for &ti in &t {
                let e = (-k * ti).exp();
                want_out.push(y0 * e);
                want.extend([-ti * y0 * e, e]);
            }
            let what = format!("{solver:?}/{backend:?}");
            assert_close(&out, &want_out, 1e-6, &what);
            assert_close(&sens, &want, 1e-6, &what);
        }
    }
}

const TWO_OUT: &str = "
in_i { a = 1.0, b = 2.0 }
u_i { x = 1.0, y = 1.0 }
F_i { -a * x, -b * y }
out_i { x + y, x - y, 2 * x }
";

#[test]
fn each_output_gets_its_own_sensitivities_time_major() {
    let t = times(6, 2.0);
    let sim = simulator(
        TWO_OUT,
        &t,
        &["a", "b"],
        tight(SolverKind::Tsit45, Backend::Dense),
    );
    let (a, b) = (0.8, 1.7);
    let (_, sens) = with_sens(&sim, &[a, b]);
    for (i, &ti) in t.iter().enumerate() {
        let (dx, dy) = (-ti * (-a * ti).exp(), -ti * (-b * ti).exp());
        // Rows: outputs at time i; columns: (a, b).
        let want = [dx, dy, dx, -dy, 2.0 * dx, 0.0];
        assert_close(&sens[6 * i..6 * i + 6], &want, 1e-6, &format!("t = {ti}"));
    }
}

/// An intermediate definition used by F and by the outputs, an input-dependent initial state,
/// an input-dependent constant, and an input that is not fitted.
const RICH: &str = "
in_i { r = 0.6, kcap = 5.0, n0 = 0.3, h = 0.2 }
scale { 2.0 * kcap }
u_i { n = n0 * kcap, m = 0.1 }
growth_i { r * n * (1 - n / kcap) }
F_i { growth_i - h * n * m, h * n * m - 0.3 * m }
out_i { n, m, growth_i / scale, n * m }
";

#[test]
fn intermediates_and_input_dependent_states_match_finite_differences() {
    let t = times(21, 6.0);
    for backend in BACKENDS {
        for solver in SOLVERS {
            let sim = simulator(RICH, &t, &["r", "kcap", "n0"], tight(solver, backend));
            let p = [0.6, 5.0, 0.3];
            let k = t.len() * 4;
            let (mut out, mut sens) = (vec![0.0; k], vec![0.0; 3 * k]);
            if let Err(e) = sim.solve_with_sensitivities(&p, &mut out, &mut sens) {
                panic!("{solver:?}/{backend:?}: {e}");
            }
            let fd = finite_differences(&sim, &p);
            assert_close(&sens, &fd, 1e-5, &format!("{solver:?}/{backend:?}"));
        }
    }
}

#[test]
fn seed_lotka_volterra_sensitivities_match_finite_differences() {
    let code = include_str!("../../../data/lotka_volterra_seed.ds");
    let t = times(101, 20.0);
    let sim = simulator(
        code,
        &t,
        &["alpha", "beta", "delta", "gamma"],
        tight(SolverKind::Tsit45, Backend::Dense),
    );
    let p = [1.1, 0.4, 0.1, 0.4];
    let (_, sens) = with_sens(&sim, &p);
    let fd = finite_differences(&sim, &p);
    assert_close(&sens, &fd, 1e-5, "seed model");
}

#[test]
fn sensitivity_solves_fail_like_plain_solves() {
    // Blow-up at t = 1/c.
    let sim = simulator(
        "in_i { c = 1.0 } u_i { y = 1.0 } F_i { c * y * y }",
        &times(11, 2.0),
        &["c"],
        SolveOptions::default(),
    );
    let mut out = vec![0.0; 11];
    let mut sens = vec![0.0; 11];
    assert!(sim
        .solve_with_sensitivities(&[1.0], &mut out, &mut sens)
        .is_err());
    // The same simulator recovers at benign parameters, on the same thread.
    sim.solve_with_sensitivities(&[0.1], &mut out, &mut sens)
        .expect("benign solve");
    // d/dc of 1 / (1 − c t) at t = 2 is t / (1 − c t)².
    assert!((sens[10] - 2.0 / (0.8 * 0.8)).abs() < 1e-3, "{}", sens[10]);

    // A stop condition that fires before the last time fails the sensitivity solve too.
    let stop = simulator(
        "in_i { k = 1.0 } u_i { y = 1.0 } F_i { -k * y } stop { y - 0.5 }",
        &times(11, 2.0),
        &["k"],
        SolveOptions::default(),
    );
    assert!(matches!(
        stop.solve_with_sensitivities(&[1.0], &mut out, &mut sens),
        Err(SolveError::StoppedEarly { .. })
    ));
    assert!(matches!(
        stop.solve(&[1.0], &mut out),
        Err(SolveError::StoppedEarly { .. })
    ));

    // Buffers of the wrong size are an error, not a panic.
    let err = sim
        .solve_with_sensitivities(&[0.1], &mut out, &mut [0.0; 3])
        .unwrap_err();
    assert!(err.to_string().contains("sensitivities"), "{err}");
}

#[test]
fn sensitivities_agree_across_threads_bit_for_bit() {
    let t = times(21, 6.0);
    let sim = simulator(RICH, &t, &["r", "kcap"], SolveOptions::default());
    let reference = with_sens(&sim, &[0.6, 5.0]);
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|_| s.spawn(|| with_sens(&sim, &[0.6, 5.0])))
            .collect();
        for h in hs {
            assert_eq!(h.join().unwrap(), reference);
        }
    });
}

#[test]
fn no_fitted_parameters_and_wrong_parameter_counts_are_handled() {
    let t = times(5, 1.0);
    let none = simulator(DECAY, &t, &[], SolveOptions::default());
    let mut out = vec![0.0; 5];
    none.solve_with_sensitivities(&[], &mut out, &mut [])
        .expect("a plain solve");
    assert!((out[4] - 2.0 * (-0.5f64).exp()).abs() < 1e-5, "{out:?}");
    let one = simulator(DECAY, &t, &["k"], SolveOptions::default());
    let err = one
        .solve_with_sensitivities(&[0.5, 1.0], &mut out, &mut [0.0; 5])
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("2 parameter values given, 1 expected"),
        "{err}"
    );
}

#[test]
fn models_with_a_mass_matrix_get_exact_sensitivities_too() {
    // x' = -k x, 0 = x - c y: a DAE (y = x / c), solvable by the implicit methods.
    let code = "
in_i { k = 1.0, c = 2.0 }
u_i { x = 1.0, y = 0.5 }
dudt_i { dxdt = 0.0, dydt = 0.0 }
M_i { dxdt, 0 }
F_i { -k * x, x - c * y }
";
    let t = times(11, 2.0);
    for backend in BACKENDS {
        for solver in [SolverKind::Bdf, SolverKind::Esdirk34, SolverKind::TrBdf2] {
            let sim = simulator(code, &t, &["k", "c"], tight(solver, backend));
            assert!(sim.model().has_mass());
            let (k, c) = (0.5, 2.0);
            let (out, sens) = with_sens(&sim, &[k, c]);
            let mut want_out = Vec::new();
            let mut want = Vec::new();
            for &ti in &t {
                let x = (-k * ti).exp();
                want_out.extend([x, x / c]);
                // d/dk, d/dc of x = e^{-kt} and y = x / c.
                want.extend([-ti * x, 0.0, -ti * x / c, -x / (c * c)]);
            }
            let what = format!("{solver:?}/{backend:?}");
            assert_close(&out, &want_out, 1e-6, &what);
            assert_close(&sens, &want, 1e-6, &what);
        }
    }
}
