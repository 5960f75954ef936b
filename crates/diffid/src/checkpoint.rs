//! Checkpoints: the state of a running optimiser or sampler saved to a file every so often,
//! and a run resumed from that file. Every state is saved whole (its random generator
//! included) at a batch boundary, so a resumed run goes on exactly as the uninterrupted run
//! would have: the same result, bit for bit, only the wall-clock time differs.

use crate::Error;
use diffid_core::OptimiserState;
use diffid_exec::{Control, Observer, Progress};
use diffid_optim::{AdamState, CmaEsState, LbfgsbState, NelderMeadState, StartOnly};
use diffid_sample::{EnsembleState, MhState, NestedState, SamplerState};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The first bytes of every checkpoint file.
const MAGIC: &[u8; 8] = b"DIFFIDCK";
/// The layout of what follows; a file of another version is refused.
const VERSION: u32 = 2;

/// Where and how often a run saves its state, and whether it starts from a saved state.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    path: PathBuf,
    interval: Duration,
    resume: bool,
    fingerprint: Vec<u8>,
}

impl Checkpoint {
    /// Saves to `path` every 60 seconds (and when the run ends); starts afresh.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            interval: Duration::from_secs(60),
            resume: false,
            fingerprint: Vec::new(),
        }
    }

    /// Saves at most this often (`Duration::ZERO`: after every batch).
    #[must_use]
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Starts from the file's state when the file exists (else afresh).
    #[must_use]
    pub fn with_resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Identifies the problem (the Python bindings give a digest of its build specification):
    /// a checkpoint saved with another fingerprint is refused. The run adds the algorithm's
    /// settings, the parameters and the starting point to it.
    #[must_use]
    pub fn with_fingerprint(mut self, fingerprint: Vec<u8>) -> Self {
        self.fingerprint = fingerprint;
        self
    }

    /// The checkpoint file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, reason: impl Into<String>) -> Error {
        Error::Checkpoint {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }
}

/// Every state that can be saved.
#[derive(Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)] // one value per file
pub(crate) enum Saved {
    NelderMead(NelderMeadState),
    CmaEs(CmaEsState),
    Adam(AdamState),
    Lbfgsb(LbfgsbState),
    Start(StartOnly),
    MetropolisHastings(MhState),
    Ensemble(EnsembleState),
    Nested(Box<NestedState>),
}

impl Saved {
    fn kind(&self) -> &'static str {
        match self {
            Self::NelderMead(_) => "a Nelder-Mead",
            Self::CmaEs(_) => "a CMA-ES",
            Self::Adam(_) => "an Adam",
            Self::Lbfgsb(_) => "an L-BFGS-B",
            Self::Start(_) => "a max_iter=0",
            Self::MetropolisHastings(_) => "a Metropolis-Hastings",
            Self::Ensemble(_) => "an ensemble-sampler",
            Self::Nested(_) => "a nested-sampling",
        }
    }

    /// An optimiser's state, if it is one that can be saved.
    pub(crate) fn of_optimiser(state: &dyn OptimiserState) -> Option<Self> {
        let any = state.as_any()?;
        if let Some(s) = any.downcast_ref::<CmaEsState>() {
            return Some(Self::CmaEs(s.clone()));
        }
        if let Some(s) = any.downcast_ref::<NelderMeadState>() {
            return Some(Self::NelderMead(s.clone()));
        }
        if let Some(s) = any.downcast_ref::<AdamState>() {
            return Some(Self::Adam(s.clone()));
        }
        if let Some(s) = any.downcast_ref::<LbfgsbState>() {
            return Some(Self::Lbfgsb(s.clone()));
        }
        any.downcast_ref::<StartOnly>()
            .map(|s| Self::Start(s.clone()))
    }

    /// An MCMC sampler's state, if it is one that can be saved.
    pub(crate) fn of_sampler(state: &dyn SamplerState) -> Option<Self> {
        let any = state.as_any()?;
        if let Some(s) = any.downcast_ref::<MhState>() {
            return Some(Self::MetropolisHastings(s.clone()));
        }
        any.downcast_ref::<EnsembleState>()
            .map(|s| Self::Ensemble(s.clone()))
    }
}

impl Saved {
    /// The saved optimiser state, or the kind of run it is from.
    pub(crate) fn into_optimiser(self) -> Result<Box<dyn OptimiserState>, &'static str> {
        Ok(match self {
            Self::NelderMead(s) => Box::new(s),
            Self::CmaEs(s) => Box::new(s),
            Self::Adam(s) => Box::new(s),
            Self::Lbfgsb(s) => Box::new(s),
            Self::Start(s) => Box::new(s),
            other => return Err(other.kind()),
        })
    }

    /// The saved MCMC state, or the kind of run it is from.
    pub(crate) fn into_sampler(self) -> Result<Box<dyn SamplerState>, &'static str> {
        Ok(match self {
            Self::MetropolisHastings(s) => Box::new(s),
            Self::Ensemble(s) => Box::new(s),
            other => return Err(other.kind()),
        })
    }

    /// The saved nested-sampling state, or the kind of run it is from.
    pub(crate) fn into_nested(self) -> Result<NestedState, &'static str> {
        match self {
            Self::Nested(s) => Ok(*s),
            other => Err(other.kind()),
        }
    }
}

/// What a checkpoint file holds after its magic bytes and version.
#[derive(Serialize, Deserialize)]
struct Contents {
    fingerprint: Vec<u8>,
    /// Wall-clock time of the run up to the save.
    elapsed: Duration,
    state: Saved,
}

/// A run's checkpointing: when to save, and what the saved state must match.
pub(crate) struct Saver<'a> {
    checkpoint: &'a Checkpoint,
    fingerprint: Vec<u8>,
    /// Time of earlier segments of the run (before a resume).
    pub earlier: Duration,
    last_save: Instant,
    /// The first failure to save: the run stops and reports it.
    pub failed: Option<Error>,
}

impl<'a> Saver<'a> {
    /// Checkpointing for a run whose algorithm, parameters and start are described by
    /// `run` (added to the user's fingerprint).
    pub fn new(checkpoint: &'a Checkpoint, run: &str) -> Self {
        let mut fingerprint = checkpoint.fingerprint.clone();
        fingerprint.extend_from_slice(run.as_bytes());
        Self {
            checkpoint,
            fingerprint,
            earlier: Duration::ZERO,
            last_save: Instant::now(),
            failed: None,
        }
    }

    /// The saved state to resume from, with the fingerprint it was saved with: `None` when
    /// not resuming or when there is no file yet.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] for a file that cannot be read, is not a diffid checkpoint or is
    /// damaged.
    pub fn load(&mut self) -> Result<Option<(Saved, Vec<u8>)>, Error> {
        let c = self.checkpoint;
        if !c.resume || !c.path.exists() {
            return Ok(None);
        }
        let bytes = std::fs::read(&c.path).map_err(|e| c.error(format!("cannot read it: {e}")))?;
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err(c.error("not a diffid checkpoint file"));
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version != VERSION {
            return Err(c.error(format!(
                "saved in checkpoint format {version}, this diffid reads format {VERSION}"
            )));
        }
        let contents: Contents = postcard::from_bytes(&bytes[12..])
            .map_err(|e| c.error(format!("the file is damaged or truncated ({e})")))?;
        self.earlier = contents.elapsed;
        Ok(Some((contents.state, contents.fingerprint)))
    }

    /// Refuses a saved state whose fingerprint is not this run's.
    fn check_fingerprint(&self, saved: &[u8]) -> Result<(), Error> {
        if saved == self.fingerprint {
            return Ok(());
        }
        Err(self.checkpoint.error(
            "it was saved by a different run (another problem, algorithm, setting or starting point); delete it or give another path to start afresh",
        ))
    }

    /// Refuses a saved state of another kind than `expected` (e.g. a sampler's file given
    /// to an optimiser).
    pub fn wrong_kind(&self, saved: &str, expected: &str) -> Error {
        self.checkpoint
            .error(format!("it holds {saved} run, not {expected} run"))
    }

    /// Saves `state` if the interval has passed (or `force`), after `elapsed` of this segment.
    /// A failure to save is kept in [`failed`](Self::failed); the run then stops.
    pub fn maybe_save(
        &mut self,
        force: bool,
        elapsed: Duration,
        state: impl FnOnce() -> Option<Saved>,
    ) {
        if self.failed.is_some() || (!force && self.last_save.elapsed() < self.checkpoint.interval)
        {
            return;
        }
        self.last_save = Instant::now();
        let Some(state) = state() else {
            self.failed = Some(
                self.checkpoint
                    .error("this algorithm's state cannot be saved"),
            );
            return;
        };
        let contents = Contents {
            fingerprint: self.fingerprint.clone(),
            elapsed: self.earlier + elapsed,
            state,
        };
        if let Err(e) = self.write(&contents) {
            self.failed = Some(e);
        }
    }

    /// Writes atomically: a temporary file beside the checkpoint, then a rename, so that a
    /// run killed while saving leaves the previous checkpoint intact.
    fn write(&self, contents: &Contents) -> Result<(), Error> {
        let c = self.checkpoint;
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        let body =
            postcard::to_stdvec(contents).map_err(|e| c.error(format!("cannot encode: {e}")))?;
        bytes.extend_from_slice(&body);
        let mut tmp = c.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, &bytes).map_err(|e| c.error(format!("cannot write it: {e}")))?;
        std::fs::rename(&tmp, &c.path).map_err(|e| c.error(format!("cannot write it: {e}")))
    }
}

/// The observer of a checkpointed run (see [`Session::watch`]).
pub(crate) struct Watch<'s, 'a, F> {
    session: &'s Session<'a>,
    observer: &'s mut dyn Observer,
    adjust: F,
}

impl<F: Fn(&mut Progress)> Observer for Watch<'_, '_, F> {
    fn observe(&mut self, p: &Progress) -> Control {
        if self.session.failed() {
            return Control::Cancel;
        }
        let mut q = p.clone();
        q.elapsed += self.session.earlier;
        (self.adjust)(&mut q);
        self.observer.observe(&q)
    }
}

/// The checkpointing of one run, shared by the run's observer and its per-batch hook: the
/// saver (if the run has a checkpoint) and the time of the run's earlier segments.
pub(crate) struct Session<'a> {
    saver: RefCell<Option<Saver<'a>>>,
    /// Time of the run before it was resumed (zero for a fresh run).
    pub earlier: Duration,
}

impl<'a> Session<'a> {
    /// Starts the checkpointing of a run described by `run` (see [`Saver::new`]); with
    /// `resume`, the saved state converted by `convert`, refused unless it is `kind`'s.
    ///
    /// # Errors
    /// As [`Saver::load`]; a saved state of another kind.
    pub fn start<T>(
        checkpoint: Option<&'a Checkpoint>,
        run: impl FnOnce() -> String,
        kind: &str,
        convert: impl FnOnce(Saved) -> Result<T, &'static str>,
    ) -> Result<(Self, Option<T>), Error> {
        let mut saver = checkpoint.map(|c| Saver::new(c, &run()));
        let resumed = match saver.as_mut() {
            Some(s) => match s.load()? {
                Some((saved, fingerprint)) => {
                    // The kind first: its refusal is the more specific.
                    let state = convert(saved).map_err(|other| s.wrong_kind(other, kind))?;
                    s.check_fingerprint(&fingerprint)?;
                    Some(state)
                }
                None => None,
            },
            None => None,
        };
        let earlier = saver.as_ref().map_or(Duration::ZERO, |s| s.earlier);
        Ok((
            Self {
                saver: RefCell::new(saver),
                earlier,
            },
            resumed,
        ))
    }

    /// Whether a save has failed (the run then stops).
    pub fn failed(&self) -> bool {
        self.saver
            .borrow()
            .as_ref()
            .is_some_and(|s| s.failed.is_some())
    }

    /// Saves the state if the interval has passed, `elapsed` into this segment.
    pub fn save(&self, elapsed: Duration, state: impl FnOnce() -> Option<Saved>) {
        if let Some(saver) = self.saver.borrow_mut().as_mut() {
            saver.maybe_save(false, elapsed, state);
        }
    }

    /// The run's observer as the user sees it: it stops the run once a save has failed,
    /// reports the time since the run's first start, and lets `adjust` map the rest (the best
    /// point to natural units, say).
    pub fn watch<'s, F: Fn(&mut Progress)>(
        &'s self,
        observer: &'s mut dyn Observer,
        adjust: F,
    ) -> Watch<'s, 'a, F> {
        Watch {
            session: self,
            observer,
            adjust,
        }
    }

    /// Saves the final state of the segment.
    ///
    /// # Errors
    /// The first save that failed during the run, or this one.
    pub fn finish(
        self,
        elapsed: Duration,
        state: impl FnOnce() -> Option<Saved>,
    ) -> Result<(), Error> {
        match self.saver.into_inner() {
            Some(mut saver) => {
                saver.maybe_save(true, elapsed, state);
                saver.failed.map_or(Ok(()), Err)
            }
            None => Ok(()),
        }
    }
}
