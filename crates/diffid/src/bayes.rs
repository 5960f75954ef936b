//! Priors attached to parameters, the likelihood check, and the layout of noise parameters.

use crate::Error;
use diffid_core::{Parameter, Parameters};
use diffid_cost::CostSum;
use diffid_sample::{Distribution, Prior};

/// The prior of `parameter`: `distribution` truncated to its bounds when given, else a uniform
/// prior on finite bounds, else none (such a parameter cannot be sampled).
///
/// # Errors
/// [`Error::Sample`] for invalid distribution parameters or bounds that hold no prior mass;
/// [`Error::PriorZeroAtStart`] when the prior density is zero at the parameter's initial value.
pub fn resolve_prior(
    parameter: &Parameter,
    distribution: Option<Distribution>,
) -> Result<Option<Prior>, Error> {
    let b = parameter.bounds();
    let prior = match distribution {
        Some(d) => {
            let p = Prior::new(d)?;
            if b.is_unbounded() {
                p
            } else {
                p.truncated(b.lower(), b.upper())?
            }
        }
        None if b.is_finite() => Prior::uniform(b.lower(), b.upper())?,
        None => return Ok(None),
    };
    if prior.log_density(parameter.initial()) == f64::NEG_INFINITY {
        return Err(Error::PriorZeroAtStart {
            name: parameter.name().to_owned(),
            value: parameter.initial(),
            prior: prior.to_string(),
        });
    }
    Ok(Some(prior))
}

/// The priors of `params`: the named distributions (the last given for a name wins), resolved
/// by [`resolve_prior`].
///
/// # Errors
/// [`Error::UnknownPriorParameter`] for a prior naming no parameter; as [`resolve_prior`].
pub fn attach_priors(
    params: &Parameters,
    named: &[(String, Distribution)],
) -> Result<Vec<Option<Prior>>, Error> {
    let names = params.names();
    if let Some((n, _)) = named.iter().find(|(n, _)| !names.contains(n)) {
        return Err(Error::UnknownPriorParameter {
            name: n.clone(),
            known: names,
        });
    }
    params
        .iter()
        .map(|p| {
            let d = named
                .iter()
                .rev()
                .find(|(n, _)| n == p.name())
                .map(|(_, d)| *d);
            resolve_prior(p, d)
        })
        .collect()
}

/// Every parameter's prior, for sampling.
///
/// # Errors
/// [`Error::NoPrior`] naming the first parameter with neither a prior nor finite bounds.
pub fn require_priors(params: &Parameters, priors: &[Option<Prior>]) -> Result<Vec<Prior>, Error> {
    params
        .iter()
        .zip(priors)
        .map(|(p, prior)| {
            prior.clone().ok_or_else(|| Error::NoPrior {
                name: p.name().to_owned(),
            })
        })
        .collect()
}

/// Which parameters feed the model and which the cost's noise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoiseLayout {
    /// The model's parameter names, in declaration order.
    pub model_names: Vec<String>,
    /// Their positions in a point.
    pub model_index: Vec<usize>,
    /// The positions of the cost's noise parameters ([`CostSum::noise_parameters`] order).
    pub noise_index: Vec<usize>,
}

/// Splits `params` into the model's and the cost's noise parameters.
///
/// # Errors
/// [`Error::UnknownNoiseParameter`] when the cost names a σ parameter that is not declared.
pub fn split_noise(params: &Parameters, cost: &CostSum) -> Result<NoiseLayout, Error> {
    let names = params.names();
    let noise = cost.noise_parameters();
    let mut noise_index = Vec::with_capacity(noise.len());
    for n in &noise {
        let i = names
            .iter()
            .position(|m| m == n)
            .ok_or_else(|| Error::UnknownNoiseParameter {
                name: n.clone(),
                known: names.clone(),
            })?;
        noise_index.push(i);
    }
    let (model_names, model_index) = names
        .iter()
        .enumerate()
        .filter(|(i, _)| !noise_index.contains(i))
        .map(|(i, n)| (n.clone(), i))
        .unzip();
    Ok(NoiseLayout {
        model_names,
        model_index,
        noise_index,
    })
}

/// `Ok` when a cost is a likelihood.
///
/// # Errors
/// Why it is not, and what to use instead.
pub fn likelihood_of(cost: &CostSum) -> Result<(), String> {
    cost.likelihood().map_err(|name| {
        format!("the cost is {name}, which is not a likelihood; sampling needs a negative log-likelihood: use GaussianNLL(variance=...) for known noise, or GaussianNLL(sigma=\"sigma\") with a parameter sigma for unknown noise")
    })
}
