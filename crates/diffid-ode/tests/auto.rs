//! The automatic solver: a probe at the initial parameters picks BDF for a stiff model and
//! Tsit45 otherwise, and a Tsit45 solve that fails at a candidate is redone with BDF.

use diffid_ode::{DiffslModel, OdeSimulator, SolveOptions, SolverKind};

const ROBERTSON: &str = "
in_i { k1 = 0.04, k2 = 30000000.0, k3 = 10000.0 }
u_i { x = 1.0, y = 0.0, z = 0.0 }
F_i { -k1 * x + k3 * y * z, k1 * x - k3 * y * z - k2 * y * y, k2 * y * y }
";

const DECAY: &str = "in_i { k = 0.5, y0 = 2.0 } u_i { y = y0 } F_i { -k * y }";

fn simulator(code: &str, times: Vec<f64>, params: &[&str], solver: SolverKind) -> OdeSimulator {
    let names: Vec<String> = params.iter().map(|s| (*s).to_owned()).collect();
    let options = SolveOptions::default().with_solver(solver);
    OdeSimulator::new(
        DiffslModel::new(code).expect("valid"),
        times,
        &names,
        options,
    )
    .expect("binds")
}

fn robertson_times() -> Vec<f64> {
    let mut t = vec![0.0];
    t.extend((0..30).map(|i| 10f64.powf(-4.0 + 9.0 * f64::from(i) / 29.0)));
    t
}

#[test]
fn auto_is_the_default() {
    assert_eq!(SolveOptions::default().solver, SolverKind::Auto);
    assert_eq!(
        "auto".parse::<SolverKind>().expect("known"),
        SolverKind::Auto
    );
}

#[test]
fn the_probe_picks_bdf_for_a_stiff_model_and_the_results_equal_bdfs() {
    let auto = simulator(ROBERTSON, robertson_times(), &["k1"], SolverKind::Auto);
    assert_eq!(auto.probe(&[0.04]), Some(SolverKind::Bdf));
    assert_eq!(auto.auto_choice(), Some(SolverKind::Bdf));
    let bdf = simulator(ROBERTSON, robertson_times(), &["k1"], SolverKind::Bdf);
    let n = robertson_times().len() * 3;
    let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
    auto.solve(&[0.05], &mut a).expect("solves");
    bdf.solve(&[0.05], &mut b).expect("solves");
    assert_eq!(a, b);
    let counts = auto.solver_counts();
    assert_eq!(
        (counts.explicit, counts.implicit, counts.fallbacks),
        (0, 1, 0)
    );
    // The explicit method alone fails on it.
    let tsit = simulator(ROBERTSON, robertson_times(), &["k1"], SolverKind::Tsit45);
    assert!(tsit.solve(&[0.05], &mut a).is_err());
}

#[test]
fn the_probe_keeps_the_explicit_method_for_a_non_stiff_model() {
    let times: Vec<f64> = (0..21).map(|i| f64::from(i) * 0.25).collect();
    let auto = simulator(DECAY, times.clone(), &["k"], SolverKind::Auto);
    assert_eq!(auto.probe(&[0.5]), Some(SolverKind::Tsit45));
    let tsit = simulator(DECAY, times.clone(), &["k"], SolverKind::Tsit45);
    let (mut a, mut b) = (vec![0.0; 21], vec![0.0; 21]);
    auto.solve(&[0.7], &mut a).expect("solves");
    tsit.solve(&[0.7], &mut b).expect("solves");
    assert_eq!(a, b);
    assert_eq!(auto.solver_counts().explicit, 1);
    // A named method is not probed.
    assert_eq!(tsit.probe(&[0.5]), None);
    assert_eq!(tsit.auto_choice(), None);
}

#[test]
fn a_candidate_where_the_explicit_method_fails_is_redone_with_bdf() {
    // Robertson with slow k2 and k3 is not stiff (the probe keeps Tsit45); at the real rates
    // it is.
    let sim = simulator(
        ROBERTSON,
        robertson_times(),
        &["k2", "k3"],
        SolverKind::Auto,
    );
    assert_eq!(sim.probe(&[1e-3, 1e-3]), Some(SolverKind::Tsit45));
    let n = robertson_times().len() * 3;
    let mut out = vec![0.0; n];
    sim.solve(&[1e-3, 1e-3], &mut out)
        .expect("non-stiff candidate");
    sim.solve(&[3e7, 1e4], &mut out)
        .expect("stiff candidate, redone with BDF");
    let c = sim.solver_counts();
    assert_eq!((c.explicit, c.implicit, c.fallbacks), (1, 1, 1));
    let bdf = simulator(ROBERTSON, robertson_times(), &["k2", "k3"], SolverKind::Bdf);
    let mut want = vec![0.0; n];
    bdf.solve(&[3e7, 1e4], &mut want).expect("solves");
    assert_eq!(out, want);
}

#[test]
fn the_explicit_budget_shrinks_to_a_multiple_of_the_probes_steps() {
    let times: Vec<f64> = (0..401).map(|i| f64::from(i) * 0.25).collect();
    let auto = simulator(DECAY, times.clone(), &["k"], SolverKind::Auto);
    // Before the probe: tied to the horizon, 10 000 steps plus 100 per output time.
    assert_eq!(auto.auto_budget(), Some(10_000 + 100 * 401));
    assert_eq!(auto.probe(&[0.5]), Some(SolverKind::Tsit45));
    // A decay needs a few dozen steps: the budget falls to twenty times those (at least
    // 1000), far below the horizon's.
    let budget = auto.auto_budget().expect("auto");
    assert!((1000..=2000).contains(&budget), "{budget}");
    assert_eq!(budget % 20, 0, "{budget}");
    // Still enough for the same model at other rates, which stay explicit.
    let mut out = vec![0.0; 401];
    auto.solve(&[2.0], &mut out).expect("solves");
    assert_eq!(auto.solver_counts().fallbacks, 0);
    let named = simulator(DECAY, times, &["k"], SolverKind::Tsit45);
    assert_eq!(named.auto_budget(), None);
}
