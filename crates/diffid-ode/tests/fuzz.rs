//! Everything a user can type into this crate, generated: DiffSL sources (valid, mutated,
//! truncated), output times and parameter values. Each either works or returns an error;
//! nothing panics, hangs or aborts.

use diffid_ode::{DiffslModel, OdeSimulator, SolveOptions, SolverKind};
use proptest::prelude::*;

/// Valid models the mutations start from.
const SOURCES: [&str; 3] = [
    "in_i { k = 0.5, y0 = 2.0 } u_i { y = y0 } F_i { -k * y }",
    "in_i { a = 1.0, b = 0.5 } u_i { x = 1.0, y = 0.5 } F_i { a * x - b * x * y, b * x * y - y } out_i { x, y }",
    "in_i { r = 2.0 } u_i { y = 0.1 } F_i { r * y * (1 - y) }",
];

/// Characters that matter to the DiffSL grammar, and some that do not belong in it.
const ALPHABET: &[char] = &[
    '{', '}', '(', ')', '[', ']', ',', '=', '*', '/', '+', '-', '^', ':', ';', '.', 'e', '1', '0',
    'u', 'F', 'i', 'n', '_', ' ', '\n', 'é', '∞', '\0', '"', '#',
];

#[derive(Clone, Debug)]
enum Edit {
    Delete(usize),
    Insert(usize, char),
    Replace(usize, char),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), prop::sample::select(ALPHABET)).prop_map(|(i, c)| Edit::Insert(i, c)),
        (any::<usize>(), prop::sample::select(ALPHABET)).prop_map(|(i, c)| Edit::Replace(i, c)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(source: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = source.chars().collect();
    for e in edits {
        let n = chars.len().max(1);
        match *e {
            Edit::Delete(i) if !chars.is_empty() => {
                chars.remove(i % chars.len());
            }
            Edit::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
            Edit::Replace(i, c) if !chars.is_empty() => chars[i % n] = c,
            Edit::Truncate(i) => chars.truncate(i % (chars.len() + 1)),
            _ => {}
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn mutated_sources_build_or_fail_with_an_error(
        which in 0..SOURCES.len(),
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        let source = apply(SOURCES[which], &edits);
        match DiffslModel::new(&source) {
            Ok(model) => {
                // A model that builds reports consistent metadata.
                prop_assert!(!model.state_names().is_empty());
                prop_assert_eq!(model.output_names().len(), model.n_outputs());
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn any_times_and_parameters_solve_or_fail_with_an_error(
        times in prop::collection::vec(prop_oneof![
            -10.0..100.0_f64,
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(0.0),
            Just(1e300),
        ], 0..6),
        k in prop_oneof![-1e3..1e3_f64, Just(f64::NAN), Just(f64::INFINITY), Just(-f64::INFINITY), Just(1e300)],
        solver in prop::sample::select(&[SolverKind::Tsit45, SolverKind::Bdf, SolverKind::Esdirk34, SolverKind::TrBdf2][..]),
    ) {
        let model = DiffslModel::new(SOURCES[0]).expect("valid model");
        let options = SolveOptions::default().with_solver(solver).with_max_steps(2_000);
        match OdeSimulator::new(model, times.clone(), &["k".to_owned()], options) {
            Ok(sim) => {
                let mut out = vec![0.0; times.len()];
                if sim.solve(&[k], &mut out).is_ok() {
                    prop_assert!(out.iter().all(|v| v.is_finite()), "{out:?}");
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
