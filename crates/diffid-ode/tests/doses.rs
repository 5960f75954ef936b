//! Doses and breakpoints: a one-compartment model with first-order absorption and repeated
//! oral doses against its analytic solution (superposition) for every method, sensitivities
//! across the doses against finite differences, the convention at a dose time, a switch at a
//! breakpoint, and the errors of a bad schedule.

use diffid_ode::{
    check_increasing, DiffslModel, Dose, OdeError, OdeSimulator, SolveOptions, SolverKind,
};

/// Absorption from the gut into a central compartment of volume `v`, elimination from it;
/// the output is the concentration.
const PK: &str = "
in_i { ka = 1.2, ke = 0.15, v = 8.0 }
u_i { gut = 0.0, central = 0.0 }
F_i { -ka * gut, ka * gut - ke * central }
out_i { central / v }
";

const DOSE: f64 = 100.0;
const DOSE_TIMES: [f64; 4] = [0.0, 12.0, 24.0, 36.0];

/// Concentration at `t` from doses of `DOSE` given at `DOSE_TIMES` strictly before `t`.
fn analytic(t: f64, ka: f64, ke: f64, v: f64) -> f64 {
    DOSE_TIMES
        .iter()
        .filter(|&&tau| tau < t)
        .map(|&tau| {
            let s = t - tau;
            DOSE * ka / (v * (ka - ke)) * ((-ke * s).exp() - (-ka * s).exp())
        })
        .sum()
}

fn times() -> Vec<f64> {
    // Every half hour over 48 h: the dose times are among them.
    (0..=96).map(|i| 0.5 * f64::from(i)).collect()
}

fn options(solver: SolverKind) -> SolveOptions {
    SolveOptions::default()
        .with_solver(solver)
        .with_tolerances(1e-10, 1e-12)
}

fn pk(solver: SolverKind) -> OdeSimulator {
    let names = ["ka", "ke", "v"].map(str::to_owned);
    OdeSimulator::new(
        DiffslModel::new(PK).expect("valid model"),
        times(),
        &names,
        options(solver),
    )
    .expect("valid simulator")
    .with_doses(&Dose::repeated("gut", DOSE, 0.0, 12.0, 4))
    .expect("valid doses")
}

const P: [f64; 3] = [1.2, 0.15, 8.0];

#[test]
fn repeated_oral_doses_match_the_analytic_solution_for_every_method() {
    for solver in [
        SolverKind::Auto,
        SolverKind::Tsit45,
        SolverKind::Bdf,
        SolverKind::Esdirk34,
        SolverKind::TrBdf2,
    ] {
        let sim = pk(solver);
        let mut y = vec![0.0; sim.times().len()];
        sim.solve(&P, &mut y).expect("solves");
        let worst = sim
            .times()
            .iter()
            .zip(&y)
            .map(|(&t, &c)| (c - analytic(t, P[0], P[1], P[2])).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-6, "{solver:?}: worst error {worst:e}");
    }
}

#[test]
fn a_prediction_at_a_dose_time_is_taken_just_before_the_dose() {
    let sim = pk(SolverKind::Tsit45);
    let mut y = vec![0.0; sim.times().len()];
    sim.solve(&P, &mut y).expect("solves");
    // At t = 0 the first dose has not acted: the concentration is the initial 0.
    assert_eq!(y[0], 0.0);
    // At t = 12 (row 24) the trough before the second dose: only the first dose counts.
    let trough = analytic(12.0, P[0], P[1], P[2]);
    assert!((y[24] - trough).abs() < 1e-8, "{} vs {trough}", y[24]);
    // Half an hour later the second dose shows (it is well above the trough).
    assert!(y[25] > 1.5 * trough);
}

#[test]
fn sensitivities_carry_across_doses() {
    for solver in [SolverKind::Tsit45, SolverKind::Bdf] {
        let sim = pk(solver);
        let k = sim.times().len();
        let mut out = vec![0.0; k];
        let mut sens = vec![0.0; k * 3];
        sim.solve_with_sensitivities(&P, &mut out, &mut sens)
            .expect("solves");
        for j in 0..3 {
            let h = 1e-5 * P[j];
            let (mut up, mut down) = (P, P);
            up[j] += h;
            down[j] -= h;
            let (mut a, mut b) = (vec![0.0; k], vec![0.0; k]);
            sim.solve(&up, &mut a).expect("solves");
            sim.solve(&down, &mut b).expect("solves");
            for row in 0..k {
                let fd = (a[row] - b[row]) / (2.0 * h);
                let exact = sens[row * 3 + j];
                assert!(
                    (exact - fd).abs() < 1e-5 * (1.0 + fd.abs()),
                    "{solver:?} parameter {j} time {}: {exact} vs {fd}",
                    sim.times()[row]
                );
            }
        }
        // The plain solve and the sensitivity solve give the same predictions.
        let mut plain = vec![0.0; k];
        sim.solve(&P, &mut plain).expect("solves");
        for (a, b) in plain.iter().zip(&out) {
            assert!((a - b).abs() < 1e-8, "{a} vs {b}");
        }
    }
}

#[test]
fn doses_at_one_time_add_up_and_keep_their_order_irrelevant() {
    let names = ["ka", "ke", "v"].map(str::to_owned);
    let base = OdeSimulator::new(
        DiffslModel::new(PK).expect("valid"),
        times(),
        &names,
        options(SolverKind::Tsit45),
    )
    .expect("valid");
    let split = base
        .with_doses(&[Dose::new(12.0, "gut", 60.0), Dose::new(0.0, "gut", 100.0)])
        .and_then(|s| s.with_doses(&[Dose::new(12.0, "gut", 40.0)]))
        .and_then(|s| s.with_doses(&Dose::repeated("gut", DOSE, 24.0, 12.0, 2)))
        .expect("valid");
    let whole = pk(SolverKind::Tsit45);
    let (mut a, mut b) = (vec![0.0; 97], vec![0.0; 97]);
    split.solve(&P, &mut a).expect("solves");
    whole.solve(&P, &mut b).expect("solves");
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-8, "{x} vs {y}");
    }
    assert_eq!(split.doses().len(), 5);
}

/// Production switched on at t = 5: y' = -k y + r H(t - 5), y(0) = 1.
const SWITCH: &str = "
in_i { k = 0.7, r = 2.0 }
u_i { y = 1.0 }
F_i { -k * y + r * heaviside(t - 5.0) }
";

fn switched(t: f64, k: f64, r: f64) -> f64 {
    if t <= 5.0 {
        (-k * t).exp()
    } else {
        let y5 = (-k * 5.0).exp();
        r / k + (y5 - r / k) * (-k * (t - 5.0)).exp()
    }
}

#[test]
fn a_breakpoint_restarts_the_integration_exactly_at_a_switch() {
    let names = ["k", "r"].map(str::to_owned);
    let t: Vec<f64> = (0..=40).map(|i| 0.25 * f64::from(i)).collect();
    let sim = OdeSimulator::new(
        DiffslModel::new(SWITCH).expect("valid"),
        t.clone(),
        &names,
        options(SolverKind::Bdf).with_solver(SolverKind::Bdf),
    )
    .expect("valid")
    .with_breakpoints(&[5.0])
    .expect("valid");
    assert_eq!(sim.breakpoints(), &[5.0]);
    let mut y = vec![0.0; t.len()];
    sim.solve(&[0.7, 2.0], &mut y).expect("solves");
    for (&ti, &yi) in t.iter().zip(&y) {
        assert!(
            (yi - switched(ti, 0.7, 2.0)).abs() < 1e-7,
            "t = {ti}: {yi} vs {}",
            switched(ti, 0.7, 2.0)
        );
    }
    // Sensitivity with respect to r after the switch: (1 - e^{-k (t - 5)}) / k.
    let mut out = vec![0.0; t.len()];
    let mut sens = vec![0.0; t.len() * 2];
    sim.solve_with_sensitivities(&[0.7, 2.0], &mut out, &mut sens)
        .expect("solves");
    for (row, &ti) in t.iter().enumerate() {
        let exact = if ti <= 5.0 {
            0.0
        } else {
            (1.0 - (-0.7 * (ti - 5.0)).exp()) / 0.7
        };
        assert!(
            (sens[row * 2 + 1] - exact).abs() < 1e-7,
            "t = {ti}: {} vs {exact}",
            sens[row * 2 + 1]
        );
    }
}

fn schedule_error(result: Result<OdeSimulator, OdeError>) -> String {
    match result {
        Err(e @ (OdeError::Schedule { .. } | OdeError::UnknownState { .. })) => e.to_string(),
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn a_bad_schedule_is_a_specific_error() {
    let names = ["ka"].map(str::to_owned);
    let base = OdeSimulator::new(
        DiffslModel::new(PK).expect("valid"),
        times(),
        &names,
        SolveOptions::default(),
    )
    .expect("valid");
    let e = schedule_error(base.with_doses(&[Dose::new(1.0, "blood", 1.0)]));
    assert!(e.contains("'blood'") && e.contains("gut, central"), "{e}");
    let e = schedule_error(base.with_doses(&[Dose::new(-1.0, "gut", 1.0)]));
    assert!(
        e.contains("dose 0") && e.contains("before the model's start time 0"),
        "{e}"
    );
    let e = schedule_error(base.with_doses(&[Dose::new(60.0, "gut", 1.0)]));
    assert!(e.contains("after the last output time 48"), "{e}");
    let e = schedule_error(base.with_doses(&[Dose::new(f64::NAN, "gut", 1.0)]));
    assert!(e.contains("finite"), "{e}");
    let e = schedule_error(base.with_doses(&[Dose::new(1.0, "gut", f64::INFINITY)]));
    assert!(e.contains("amount inf"), "{e}");
    let e = schedule_error(base.with_breakpoints(&[-2.0]));
    assert!(e.contains("breakpoint 0"), "{e}");
    // A later start that leaves a dose before it.
    let dosed = base
        .with_doses(&[Dose::new(1.0, "gut", 1.0)])
        .expect("valid");
    let e = schedule_error(
        dosed
            .with_times(vec![2.0, 3.0])
            .and_then(|s| s.with_start(1.5)),
    );
    assert!(e.contains("before the model's start time 1.5"), "{e}");
    assert!(check_increasing("dose", &[0.0, 12.0, 6.0])
        .unwrap_err()
        .to_string()
        .contains("time 2 (6) is not after time 1 (12)"));
    assert!(check_increasing("dose", &[0.0, 12.0, 24.0]).is_ok());
}

#[test]
fn a_model_with_a_mass_matrix_refuses_doses() {
    let dae = "
in_i { k = 1.0 }
u_i { x = 1.0, z = 1.0 }
dudt_i { dxdt = 0.0, dzdt = 0.0 }
M_i { dxdt, 0 }
F_i { -k * x, z - x }
";
    let sim = OdeSimulator::new(
        DiffslModel::new(dae).expect("valid"),
        vec![0.0, 1.0],
        &["k".to_owned()],
        SolveOptions::default().with_solver(SolverKind::Bdf),
    )
    .expect("valid");
    let e = schedule_error(sim.with_doses(&[Dose::new(0.5, "x", 1.0)]));
    assert!(e.contains("mass matrix"), "{e}");
}
