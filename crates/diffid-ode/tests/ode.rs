//! Behaviour of DiffSL models and simulators against known solutions.

use diffid_ode::{DiffslModel, OdeError, OdeSimulator, SolveError, SolveOptions, SolverKind};

const DECAY: &str = "
in_i { k = 0.5, y0 = 2.0 }
u_i { y = y0 }
F_i { -k * y }
";

const TWO_OUT: &str = "
in_i { a = 1.0, b = 2.0 }
u_i { x = 1.0, y = 1.0 }
F_i { -a * x, -b * y }
out_i { x + y, x - y, 2 * x }
";

fn times(n: usize, t_end: f64) -> Vec<f64> {
    (0..n).map(|i| t_end * i as f64 / (n - 1) as f64).collect()
}

fn solve(sim: &OdeSimulator, p: &[f64]) -> Result<Vec<f64>, SolveError> {
    let mut out = vec![0.0; sim.times().len() * sim.model().n_outputs()];
    sim.solve(p, &mut out).map(|()| out)
}

#[test]
fn reads_inputs_states_and_outputs() {
    let m = DiffslModel::new(TWO_OUT).unwrap();
    let names: Vec<_> = m.inputs().iter().map(|i| i.name.clone()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(m.inputs()[1].default, Some(2.0));
    assert_eq!(m.n_outputs(), 3);
    assert!(m.has_out());
    let m = DiffslModel::new(DECAY).unwrap();
    assert_eq!(m.output_names(), ["y"]);
    assert!(!m.has_out());
}

#[test]
fn every_solver_matches_the_exact_solution() {
    let t = times(21, 4.0);
    for solver in [
        SolverKind::Tsit45,
        SolverKind::Bdf,
        SolverKind::Esdirk34,
        SolverKind::TrBdf2,
    ] {
        let opts = SolveOptions::default().with_solver(solver);
        let sim = OdeSimulator::new(
            DiffslModel::new(DECAY).unwrap(),
            t.clone(),
            &["k".into()],
            opts,
        )
        .unwrap();
        let y = solve(&sim, &[0.7]).unwrap();
        for (ti, yi) in t.iter().zip(&y) {
            let exact = 2.0 * (-0.7 * ti).exp();
            assert!(
                (yi - exact).abs() < 1e-4 * exact.max(1e-3),
                "{solver:?} t={ti}: {yi} vs {exact}"
            );
        }
    }
}

#[test]
fn parameters_are_matched_by_name_and_defaults_kept() {
    let t = times(5, 1.0);
    // Fit only y0 (the second input); k keeps its default 0.5.
    let sim = OdeSimulator::new(
        DiffslModel::new(DECAY).unwrap(),
        t.clone(),
        &["y0".into()],
        SolveOptions::default(),
    )
    .unwrap();
    let y = solve(&sim, &[3.0]).unwrap();
    assert!((y[0] - 3.0).abs() < 1e-12);
    assert!((y[4] - 3.0 * (-0.5f64).exp()).abs() < 1e-5);
    // Order of the fitted names does not matter.
    let sim = OdeSimulator::new(
        DiffslModel::new(DECAY).unwrap(),
        t,
        &["y0".into(), "k".into()],
        SolveOptions::default(),
    )
    .unwrap();
    let y = solve(&sim, &[1.0, 2.0]).unwrap();
    assert!((y[4] - (-2.0f64).exp()).abs() < 1e-5);
}

#[test]
fn multi_output_predictions_are_time_major() {
    let t = times(3, 1.0);
    let sim = OdeSimulator::new(
        DiffslModel::new(TWO_OUT).unwrap(),
        t.clone(),
        &["a".into(), "b".into()],
        SolveOptions::default(),
    )
    .unwrap();
    let y = solve(&sim, &[1.0, 3.0]).unwrap();
    assert_eq!(y.len(), 9);
    for (i, ti) in t.iter().enumerate() {
        let (x, yy) = ((-ti).exp(), (-3.0 * ti).exp());
        assert!((y[3 * i] - (x + yy)).abs() < 1e-5);
        assert!((y[3 * i + 1] - (x - yy)).abs() < 1e-5);
        assert!((y[3 * i + 2] - 2.0 * x).abs() < 1e-5);
    }
}

#[test]
fn bad_models_and_names_are_specific_errors() {
    let err = DiffslModel::new("in_i { k = 1 } u_i { y = 1 } F_i { -k * y ").unwrap_err();
    assert!(matches!(err, OdeError::Syntax { .. }), "{err}");
    assert!(
        err.to_string().contains("line") || err.to_string().contains('1'),
        "{err}"
    );
    let err = DiffslModel::new("in_i { k = 1 }\nu_i { y = 1 }\nF_i { -q * y }").unwrap_err();
    assert!(matches!(err, OdeError::Semantic { .. }), "{err}");
    assert!(err.to_string().contains('q'), "{err}");
    let m = DiffslModel::new(DECAY).unwrap();
    let err = OdeSimulator::new(
        m.clone(),
        vec![0.0, 1.0],
        &["kk".into()],
        SolveOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("'kk'") && err.to_string().contains("k, y0"),
        "{err}"
    );
    let err = OdeSimulator::new(
        m.clone(),
        vec![0.0, 1.0],
        &["k".into(), "k".into()],
        SolveOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, OdeError::DuplicateParameter { .. }), "{err}");
    let err =
        OdeSimulator::new(m, vec![-1.0, 1.0], &["k".into()], SolveOptions::default()).unwrap_err();
    assert!(
        matches!(err, OdeError::TimeBeforeStart { row: 0, .. }),
        "{err}"
    );
}

#[test]
fn a_diverging_solve_is_an_error_not_a_panic() {
    // Finite-time blow-up: y' = y^2 from y = 1 explodes at t = 1/c.
    let code = "in_i { c = 1.0 } u_i { y = 1.0 } F_i { c * y * y }";
    let sim = OdeSimulator::new(
        DiffslModel::new(code).unwrap(),
        times(11, 2.0),
        &["c".into()],
        SolveOptions::default(),
    )
    .unwrap();
    assert!(solve(&sim, &[1.0]).is_err());
    // And the same simulator still works afterwards at benign parameters.
    let y = solve(&sim, &[0.1]).unwrap();
    assert!((y[10] - 1.0 / (1.0 - 0.2)).abs() < 1e-4);
}

#[test]
fn step_budget_is_enforced() {
    let opts = SolveOptions::default().with_max_steps(5);
    let sim = OdeSimulator::new(
        DiffslModel::new(DECAY).unwrap(),
        times(50, 100.0),
        &["k".into()],
        opts,
    )
    .unwrap();
    assert!(matches!(
        solve(&sim, &[0.5]),
        Err(SolveError::TooManySteps { max_steps: 5, .. })
    ));
    // Through the generic `Simulator` interface the error stays typed.
    let mut out = vec![0.0; 50];
    let err = diffid_core::Simulator::simulate(&sim, &[0.5], &mut out).expect_err("budget");
    assert!(
        matches!(
            err.downcast_ref::<SolveError>(),
            Some(SolveError::TooManySteps { max_steps: 5, .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("exceeded 5 steps"), "{err}");
}

#[test]
fn simulators_are_usable_from_many_threads() {
    let sim = OdeSimulator::new(
        DiffslModel::new(DECAY).unwrap(),
        times(11, 1.0),
        &["k".into()],
        SolveOptions::default(),
    )
    .unwrap();
    let reference = solve(&sim, &[0.3]).unwrap();
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| solve(&sim, &[0.3]).unwrap()))
            .collect();
        for h in hs {
            assert_eq!(
                h.join().unwrap(),
                reference,
                "threads must agree bit for bit"
            );
        }
    });
}

#[test]
fn the_sparse_backend_agrees_with_the_dense_one() {
    // A chain of 30 states, each driven by its neighbour: a sparse Jacobian.
    let n = 30;
    let states: Vec<String> = (0..n)
        .map(|i| format!("y{i} = {}", if i == 0 { 1.0 } else { 0.0 }))
        .collect();
    let rhs: Vec<String> = (0..n)
        .map(|i| {
            if i == 0 {
                "-k * y0".to_owned()
            } else {
                format!("k * y{} - k * y{i}", i - 1)
            }
        })
        .collect();
    let code = format!(
        "in_i {{ k = 2.0 }}\nu_i {{ {} }}\nF_i {{ {} }}\nout_i {{ y{} }}",
        states.join(", "),
        rhs.join(", "),
        n - 1
    );
    let t = times(11, 20.0);
    let solve_on = |backend: diffid_ode::Backend| {
        let opts = SolveOptions::default()
            .with_solver(SolverKind::Bdf)
            .with_tolerances(1e-9, 1e-11)
            .with_backend(backend);
        let sim = OdeSimulator::new(
            DiffslModel::new(&code).unwrap(),
            t.clone(),
            &["k".into()],
            opts,
        )
        .unwrap();
        solve(&sim, &[1.5]).unwrap()
    };
    let dense = solve_on(diffid_ode::Backend::Dense);
    let sparse = solve_on(diffid_ode::Backend::Sparse);
    for (d, s) in dense.iter().zip(&sparse) {
        assert!((d - s).abs() < 1e-7, "{d} vs {s}");
    }
    // The last state of the chain is a Gamma(n, k) cumulative: it starts at 0 and rises.
    assert!(dense[0].abs() < 1e-12 && dense[10] > dense[5]);
    assert!("dense".parse::<diffid_ode::Backend>().is_ok());
    let err = "blocked".parse::<diffid_ode::Backend>().unwrap_err();
    assert!(err.to_string().contains("\"sparse\""), "{err}");
}

#[test]
fn a_start_other_than_zero_and_simulation_at_any_times() {
    let model = DiffslModel::new("in_i { k = 0.5, y0 = 2.0 } u_i { y = y0 } F_i { -k * y }")
        .expect("valid");
    let names = vec!["k".to_owned()];
    let sim = OdeSimulator::new(model, vec![1.0, 2.0], &names, SolveOptions::default())
        .expect("binds")
        .with_start(-1.0)
        .expect("times after the start");
    assert_eq!(sim.start(), -1.0);
    let exact = |t: f64| 2.0 * (-0.7 * (t + 1.0)).exp();
    let mut y = vec![0.0; 2];
    sim.solve(&[0.7], &mut y).expect("solves");
    for (t, v) in [1.0, 2.0].iter().zip(&y) {
        assert!((v - exact(*t)).abs() < 1e-5, "{t}: {v}");
    }
    // Anywhere, by dense output: the start itself, fine steps, far ahead.
    let times: Vec<f64> = (0..=40).map(|i| -1.0 + f64::from(i) * 0.1).collect();
    let dense = sim.with_times(times.clone()).expect("valid times");
    let mut y = vec![0.0; times.len()];
    dense.solve(&[0.7], &mut y).expect("solves");
    assert_eq!(y[0], 2.0);
    for (t, v) in times.iter().zip(&y) {
        assert!((v - exact(*t)).abs() < 1e-5, "{t}: {v}");
    }
    // Exact sensitivities hold from the new start too: d y / d k = -(t - t0) y.
    let mut s = vec![0.0; 2];
    let mut y = vec![0.0; 2];
    sim.solve_with_sensitivities(&[0.7], &mut y, &mut s)
        .expect("solves");
    for ((t, v), d) in [1.0, 2.0].iter().zip(&y).zip(&s) {
        assert!((d + (t + 1.0) * v).abs() < 1e-4, "{t}: {d}");
    }
    // Times before the start, not increasing, or NaN: errors naming the time.
    assert!(matches!(
        sim.with_times(vec![-2.0, 0.0]),
        Err(OdeError::TimeBeforeStart { row: 0, .. })
    ));
    assert!(matches!(
        sim.with_times(vec![0.0, 0.0]),
        Err(OdeError::Times { .. })
    ));
    assert!(matches!(
        sim.with_times(vec![0.0, f64::NAN]),
        Err(OdeError::Times { .. })
    ));
    assert!(sim.with_start(1.5).is_err());
}
