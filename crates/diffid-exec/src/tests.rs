use super::*;
use diffid_core::{testkit, AskTell, FnObjective};
use proptest::prelude::*;
use std::collections::HashSet;
use std::sync::atomic::AtomicUsize;
use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;

/// A tiny deterministic random search: `batch` uniform points in `[-2, 2]^dim` per iteration,
/// for `max_iterations` iterations.
struct RandomSearch {
    dim: usize,
    batch: usize,
    max_iterations: usize,
    rng: u64,
    pending: Option<Vec<Vec<f64>>>,
    iterations: usize,
    evaluations: usize,
    failed: usize,
    best: Option<(Vec<f64>, f64)>,
    history: Vec<f64>,
}

impl RandomSearch {
    fn new(dim: usize, batch: usize, max_iterations: usize) -> Self {
        Self {
            dim,
            batch,
            max_iterations,
            rng: 0x1234_5678_9abc_def0,
            pending: None,
            iterations: 0,
            evaluations: 0,
            failed: 0,
            best: None,
            history: Vec::new(),
        }
    }

    fn uniform(&mut self) -> f64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl AskTell for RandomSearch {
    fn ask(&mut self) -> Ask {
        if self.iterations >= self.max_iterations {
            return Ask::Done(Termination::MaxIterations);
        }
        if self.pending.is_none() {
            let points = (0..self.batch)
                .map(|_| (0..self.dim).map(|_| 4.0 * self.uniform() - 2.0).collect())
                .collect();
            self.pending = Some(points);
        }
        Ask::Evaluate(self.pending.clone().unwrap_or_default())
    }

    fn tell(&mut self, outcomes: &[Outcome]) -> Result<(), TellError> {
        if self.iterations >= self.max_iterations {
            return Err(TellError::AlreadyTerminated);
        }
        let Some(points) = self.pending.take() else {
            return Err(TellError::NothingAsked);
        };
        if points.len() != outcomes.len() {
            let expected = points.len();
            self.pending = Some(points);
            return Err(TellError::ResultCountMismatch {
                expected,
                received: outcomes.len(),
            });
        }
        for (x, o) in points.into_iter().zip(outcomes) {
            self.evaluations += 1;
            match (o.value(), &self.best) {
                (None, _) => self.failed += 1,
                (Some(v), Some((_, b))) if v >= *b => {}
                (Some(v), _) => self.best = Some((x, v)),
            }
        }
        self.iterations += 1;
        self.history
            .push(self.best.as_ref().map_or(f64::INFINITY, |(_, v)| *v));
        Ok(())
    }

    fn iterations(&self) -> usize {
        self.iterations
    }

    fn evaluations(&self) -> usize {
        self.evaluations
    }

    fn failed_evaluations(&self) -> usize {
        self.failed
    }
}

impl OptimiserState for RandomSearch {
    fn best(&self) -> Option<(Vec<f64>, f64)> {
        self.best.clone()
    }

    fn covariance(&self) -> Option<Vec<f64>> {
        Some(vec![1.0; self.dim * self.dim])
    }

    fn history(&self) -> &[f64] {
        &self.history
    }
}

/// An objective that depends on the point and fails for some points.
fn wiggly(x: &[f64]) -> f64 {
    if x[0] > 1.5 {
        return f64::NAN;
    }
    x.iter()
        .enumerate()
        .map(|(i, v)| (v * (i as f64 + 1.0)).sin() + v * v)
        .sum()
}

fn shared_pool() -> &'static RayonEvaluator {
    static POOL: OnceLock<RayonEvaluator> = OnceLock::new();
    POOL.get_or_init(|| RayonEvaluator::new(4).expect("pool starts"))
}

fn bits(outcomes: &[Outcome]) -> Vec<Result<u64, String>> {
    outcomes
        .iter()
        .map(|o| match o {
            Outcome::Value(v) => Ok(v.to_bits()),
            Outcome::Failed(r) => Err(r.clone()),
        })
        .collect()
}

proptest! {
    #[test]
    fn order_is_preserved_and_sequential_equals_rayon(
        points in proptest::collection::vec(proptest::collection::vec(-2.0f64..2.0, 3), 0..40)
    ) {
        let objective = FnObjective::new(3, wiggly);
        let seq = Sequential.evaluate_batch(&objective, &points);
        let par = shared_pool().evaluate_batch(&objective, &points);
        prop_assert_eq!(seq.len(), points.len());
        for (x, o) in points.iter().zip(&seq) {
            prop_assert_eq!(bits(&[Outcome::from_value(wiggly(x))]), bits(std::slice::from_ref(o)));
        }
        prop_assert_eq!(bits(&seq), bits(&par));
    }
}

#[test]
fn thread_counts_are_reported() {
    assert_eq!(Sequential.threads(), 1);
    assert_eq!(RayonEvaluator::new(3).expect("pool starts").threads(), 3);
    let auto = RayonEvaluator::with_available_parallelism().expect("pool starts");
    assert!(auto.threads() >= 1);
    assert!(format!("{auto:?}").contains("RayonEvaluator"));
}

#[test]
fn zero_threads_is_rejected() {
    let err = RayonEvaluator::new(0).expect_err("rejected");
    assert_eq!(err, ExecError::InvalidThreads { threads: 0 });
    assert!(err.to_string().contains("at least 1"), "{err}");
}

struct Panicky;

impl Objective for Panicky {
    fn dim(&self) -> usize {
        2
    }

    fn evaluate(&self, x: &[f64]) -> Outcome {
        assert!(x[0] <= 0.0, "boom at {}", x[0]);
        if x[1] > 1.9 {
            std::panic::panic_any(42_i32);
        }
        Outcome::Value(testkit::sphere(x))
    }
}

#[test]
fn panics_become_failures_in_every_evaluator() {
    let points = vec![
        vec![-1.0, 0.0],
        vec![1.0, 0.0],
        vec![-0.5, 1.95],
        vec![-0.5, 0.5],
    ];
    for evaluator in [&Sequential as &dyn Evaluator, shared_pool()] {
        let out = evaluator.evaluate_batch(&Panicky, &points);
        assert_eq!(out[0], Outcome::Value(1.0));
        assert_eq!(
            out[1],
            Outcome::Failed("evaluation panicked: boom at 1".to_owned())
        );
        assert_eq!(
            out[2],
            Outcome::Failed("evaluation panicked: unknown panic payload".to_owned())
        );
        assert_eq!(out[3], Outcome::Value(0.5));
    }
}

#[test]
fn wrong_dimension_and_non_finite_values_become_failures() {
    struct Raw;
    impl Objective for Raw {
        fn dim(&self) -> usize {
            2
        }
        fn evaluate(&self, x: &[f64]) -> Outcome {
            // Indexing would panic on a short point; the evaluator must not get that far.
            Outcome::Value(x[0] / x[1])
        }
    }
    let points = vec![
        vec![1.0],
        vec![1.0, 0.0],
        vec![1.0, 2.0, 3.0],
        vec![1.0, 2.0],
    ];
    for evaluator in [&Sequential as &dyn Evaluator, shared_pool()] {
        let out = evaluator.evaluate_batch(&Raw, &points);
        match &out[0] {
            Outcome::Failed(r) => assert!(
                r.contains("1 coordinates") && r.contains("2 parameters"),
                "{r}"
            ),
            Outcome::Value(v) => panic!("expected failure, got {v}"),
        }
        assert!(out[1].is_failed(), "{:?}", out[1]);
        assert!(out[2].is_failed(), "{:?}", out[2]);
        assert_eq!(out[3], Outcome::Value(0.5));
    }
}

/// Records how many evaluations run at once and on which threads; each evaluation waits (up to
/// a generous deadline) until it has seen `target` evaluations running together.
struct ConcurrencyProbe {
    target: usize,
    running: AtomicUsize,
    max_running: AtomicUsize,
    threads: Mutex<HashSet<ThreadId>>,
    pool_sizes: Mutex<Vec<usize>>,
    /// The names of the threads evaluations ran on.
    names: Mutex<HashSet<String>>,
}

impl ConcurrencyProbe {
    fn new(target: usize) -> Self {
        Self {
            target,
            running: AtomicUsize::new(0),
            max_running: AtomicUsize::new(0),
            threads: Mutex::new(HashSet::new()),
            pool_sizes: Mutex::new(Vec::new()),
            names: Mutex::new(HashSet::new()),
        }
    }
}

impl Objective for ConcurrencyProbe {
    fn dim(&self) -> usize {
        1
    }

    fn evaluate(&self, x: &[f64]) -> Outcome {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        self.threads
            .lock()
            .expect("not poisoned")
            .insert(std::thread::current().id());
        self.pool_sizes
            .lock()
            .expect("not poisoned")
            .push(rayon::current_num_threads());
        self.names.lock().expect("not poisoned").insert(
            std::thread::current()
                .name()
                .unwrap_or("unnamed")
                .to_owned(),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.max_running.load(Ordering::SeqCst) < self.target && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        Outcome::Value(x[0])
    }
}

#[test]
fn a_one_point_batch_runs_on_the_calling_thread() {
    let evaluator = RayonEvaluator::new(2).expect("pool starts");
    let probe = ConcurrencyProbe::new(1);
    let out = evaluator.evaluate_batch(&probe, &[vec![3.0]]);
    assert_eq!(out, vec![Outcome::Value(3.0)]);
    let grads = evaluator.evaluate_gradient_batch(&probe, &[vec![4.0]]);
    assert_eq!(grads.len(), 1);
    let threads = probe.threads.lock().expect("not poisoned");
    assert_eq!(
        threads.iter().copied().collect::<Vec<_>>(),
        vec![std::thread::current().id()]
    );
}

#[test]
fn rayon_evaluator_runs_evaluations_concurrently_on_the_caller_and_its_helpers() {
    let evaluator = RayonEvaluator::new(2).expect("pool starts");
    let probe = ConcurrencyProbe::new(2);
    let points: Vec<Vec<f64>> = (0..8).map(|i| vec![f64::from(i)]).collect();
    let out = evaluator.evaluate_batch(&probe, &points);
    let values: Vec<f64> = out.iter().filter_map(Outcome::value).collect();
    assert_eq!(values, (0..8).map(f64::from).collect::<Vec<_>>());
    assert_eq!(probe.max_running.load(Ordering::SeqCst), 2);
    // Two threads: the calling one, and one helper of the private pool.
    let threads = probe.threads.lock().expect("not poisoned");
    assert_eq!(threads.len(), 2);
    assert!(threads.contains(&std::thread::current().id()));
}

#[test]
fn rayon_evaluator_uses_its_private_pool() {
    let evaluator = RayonEvaluator::new(3).expect("pool starts");
    // Target 4 is never reached on 3 threads; use a target of 1 so nothing waits.
    let probe = ConcurrencyProbe::new(1);
    let points: Vec<Vec<f64>> = (0..12).map(|i| vec![f64::from(i)]).collect();
    evaluator.evaluate_batch(&probe, &points);
    // Every evaluation ran on the calling thread or on one of the private pool's two helpers
    // (inside which rayon reports the helpers), never in rayon's global pool.
    let sizes = probe.pool_sizes.lock().expect("not poisoned");
    assert_eq!(sizes.len(), 12);
    assert!(probe.max_running.load(Ordering::SeqCst) <= 3);
    let caller = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_owned();
    let names = probe.names.lock().expect("not poisoned");
    assert!(
        names
            .iter()
            .all(|n| *n == caller || n.starts_with("diffid-eval-")),
        "{names:?}"
    );
}

#[test]
fn run_finds_a_good_point_and_reports_consistently() {
    let objective = FnObjective::new(2, testkit::sphere);
    for evaluator in [&Sequential as &dyn Evaluator, shared_pool()] {
        let mut state = RandomSearch::new(2, 8, 25);
        let mut seen = Vec::new();
        let mut observer = |p: &Progress| {
            seen.push(p.clone());
            Control::Continue
        };
        let result = run(
            &mut state,
            &objective,
            evaluator,
            &RunOptions::default(),
            &mut observer,
        )
        .expect("run succeeds");
        assert_eq!(result.termination, Termination::MaxIterations);
        assert_eq!(result.iterations, 25);
        assert_eq!(result.evaluations, 200);
        assert_eq!(result.failed_evaluations, 0);
        assert_eq!(result.history.len(), 25);
        assert_eq!(result.history.last().copied(), Some(result.value));
        assert_eq!(result.covariance, Some(vec![1.0; 4]));
        assert_eq!(result.value.to_bits(), testkit::sphere(&result.x).to_bits());
        assert!(result.value < 0.5, "{}", result.value);
        assert_eq!(seen.len(), 25);
        assert_eq!(seen[0].iteration, 1);
        assert_eq!(seen[24].evaluations, 200);
        assert_eq!(seen[24].best_value, Some(result.value));
        assert!(seen.windows(2).all(|w| w[0].elapsed <= w[1].elapsed));
    }
}

#[test]
fn sequential_and_rayon_runs_are_bit_identical() {
    let objective = FnObjective::new(3, wiggly);
    let mut a = RandomSearch::new(3, 10, 15);
    let mut b = RandomSearch::new(3, 10, 15);
    let opts = RunOptions::default();
    let ra = run(&mut a, &objective, &Sequential, &opts, &mut ()).expect("run succeeds");
    let rb = run(&mut b, &objective, shared_pool(), &opts, &mut ()).expect("run succeeds");
    assert!(ra.failed_evaluations > 0);
    let xa: Vec<u64> = ra.x.iter().map(|v| v.to_bits()).collect();
    let xb: Vec<u64> = rb.x.iter().map(|v| v.to_bits()).collect();
    assert_eq!(xa, xb);
    assert_eq!(ra.value.to_bits(), rb.value.to_bits());
    assert_eq!(ra.failed_evaluations, rb.failed_evaluations);
}

#[test]
fn a_panicking_objective_does_not_stop_the_run() {
    let mut state = RandomSearch::new(2, 6, 10);
    let result = run(
        &mut state,
        &Panicky,
        shared_pool(),
        &RunOptions::default(),
        &mut (),
    )
    .expect("run succeeds");
    assert_eq!(result.termination, Termination::MaxIterations);
    assert_eq!(result.iterations, 10);
    assert!(result.failed_evaluations > 0);
    assert!(result.failed_evaluations < result.evaluations);
    assert!(result.x[0] <= 0.0);
    assert!(result.message().contains("failed"), "{}", result.message());
}

#[test]
fn all_failures_give_an_error_with_the_last_reason() {
    let objective = FnObjective::new(2, |_: &[f64]| f64::NAN);
    let mut state = RandomSearch::new(2, 4, 3);
    let err = run(
        &mut state,
        &objective,
        &Sequential,
        &RunOptions::default(),
        &mut (),
    )
    .expect_err("nothing succeeded");
    assert!(
        matches!(err, ExecError::NoSuccessfulEvaluation { evaluations: 12, ref last_failure } if last_failure.contains("non-finite")),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("every evaluation failed") && msg.contains("non-finite"),
        "{msg}"
    );
}

#[test]
fn cancel_flag_set_during_the_run_cancels() {
    let objective = FnObjective::new(2, testkit::sphere);
    let flag = Arc::new(AtomicBool::new(false));
    let options = RunOptions {
        cancel: Some(Arc::clone(&flag)),
        ..RunOptions::default()
    };
    let mut state = RandomSearch::new(2, 4, 100);
    let mut observer = |p: &Progress| {
        if p.iteration == 3 {
            flag.store(true, Ordering::Relaxed);
        }
        Control::Continue
    };
    let result =
        run(&mut state, &objective, &Sequential, &options, &mut observer).expect("run succeeds");
    assert_eq!(result.termination, Termination::Cancelled);
    assert_eq!(result.iterations, 3);
    assert_eq!(result.evaluations, 12);
}

#[test]
fn cancel_flag_set_inside_a_batch_stops_that_batch_untold() {
    // Batches of 50 points; the 60th evaluation (the 10th of the second batch) sets the flag.
    let flag = Arc::new(AtomicBool::new(false));
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let objective = FnObjective::new(2, |x: &[f64]| {
        if calls.fetch_add(1, Ordering::SeqCst) + 1 == 60 {
            flag.store(true, Ordering::SeqCst);
        }
        testkit::sphere(x)
    });
    let options = RunOptions::default().with_cancel(Arc::clone(&flag));
    for threads in [1, 2] {
        flag.store(false, Ordering::SeqCst);
        calls.store(0, Ordering::SeqCst);
        let mut state = RandomSearch::new(2, 50, 100);
        let pool = RayonEvaluator::new(threads).expect("pool");
        let result = run(&mut state, &objective, &pool, &options, &mut ()).expect("run succeeds");
        assert_eq!(result.termination, Termination::Cancelled);
        // The first batch was told; the second was abandoned after at most one more
        // evaluation per thread, and not told.
        assert_eq!(
            (result.iterations, result.evaluations),
            (1, 50),
            "{threads}"
        );
        assert!(calls.load(Ordering::SeqCst) <= 60 + threads, "{threads}");
    }
}

#[test]
fn cancel_flag_set_before_the_run_evaluates_nothing() {
    let objective = FnObjective::new(2, testkit::sphere);
    let options = RunOptions {
        cancel: Some(Arc::new(AtomicBool::new(true))),
        ..RunOptions::default()
    };
    let mut state = RandomSearch::new(2, 4, 100);
    let err = run(&mut state, &objective, &Sequential, &options, &mut ()).expect_err("nothing run");
    assert_eq!(
        err,
        ExecError::NothingEvaluated {
            termination: Termination::Cancelled
        }
    );
    assert_eq!(state.evaluations(), 0);
}

#[test]
fn observer_stop_is_reported_as_the_callback() {
    let objective = FnObjective::new(2, testkit::sphere);
    let mut state = RandomSearch::new(2, 4, 100);
    let mut observer = |p: &Progress| {
        if p.iteration >= 5 {
            Control::Stop
        } else {
            Control::Continue
        }
    };
    let result = run(
        &mut state,
        &objective,
        shared_pool(),
        &RunOptions::default(),
        &mut observer,
    )
    .expect("run succeeds");
    assert_eq!(result.termination, Termination::Callback);
    assert_eq!(result.iterations, 5);
    assert!(!result.success());

    let mut state = RandomSearch::new(2, 4, 100);
    let mut interrupt = |_: &Progress| Control::Cancel;
    let result = run(
        &mut state,
        &objective,
        shared_pool(),
        &RunOptions::default(),
        &mut interrupt,
    )
    .expect("run succeeds");
    assert_eq!(result.termination, Termination::Cancelled);
    assert_eq!(result.iterations, 1);
}

#[test]
fn zero_time_limit_stops_after_one_batch() {
    let objective = FnObjective::new(2, testkit::sphere);
    let mut state = RandomSearch::new(2, 4, 100);
    let options = RunOptions {
        time_limit: Some(Duration::ZERO),
        ..RunOptions::default()
    };
    let result = run(&mut state, &objective, &Sequential, &options, &mut ()).expect("run succeeds");
    assert_eq!(result.termination, Termination::TimeLimit);
    assert_eq!(result.iterations, 1);
    assert_eq!(result.evaluations, 4);
}

#[test]
fn a_state_done_at_once_is_an_error_not_a_result() {
    let objective = FnObjective::new(2, testkit::sphere);
    let mut state = RandomSearch::new(2, 4, 0);
    let err = run(
        &mut state,
        &objective,
        &Sequential,
        &RunOptions::default(),
        &mut (),
    )
    .expect_err("nothing run");
    assert_eq!(
        err,
        ExecError::NothingEvaluated {
            termination: Termination::MaxIterations
        }
    );
    assert!(
        err.to_string().contains("before any point was evaluated"),
        "{err}"
    );
}

#[test]
fn tell_errors_propagate() {
    /// Drops the last outcome of every batch.
    struct Lossy;
    impl Evaluator for Lossy {
        fn evaluate_batch(&self, objective: &dyn Objective, points: &[Vec<f64>]) -> Vec<Outcome> {
            let mut out = Sequential.evaluate_batch(objective, points);
            out.pop();
            out
        }
        fn evaluate_gradient_batch(
            &self,
            objective: &dyn Objective,
            points: &[Vec<f64>],
        ) -> Vec<GradientOutcome> {
            Sequential.evaluate_gradient_batch(objective, points)
        }
        fn threads(&self) -> usize {
            1
        }
    }
    let objective = FnObjective::new(2, testkit::sphere);
    let mut state = RandomSearch::new(2, 4, 10);
    let err = run(
        &mut state,
        &objective,
        &Lossy,
        &RunOptions::default(),
        &mut (),
    )
    .expect_err("count mismatch");
    assert_eq!(
        err,
        ExecError::Tell(TellError::ResultCountMismatch {
            expected: 4,
            received: 3
        })
    );
    assert!(err.to_string().contains("expected 4 results"), "{err}");
}

/// Fixed-step gradient descent inside `[-2, 2]^dim`, one point per iteration: exercises the
/// gradient path of the run loop.
struct Descent {
    x: Vec<f64>,
    bounds: Vec<Bounds>,
    step: f64,
    max_iterations: usize,
    iterations: usize,
    evaluations: usize,
    failed: usize,
    best: Option<(Vec<f64>, f64)>,
    history: Vec<f64>,
    asked: bool,
}

impl Descent {
    fn new(x: Vec<f64>, step: f64, max_iterations: usize) -> Self {
        let dim = x.len();
        Self {
            x,
            bounds: vec![Bounds::new(-2.0, 2.0).expect("valid"); dim],
            step,
            max_iterations,
            iterations: 0,
            evaluations: 0,
            failed: 0,
            best: None,
            history: Vec::new(),
            asked: false,
        }
    }
}

impl AskTell for Descent {
    fn ask(&mut self) -> Ask {
        if self.iterations >= self.max_iterations {
            return Ask::Done(Termination::MaxIterations);
        }
        self.asked = true;
        Ask::EvaluateWithGradient(vec![self.x.clone()])
    }

    fn tell(&mut self, _outcomes: &[Outcome]) -> Result<(), TellError> {
        Err(TellError::GradientsRequired)
    }

    fn tell_gradients(
        &mut self,
        outcomes: &[GradientOutcome],
        evaluations: usize,
    ) -> Result<(), TellError> {
        if !self.asked {
            return Err(TellError::NothingAsked);
        }
        diffid_core::check_gradients(outcomes, 1, self.x.len())?;
        self.asked = false;
        self.evaluations += evaluations;
        match &outcomes[0] {
            GradientOutcome::Value { value, gradient } => {
                if self.best.as_ref().is_none_or(|(_, b)| value < b) {
                    self.best = Some((self.x.clone(), *value));
                }
                for ((x, g), b) in self.x.iter_mut().zip(gradient).zip(&self.bounds) {
                    *x = (*x - self.step * g).clamp(b.lower(), b.upper());
                }
            }
            GradientOutcome::Failed(_) => self.failed += 1,
        }
        self.iterations += 1;
        self.history
            .push(self.best.as_ref().map_or(f64::INFINITY, |(_, v)| *v));
        Ok(())
    }

    fn iterations(&self) -> usize {
        self.iterations
    }

    fn evaluations(&self) -> usize {
        self.evaluations
    }

    fn failed_evaluations(&self) -> usize {
        self.failed
    }
}

impl OptimiserState for Descent {
    fn best(&self) -> Option<(Vec<f64>, f64)> {
        self.best.clone()
    }

    fn history(&self) -> &[f64] {
        &self.history
    }

    fn bounds(&self) -> Option<&[Bounds]> {
        Some(&self.bounds)
    }
}

#[test]
fn gradient_runs_use_exact_gradients_when_the_objective_has_them() {
    let objective = diffid_core::FnGradObjective::new(2, testkit::sphere, testkit::sphere_gradient);
    let mut state = Descent::new(vec![1.0, -1.5], 0.25, 20);
    let result = run(
        &mut state,
        &objective,
        &Sequential,
        &RunOptions::default(),
        &mut (),
    )
    .expect("run succeeds");
    assert_eq!(result.evaluations, 20, "one evaluation per exact gradient");
    assert!(result.value < 1e-10, "{}", result.value);
}

#[test]
fn finite_difference_runs_count_every_stencil_point_and_agree_across_evaluators() {
    let objective = FnObjective::new(3, testkit::rosenbrock);
    let go = |evaluator: &dyn Evaluator| {
        let mut state = Descent::new(vec![-1.0, 1.0, 0.5], 1e-3, 50);
        run(
            &mut state,
            &objective,
            evaluator,
            &RunOptions::default(),
            &mut (),
        )
        .expect("run succeeds")
    };
    let sequential = go(&Sequential);
    assert_eq!(
        sequential.evaluations,
        50 * 7,
        "2n + 1 evaluations per gradient"
    );
    let parallel = go(shared_pool());
    assert_eq!(
        sequential.x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        parallel.x.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    assert!(sequential.value < testkit::rosenbrock(&[-1.0, 1.0, 0.5]));
}

#[test]
fn finite_differences_stay_inside_the_bounds_and_isolate_bad_points() {
    /// Panics outside `[-2, 2]²`, so a stencil point outside the box would fail the gradient.
    struct Fenced;
    impl Objective for Fenced {
        fn dim(&self) -> usize {
            2
        }
        fn evaluate(&self, x: &[f64]) -> Outcome {
            assert!(x.iter().all(|v| v.abs() <= 2.0), "outside the box: {x:?}");
            Outcome::Value(x[0] * x[0] + 3.0 * x[1])
        }
    }
    let bounds = vec![Bounds::new(-2.0, 2.0).expect("valid"); 2];
    let points = vec![vec![2.0, -2.0], vec![0.5, 0.5], vec![1.0]];
    let (outcomes, evaluations) =
        evaluate_gradients(shared_pool(), &Fenced, &points, Some(&bounds));
    assert_eq!(evaluations, 10);
    let g0 = outcomes[0].gradient().expect("inside the box");
    assert!(
        (g0[0] - 4.0).abs() < 1e-6 && (g0[1] - 3.0).abs() < 1e-6,
        "{g0:?}"
    );
    let g1 = outcomes[1].gradient().expect("inside the box");
    assert!((g1[0] - 1.0).abs() < 1e-6, "{g1:?}");
    match &outcomes[2] {
        GradientOutcome::Failed(r) => assert!(r.contains("coordinates"), "{r}"),
        GradientOutcome::Value { .. } => panic!("a point of the wrong dimension must fail"),
    }
}

#[test]
fn bad_exact_gradients_become_failures() {
    struct Bad;
    impl Objective for Bad {
        fn dim(&self) -> usize {
            2
        }
        fn evaluate(&self, _x: &[f64]) -> Outcome {
            Outcome::Value(1.0)
        }
        fn has_gradient(&self) -> bool {
            true
        }
        fn evaluate_with_gradient(&self, x: &[f64]) -> GradientOutcome {
            if x[0] > 0.0 {
                GradientOutcome::Value {
                    value: 1.0,
                    gradient: vec![1.0],
                }
            } else if x[1] > 0.0 {
                GradientOutcome::Value {
                    value: 1.0,
                    gradient: vec![f64::NAN, 0.0],
                }
            } else {
                panic!("boom")
            }
        }
    }
    let got = Sequential
        .evaluate_gradient_batch(&Bad, &[vec![1.0, 0.0], vec![-1.0, 1.0], vec![-1.0, -1.0]]);
    let reasons: Vec<String> = got
        .iter()
        .map(|g| match g {
            GradientOutcome::Failed(r) => r.clone(),
            GradientOutcome::Value { .. } => String::new(),
        })
        .collect();
    assert!(reasons[0].contains("1 entries"), "{reasons:?}");
    assert!(reasons[1].contains("not finite"), "{reasons:?}");
    assert!(reasons[2].contains("boom"), "{reasons:?}");
}

#[test]
fn the_delegated_evaluator_hands_whole_batches_to_the_objective() {
    /// Counts batch calls; fails a batch that contains a point with x[0] > 10 by panicking,
    /// and returns one outcome short for batches of exactly 3 points.
    struct Batcher {
        batches: AtomicUsize,
    }
    impl Objective for Batcher {
        fn dim(&self) -> usize {
            2
        }
        fn evaluate(&self, x: &[f64]) -> Outcome {
            Outcome::from_value(testkit::sphere(x))
        }
        fn evaluate_batch(&self, points: &[Vec<f64>]) -> Vec<Outcome> {
            self.batches.fetch_add(1, Ordering::SeqCst);
            assert!(points.iter().all(|p| p[0] <= 10.0), "bad batch");
            let mut out: Vec<Outcome> = points.iter().map(|x| self.evaluate(x)).collect();
            if out.len() == 3 {
                out.pop();
            }
            out
        }
    }
    let b = Batcher {
        batches: AtomicUsize::new(0),
    };
    let points = vec![vec![1.0, 2.0], vec![0.0, f64::INFINITY]];
    let got = Delegated.evaluate_batch(&b, &points);
    assert_eq!(got[0], Outcome::Value(5.0));
    assert!(got[1].is_failed(), "a non-finite value is a failure");
    assert_eq!(
        b.batches.load(Ordering::SeqCst),
        1,
        "one call for the whole batch"
    );
    let short = Delegated.evaluate_batch(&b, &[vec![1.0, 0.0], vec![2.0, 0.0], vec![3.0, 0.0]]);
    assert!(short.iter().all(Outcome::is_failed) && short.len() == 3);
    let panicked = Delegated.evaluate_batch(&b, &[vec![11.0, 0.0]]);
    assert!(matches!(&panicked[0], Outcome::Failed(r) if r.contains("bad batch")));
    let wrong = Delegated.evaluate_batch(&b, &[vec![1.0, 0.0], vec![1.0]]);
    assert_eq!(wrong[0], Outcome::Value(1.0));
    assert!(wrong[1].is_failed());
}
