//! Steady states (pre-equilibration) against analytic steady states and sensitivities: a
//! linear cascade stimulated after pre-equilibration, a nonlinear model Newton must solve, a
//! conservation law Newton cannot (the integration fallback), and models without a steady
//! state (a failed solve with the reason).

use diffid_ode::{DiffslModel, Dose, OdeSimulator, SolveError, SolveOptions, SolverKind};

fn options(solver: SolverKind) -> SolveOptions {
    SolveOptions::default()
        .with_solver(solver)
        .with_tolerances(1e-10, 1e-12)
}

fn simulator(code: &str, times: Vec<f64>, params: &[&str], solver: SolverKind) -> OdeSimulator {
    let names: Vec<String> = params.iter().map(|p| (*p).to_owned()).collect();
    OdeSimulator::new(
        DiffslModel::new(code).expect("valid model"),
        times,
        &names,
        options(solver),
    )
    .expect("valid simulator")
}

fn solve_sens(sim: &OdeSimulator, p: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let k = sim.times().len() * sim.model().n_outputs();
    let mut out = vec![0.0; k];
    let mut sens = vec![0.0; k * p.len()];
    sim.solve_with_sensitivities(p, &mut out, &mut sens)
        .expect("solves");
    (out, sens)
}

/// Production of x driven by the stimulus s, x drives y: at steady state under s0,
/// x* = k1 s0 / k2 and y* = k3 x* / k4. The experiment then runs at s = 5.
const CASCADE: &str = "
in_i { k1 = 2.0, k2 = 0.5, k3 = 1.5, k4 = 0.8, s = 5.0 }
u_i { x = 0.0, y = 0.0 }
F_i { k1 * s - k2 * x, k3 * x - k4 * y }
";

const S0: f64 = 0.4;

fn cascade_steady(p: &[f64; 4]) -> ([f64; 2], [[f64; 4]; 2]) {
    let [k1, k2, k3, k4] = *p;
    let x = k1 * S0 / k2;
    let y = k3 * x / k4;
    let dx = [S0 / k2, -k1 * S0 / (k2 * k2), 0.0, 0.0];
    let dy = [
        k3 * dx[0] / k4,
        k3 * dx[1] / k4,
        x / k4,
        -k3 * x / (k4 * k4),
    ];
    ([x, y], [dx, dy])
}

#[test]
fn the_steady_state_and_its_sensitivities_match_the_analytic_ones() {
    let p = [2.0, 0.5, 1.5, 0.8];
    let (ss, dss) = cascade_steady(&p);
    for solver in [SolverKind::Tsit45, SolverKind::Bdf, SolverKind::Auto] {
        let sim = simulator(
            CASCADE,
            vec![0.0, 1.0, 4.0],
            &["k1", "k2", "k3", "k4"],
            solver,
        )
        .with_steady_state(&[("s".to_owned(), S0)])
        .expect("valid");
        assert_eq!(sim.steady_state(), Some(&[("s".to_owned(), S0)][..]));
        let (out, sens) = solve_sens(&sim, &p);
        for i in 0..2 {
            assert!(
                (out[i] - ss[i]).abs() < 1e-8,
                "{solver:?} state {i}: {} vs {}",
                out[i],
                ss[i]
            );
            for j in 0..4 {
                let got = sens[i * 4 + j];
                assert!(
                    (got - dss[i][j]).abs() < 1e-8,
                    "{solver:?} d state {i} / d p {j}: {got} vs {}",
                    dss[i][j]
                );
            }
        }
        // The plain solve agrees, and so does the step response after it: x relaxes from x*
        // towards k1 s / k2 at rate k2.
        let mut plain = vec![0.0; 6];
        sim.solve(&p, &mut plain).expect("solves");
        let x1 = p[0] * 5.0 / p[1];
        for (row, t) in [0.0f64, 1.0, 4.0].iter().enumerate() {
            let x = x1 + (ss[0] - x1) * (-p[1] * t).exp();
            assert!(
                (plain[row * 2] - x).abs() < 1e-7,
                "{solver:?} t = {t}: {} vs {x}",
                plain[row * 2]
            );
            assert!((plain[row * 2] - out[row * 2]).abs() < 1e-7);
        }
    }
}

#[test]
fn sensitivities_after_pre_equilibration_match_finite_differences() {
    let p = [2.0, 0.5, 1.5, 0.8];
    let sim = simulator(
        CASCADE,
        vec![0.5, 2.0, 6.0],
        &["k1", "k2", "k3", "k4"],
        SolverKind::Bdf,
    )
    .with_steady_state(&[("s".to_owned(), S0)])
    .expect("valid");
    let (_, sens) = solve_sens(&sim, &p);
    for j in 0..4 {
        let h = 1e-6 * p[j];
        let (mut up, mut down) = (p, p);
        up[j] += h;
        down[j] -= h;
        let (mut a, mut b) = (vec![0.0; 6], vec![0.0; 6]);
        sim.solve(&up, &mut a).expect("solves");
        sim.solve(&down, &mut b).expect("solves");
        for k in 0..6 {
            let fd = (a[k] - b[k]) / (2.0 * h);
            assert!(
                (sens[k * 4 + j] - fd).abs() < 1e-5 * (1.0 + fd.abs()),
                "{j} {k}"
            );
        }
    }
}

#[test]
fn a_fitted_input_overridden_for_pre_equilibration_has_no_say_in_the_steady_state() {
    // Fit the stimulus s too: it is overridden (s = S0) while pre-equilibrating, so the
    // steady state does not depend on it; the response after t0 does.
    let p = [2.0, 0.5, 1.5, 0.8, 5.0];
    let sim = simulator(
        CASCADE,
        vec![0.0, 2.0],
        &["k1", "k2", "k3", "k4", "s"],
        SolverKind::Bdf,
    )
    .with_steady_state(&[("s".to_owned(), S0)])
    .expect("valid");
    let (out, sens) = solve_sens(&sim, &p);
    let (ss, _) = cascade_steady(&[2.0, 0.5, 1.5, 0.8]);
    assert!((out[0] - ss[0]).abs() < 1e-8);
    assert_eq!(sens[4], 0.0, "d x(0) / d s");
    // d x(2) / d s = k1 / k2 (1 - e^{-2 k2}).
    let expected = 2.0 / 0.5 * (1.0 - (-1.0f64).exp());
    assert!(
        (sens[2 * 5 + 4] - expected).abs() < 1e-7,
        "{}",
        sens[2 * 5 + 4]
    );
}

#[test]
fn newton_finds_a_nonlinear_steady_state_from_a_poor_guess() {
    // x' = a - b x², x* = sqrt(a / b); the guess x = 0.01 is far off.
    let code = "in_i { a = 3.0, b = 0.5 } u_i { x = 0.01 } F_i { a - b * x * x }";
    let sim = simulator(code, vec![0.0, 1.0], &["a", "b"], SolverKind::Tsit45)
        .with_steady_state(&[])
        .expect("valid");
    let (a, b) = (3.0f64, 0.5f64);
    let (out, sens) = solve_sens(&sim, &[a, b]);
    let x = (a / b).sqrt();
    for v in &out {
        assert!((v - x).abs() < 1e-8, "{v}");
    }
    let da = 1.0 / (2.0 * (a * b).sqrt());
    let db = -a.sqrt() / (2.0 * b.powf(1.5));
    assert!((sens[0] - da).abs() < 1e-8, "{} vs {da}", sens[0]);
    assert!((sens[1] - db).abs() < 1e-8, "{} vs {db}", sens[1]);
}

#[test]
fn a_conservation_law_is_settled_by_integration() {
    // A <-> B conserves A + B = total; the Jacobian is singular, so Newton cannot solve it
    // and the state and its sensitivities are integrated to steady state.
    let code = "
in_i { kf = 2.0, kr = 0.5, total = 3.0 }
u_i { a = total, b = 0.0 }
F_i { -kf * a + kr * b, kf * a - kr * b }
";
    let sim = simulator(
        code,
        vec![0.0, 1.0],
        &["kf", "kr", "total"],
        SolverKind::Bdf,
    )
    .with_steady_state(&[])
    .expect("valid");
    let (kf, kr, total) = (2.0, 0.5, 3.0);
    let (out, sens) = solve_sens(&sim, &[kf, kr, total]);
    let a = kr * total / (kf + kr);
    assert!((out[0] - a).abs() < 1e-8, "{} vs {a}", out[0]);
    assert!((out[1] - (total - a)).abs() < 1e-8);
    let s = kf + kr;
    let expected = [-kr * total / (s * s), kf * total / (s * s), kr / s];
    for j in 0..3 {
        assert!(
            (sens[j] - expected[j]).abs() < 1e-7,
            "d a / d p {j}: {} vs {}",
            sens[j],
            expected[j]
        );
    }
}

#[test]
fn without_a_steady_state_the_solve_fails_with_the_reason() {
    // x' = a drifts for ever; x' = x grows without bound.
    for code in [
        "in_i { a = 1.0 } u_i { x = 1.0 } F_i { a }",
        "in_i { a = 1.0 } u_i { x = 1.0 } F_i { a * x * x }",
    ] {
        for solver in [SolverKind::Tsit45, SolverKind::Auto] {
            let sim = simulator(code, vec![0.0, 10.0], &["a"], solver)
                .with_steady_state(&[])
                .expect("valid");
            let mut out = vec![0.0; 2];
            match sim.solve(&[1.0], &mut out) {
                Err(SolveError::SteadyState { reason }) => {
                    assert!(
                        reason.contains("Newton") && reason.contains("integration"),
                        "{reason}"
                    );
                }
                other => panic!("{code}: {other:?}"),
            }
            let mut sens = vec![0.0; 2];
            assert!(matches!(
                sim.solve_with_sensitivities(&[1.0], &mut out, &mut sens),
                Err(SolveError::SteadyState { .. })
            ));
        }
    }
}

#[test]
fn a_dose_after_pre_equilibration_perturbs_the_steady_state() {
    // Elimination with constant production: x* = r / k; a bolus of 2 at t = 1 decays back.
    let code = "in_i { r = 1.0, k = 0.5 } u_i { x = 0.0 } F_i { r - k * x }";
    let sim = simulator(code, vec![0.0, 1.0, 2.0], &["r", "k"], SolverKind::Tsit45)
        .with_steady_state(&[])
        .and_then(|s| s.with_doses(&[Dose::new(1.0, "x", 2.0)]))
        .expect("valid");
    let mut out = vec![0.0; 3];
    sim.solve(&[1.0, 0.5], &mut out).expect("solves");
    assert!((out[0] - 2.0).abs() < 1e-9);
    assert!((out[1] - 2.0).abs() < 1e-9, "pre-dose at the dose time");
    assert!(
        (out[2] - (2.0 + 2.0 * (-0.5f64).exp())).abs() < 1e-7,
        "{}",
        out[2]
    );
}

#[test]
fn bad_overrides_are_specific_errors() {
    let sim = simulator(CASCADE, vec![0.0, 1.0], &["k1"], SolverKind::Tsit45);
    let e = sim
        .with_steady_state(&[("stim".to_owned(), 0.0)])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'stim'") && e.contains("k1, k2, k3, k4, s"),
        "{e}"
    );
    let e = sim
        .with_steady_state(&[("s".to_owned(), 0.0), ("s".to_owned(), 1.0)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("twice"), "{e}");
    let e = sim
        .with_steady_state(&[("s".to_owned(), f64::NAN)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("finite"), "{e}");
}
