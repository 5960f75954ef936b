//! Values from Python, converted and checked: arrays (read as float64 values in row-major
//! order), parameters, priors, schedule times and builder recipes.
//!
//! A float64 NumPy array is read through a readonly view of its own memory (any strides or
//! layout, no Python-level copy); anything else (lists, integer arrays, ...) is converted by
//! `numpy.asarray(..., float64)` first.

use crate::errors::{to_py, BuildError};
use crate::sampler::extract_prior;
use diffid::{resolve_prior, Distribution, Parameter, Transform};
use numpy::{PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

/// `obj`'s shape and its values in row-major order.
pub fn floats(obj: &Bound<'_, PyAny>) -> PyResult<(Vec<usize>, Vec<f64>)> {
    fn read(arr: &PyReadonlyArrayDyn<'_, f64>) -> (Vec<usize>, Vec<f64>) {
        let view = arr.as_array();
        let values = match view.as_slice() {
            Some(s) => s.to_vec(),
            None => view.iter().copied().collect(),
        };
        (arr.shape().to_vec(), values)
    }
    if let Ok(arr) = obj.extract::<PyReadonlyArrayDyn<'_, f64>>() {
        return Ok(read(&arr));
    }
    let converted = obj
        .py()
        .import("numpy")?
        .call_method1("asarray", (obj, "float64"))?;
    let arr = converted
        .downcast::<numpy::PyArrayDyn<f64>>()
        .map_err(PyErr::from)?
        .readonly();
    Ok(read(&arr))
}

/// Whether two builders were made by the same calls (they pickle to the same bytes).
pub fn same_recipe(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<bool> {
    if !a.get_type().is(b.get_type()) {
        return Ok(false);
    }
    let dumps = a.py().import("pickle")?.getattr("dumps")?;
    dumps.call1((a,))?.eq(dumps.call1((b,))?)
}

/// Converts an array-like to a contiguous row-major `(rows, columns, values)` table.
pub fn table(data: &Bound<'_, PyAny>) -> PyResult<(usize, usize, Vec<f64>)> {
    let (shape, values) = floats(data)
        .map_err(|e| BuildError::new_err(format!("data must be a numeric 2-D array: {e}")))?;
    if shape.len() != 2 {
        return Err(BuildError::new_err(format!(
            "data must be a 2-D array (column 0 = time, then one column per model output), got a {}-D array of shape {shape:?}",
            shape.len()
        )));
    }
    Ok((shape[0], shape[1], values))
}

/// A parameter checked now: bad bounds, a start outside them, an unknown transform or one
/// that does not fit raise `BuildError`.
pub fn parameter(
    name: String,
    initial: f64,
    bounds: Option<(f64, f64)>,
    transform: Option<&str>,
) -> PyResult<Parameter> {
    let transform: Transform = match transform {
        None => Transform::Identity,
        Some(t) => t
            .parse()
            .map_err(|e: diffid::CoreError| BuildError::new_err(e.to_string()))?,
    };
    Parameter::new(name, initial, bounds)
        .and_then(|p| p.with_transform(transform))
        .map_err(|e| BuildError::new_err(e.to_string()))
}

/// A prior given from Python, checked against the parameter now (invalid distribution
/// parameters raise `ValueError`; a prior with no mass within the bounds or zero density at the
/// start raises `BuildError`).
pub fn checked_prior(
    parameter: &Parameter,
    prior: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<Distribution>> {
    let Some(obj) = prior else {
        return Ok(None);
    };
    let d = extract_prior(obj)?;
    resolve_prior(parameter, Some(d)).map_err(to_py)?;
    Ok(Some(d))
}

/// A number or a 1-D sequence of numbers, as a vector (`what` names the argument).
pub fn schedule_times(x: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<f64>> {
    let (shape, values) = floats(x).map_err(|_| {
        PyTypeError::new_err(format!("{what} expects a number or a list of numbers"))
    })?;
    // A number has shape (); a list, (n,).
    if shape.len() > 1 || values.is_empty() {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "{what} expects a number or a non-empty 1-D list of numbers, got shape {shape:?}"
        )));
    }
    Ok(values)
}

/// Checks that a schedule's times increase, as `BuildError`.
pub fn diffid_ode_check(what: &str, times: &[f64]) -> PyResult<()> {
    diffid::check_increasing(what, times).map_err(|e| BuildError::new_err(e.to_string()))
}

pub fn vector(x: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
    let (shape, values) = crate::convert::floats(x)?;
    if shape.len() != 1 {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "expected a 1-D vector of parameter values, got shape {shape:?}"
        )));
    }
    Ok(values)
}

/// The rows of a 2-D array-like of points.
pub fn rows(points: &Bound<'_, PyAny>) -> PyResult<Vec<Vec<f64>>> {
    let (shape, flat) = crate::convert::floats(points)?;
    let [n, cols] = shape[..] else {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "expected a 2-D array of points, one per row",
        ));
    };
    Ok(if cols == 0 {
        vec![Vec::new(); n]
    } else {
        flat.chunks(cols).map(<[f64]>::to_vec).collect()
    })
}
