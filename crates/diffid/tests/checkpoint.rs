//! Checkpoint and resume: a run stopped part-way and resumed from its checkpoint ends exactly
//! as the uninterrupted run (every optimiser, both MCMC samplers, nested sampling), and a
//! checkpoint of another run, a damaged file or a file of another kind is refused by name.

use diffid::{
    Adam, Checkpoint, CmaEs, Control, DynamicNestedSampler, EnsembleSampler, Error, FnObjective,
    Lbfgsb, MetropolisHastings, NelderMead, Optimiser, Parallelism, Parameter, Parameters, Problem,
    Progress, RunOptions, Sampler,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A 2-D Gaussian negative log-likelihood, bounded (so the priors are uniform).
fn problem(centre: f64) -> Problem {
    let mut params = Parameters::default();
    for name in ["a", "b"] {
        params
            .push(Parameter::new(name, 0.3, Some((-4.0, 4.0))).expect("valid"))
            .expect("new name");
    }
    let f = move |x: &[f64]| {
        0.5 * ((x[0] - centre) / 0.5).powi(2) + 0.5 * ((x[1] + 0.5 * x[0]) / 0.8).powi(2)
    };
    Problem::new(
        Arc::new(FnObjective::new(2, f)),
        params,
        Parallelism::Sequential,
    )
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("diffid-checkpoint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// Records the evaluation count of the first progress a run reports.
fn first_report(seen: &mut Option<usize>) -> impl FnMut(&Progress) -> Control + '_ {
    move |p: &Progress| {
        seen.get_or_insert(p.evaluations);
        Control::Continue
    }
}

/// Stops a run after `n` iterations.
fn stop_after(n: usize) -> impl FnMut(&Progress) -> Control {
    move |p: &Progress| {
        if p.iteration >= n {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

fn every_batch(path: &PathBuf) -> Checkpoint {
    Checkpoint::new(path).with_interval(Duration::ZERO)
}

#[test]
fn a_resumed_optimisation_ends_as_the_uninterrupted_one() {
    let optimisers: Vec<(Box<dyn Optimiser>, usize)> = vec![
        (Box::new(CmaEs::new().with_seed(3).with_max_iter(60)), 20),
        (Box::new(NelderMead::new().with_max_iter(80)), 15),
        (Box::new(Adam::new().with_max_iter(70)), 25),
        (Box::new(Lbfgsb::new().with_max_iter(30)), 1),
    ];
    let p = problem(1.0);
    let options = RunOptions::default();
    for (opt, stop) in optimisers {
        let whole = p
            .optimise(None, Some(opt.as_ref()), &options)
            .expect("runs");
        let path = temp(&format!("{}.ckpt", opt.name()));
        let first = p
            .optimise_checkpointed(
                None,
                Some(opt.as_ref()),
                &options,
                &mut stop_after(stop),
                Some(&every_batch(&path)),
            )
            .expect("runs");
        assert_eq!(first.iterations, stop, "{}", opt.name());
        let mut seen = None;
        let resumed = p
            .optimise_checkpointed(
                None,
                Some(opt.as_ref()),
                &options,
                &mut first_report(&mut seen),
                Some(&every_batch(&path).with_resume(true)),
            )
            .expect("resumes");
        // It went on from the checkpoint, not from the start.
        assert!(
            seen.is_some_and(|e| e > first.evaluations),
            "{}: {seen:?}",
            opt.name()
        );
        assert_eq!(resumed.x, whole.x, "{}", opt.name());
        assert_eq!(resumed.value.to_bits(), whole.value.to_bits());
        assert_eq!(resumed.evaluations, whole.evaluations, "{}", opt.name());
        assert_eq!(resumed.history, whole.history, "{}", opt.name());
        assert_eq!(resumed.termination, whole.termination);
        assert!(resumed.time >= first.time);
    }
}

#[test]
fn resumed_samplers_draw_the_same_chains() {
    let samplers: Vec<Box<dyn Sampler>> = vec![
        Box::new(
            MetropolisHastings::new()
                .with_num_chains(3)
                .expect("valid")
                .with_iterations(300)
                .expect("valid")
                .with_seed(5),
        ),
        Box::new(
            EnsembleSampler::new()
                .with_iterations(200)
                .expect("valid")
                .with_seed(6),
        ),
    ];
    let p = problem(0.5);
    let options = RunOptions::default();
    for s in samplers {
        let whole = p.sample(None, Some(s.as_ref()), &options).expect("runs");
        let path = temp(&format!("{}.ckpt", s.name()));
        let first = p
            .sample_checkpointed(
                None,
                Some(s.as_ref()),
                &options,
                &mut stop_after(90),
                Some(&every_batch(&path)),
            )
            .expect("runs");
        let mut seen = None;
        let resumed = p
            .sample_checkpointed(
                None,
                Some(s.as_ref()),
                &options,
                &mut first_report(&mut seen),
                Some(&every_batch(&path).with_resume(true)),
            )
            .expect("resumes");
        assert!(
            seen.is_some_and(|e| e > first.evaluations),
            "{}: {seen:?}",
            s.name()
        );
        assert_eq!(resumed.chains, whole.chains, "{}", s.name());
        assert_eq!(resumed.evaluations, whole.evaluations);
    }
}

#[test]
fn a_resumed_nested_run_gives_the_same_evidence_and_points() {
    let p = problem(0.0);
    let sampler = DynamicNestedSampler::new()
        .with_live_points(60)
        .expect("valid")
        .with_seed(9)
        .with_max_batches(2);
    let options = RunOptions::default();
    let whole = p
        .nested_sample_observed(None, &sampler, &options, &mut ())
        .expect("runs");
    let path = temp("nested.ckpt");
    let first = p
        .nested_sample_checkpointed(
            None,
            &sampler,
            &options,
            &mut stop_after(40),
            Some(&every_batch(&path)),
        )
        .expect("runs");
    let mut seen = None;
    let resumed = p
        .nested_sample_checkpointed(
            None,
            &sampler,
            &options,
            &mut first_report(&mut seen),
            Some(&every_batch(&path).with_resume(true)),
        )
        .expect("resumes");
    assert!(seen.is_some_and(|e| e > first.evaluations), "{seen:?}");
    assert_eq!(resumed.log_evidence.to_bits(), whole.log_evidence.to_bits());
    assert_eq!(resumed.points, whole.points);
    assert_eq!(resumed.evaluations, whole.evaluations);
}

#[test]
fn resuming_without_a_file_starts_afresh_and_a_finished_run_resumes_to_its_result() {
    let p = problem(1.0);
    let opt = CmaEs::new().with_seed(1).with_max_iter(15);
    let path = temp("fresh.ckpt");
    let c = Checkpoint::new(&path).with_resume(true);
    let first = p
        .optimise_checkpointed(None, Some(&opt), &RunOptions::default(), &mut (), Some(&c))
        .expect("runs");
    assert!(path.exists(), "the end of a run is saved");
    let again = p
        .optimise_checkpointed(None, Some(&opt), &RunOptions::default(), &mut (), Some(&c))
        .expect("resumes");
    assert_eq!((again.x, again.evaluations), (first.x, first.evaluations));
}

fn checkpoint_error(e: Error) -> String {
    match e {
        Error::Checkpoint { reason, .. } => reason,
        other => panic!("expected a checkpoint error, got {other}"),
    }
}

#[test]
fn another_runs_or_a_damaged_checkpoint_is_refused() {
    let opt = CmaEs::new().with_seed(1).with_max_iter(5);
    let options = RunOptions::default();
    let path = temp("refused.ckpt");
    problem(1.0)
        .optimise_checkpointed(
            None,
            Some(&opt),
            &options,
            &mut (),
            Some(&Checkpoint::new(&path)),
        )
        .expect("runs");
    let resume = Checkpoint::new(&path).with_resume(true);
    // Another optimiser setting, another start, another optimiser, a sampler.
    let seeded = CmaEs::new().with_seed(2).with_max_iter(5);
    for reason in [
        problem(1.0)
            .optimise_checkpointed(None, Some(&seeded), &options, &mut (), Some(&resume))
            .unwrap_err(),
        problem(1.0)
            .optimise_checkpointed(
                Some(&[0.1, 0.1]),
                Some(&opt),
                &options,
                &mut (),
                Some(&resume),
            )
            .unwrap_err(),
        problem(1.0)
            .optimise_checkpointed(
                None,
                Some(&NelderMead::new()),
                &options,
                &mut (),
                Some(&resume),
            )
            .unwrap_err(),
    ] {
        assert!(checkpoint_error(reason).contains("different run"));
    }
    // Another kind of run is named as such.
    let mut bytes = std::fs::read(&path).expect("saved");
    let other = temp("other.ckpt");
    std::fs::write(&other, &bytes).expect("written");
    let err = problem(1.0)
        .sample_checkpointed(
            None,
            None,
            &options,
            &mut (),
            Some(&Checkpoint::new(&other).with_resume(true)),
        )
        .unwrap_err();
    let reason = checkpoint_error(err);
    assert!(
        reason.contains("holds a CMA-ES run, not an MCMC sampler run"),
        "{reason}"
    );
    // Damaged: truncated, or not a checkpoint at all.
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&path, &bytes).expect("written");
    let err = problem(1.0)
        .optimise_checkpointed(None, Some(&opt), &options, &mut (), Some(&resume))
        .unwrap_err();
    assert!(checkpoint_error(err).contains("damaged"));
    std::fs::write(&path, b"hello").expect("written");
    let err = problem(1.0)
        .optimise_checkpointed(None, Some(&opt), &options, &mut (), Some(&resume))
        .unwrap_err();
    assert!(checkpoint_error(err).contains("not a diffid checkpoint"));
}

#[test]
fn a_checkpoint_that_cannot_be_written_stops_the_run_with_the_reason() {
    let opt = CmaEs::new().with_seed(1).with_max_iter(5);
    let path = PathBuf::from("/nonexistent-directory/diffid.ckpt");
    let err = problem(1.0)
        .optimise_checkpointed(
            None,
            Some(&opt),
            &RunOptions::default(),
            &mut (),
            Some(&every_batch(&path)),
        )
        .unwrap_err();
    assert!(checkpoint_error(err).contains("cannot write"));
}
