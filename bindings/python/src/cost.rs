//! Cost metrics: `SSE`, `RMSE`, `GaussianNLL`.

use crate::errors::BuildError;
use diffid::{CostMetric, GaussianNll, Noise, Rmse, Sse};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// Sum of squared errors, `weight · Σ r²`.
#[pyclass(module = "diffid._diffid", name = "SSE", frozen)]
#[derive(Clone)]
pub struct PySse(pub Sse);

/// Root-mean-square error, `weight · sqrt(Σ r² / N)`.
#[pyclass(module = "diffid._diffid", name = "RMSE", frozen)]
#[derive(Clone)]
pub struct PyRmse(pub Rmse);

/// Gaussian negative log-likelihood, `weight · 0.5 · Σ (r²/σ² + ln(2πσ²))`: with a known
/// `variance` (one, or one per output), or with σ estimated as the parameter(s) named by
/// `sigma` (one name, or one per output).
#[pyclass(module = "diffid._diffid", name = "GaussianNLL", frozen)]
#[derive(Clone)]
pub struct PyGaussianNll(pub GaussianNll);

fn value_error(e: &impl ToString) -> PyErr {
    PyValueError::new_err(e.to_string())
}

#[pymethods]
impl PySse {
    #[new]
    #[pyo3(signature = (weight = 1.0))]
    fn new(weight: f64) -> PyResult<Self> {
        Sse::new(weight).map(Self).map_err(|e| value_error(&e))
    }
    #[getter]
    fn name(&self) -> &'static str {
        self.0.name()
    }
    #[getter]
    fn weight(&self) -> f64 {
        self.0.weight()
    }
    fn __repr__(&self) -> String {
        format!("SSE(weight={})", self.0.weight())
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<crate::pickling::Reduced<'py>> {
        crate::pickling::reduce(py, "SSE", &self.0)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.downcast::<Self>().is_ok_and(|o| o.get().0 == self.0)
    }
}

#[pymethods]
impl PyRmse {
    #[new]
    #[pyo3(signature = (weight = 1.0))]
    fn new(weight: f64) -> PyResult<Self> {
        Rmse::new(weight).map(Self).map_err(|e| value_error(&e))
    }
    #[getter]
    fn name(&self) -> &'static str {
        self.0.name()
    }
    #[getter]
    fn weight(&self) -> f64 {
        self.0.weight()
    }
    fn __repr__(&self) -> String {
        format!("RMSE(weight={})", self.0.weight())
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<crate::pickling::Reduced<'py>> {
        crate::pickling::reduce(py, "RMSE", &self.0)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.downcast::<Self>().is_ok_and(|o| o.get().0 == self.0)
    }
}

#[pymethods]
impl PyGaussianNll {
    #[new]
    #[pyo3(signature = (variance = None, weight = 1.0, *, sigma = None))]
    fn new(
        variance: Option<&Bound<'_, PyAny>>,
        weight: f64,
        sigma: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let made = match (variance, sigma) {
            (Some(_), Some(_)) => {
                return Err(PyValueError::new_err(
                    "GaussianNLL takes a known variance or sigma=<parameter name(s)> to estimate it, not both",
                ))
            }
            (None, Some(s)) => {
                let names: Vec<String> = if let Ok(n) = s.extract::<String>() {
                    vec![n]
                } else {
                    s.extract().map_err(|_| {
                        PyTypeError::new_err(
                            "sigma must name a parameter (a str) or one per output (a list of str)",
                        )
                    })?
                };
                GaussianNll::with_sigma(names, weight)
            }
            (Some(v), None) => {
                let variances: Vec<f64> = if let Ok(x) = v.extract::<f64>() {
                    vec![x]
                } else {
                    v.extract().map_err(|_| {
                        PyTypeError::new_err(
                            "variance must be a number or a list of numbers, one per output",
                        )
                    })?
                };
                GaussianNll::with_variances(variances, weight)
            }
            (None, None) => GaussianNll::new(1.0, weight),
        };
        made.map(Self).map_err(|e| value_error(&e))
    }
    #[getter]
    fn name(&self) -> &'static str {
        self.0.name()
    }
    #[getter]
    fn weight(&self) -> f64 {
        self.0.weight()
    }
    /// The known variance: a float, a list (one per output), or None when σ is estimated.
    #[getter]
    fn variance(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match self.0.noise() {
            Noise::Variance(v) if v.len() == 1 => v[0].into_pyobject(py)?.into_any().unbind(),
            Noise::Variance(v) => v.clone().into_pyobject(py)?.into_any().unbind(),
            Noise::Sigma(_) => py.None(),
        })
    }
    /// The names of the estimated σ parameters (empty for a known variance).
    #[getter]
    fn sigma(&self) -> Vec<String> {
        self.0.noise_parameters().to_vec()
    }
    fn __repr__(&self) -> String {
        match self.0.noise() {
            Noise::Variance(v) if v.len() == 1 => {
                format!("GaussianNLL(variance={}, weight={})", v[0], self.0.weight())
            }
            Noise::Variance(v) => {
                format!("GaussianNLL(variance={v:?}, weight={})", self.0.weight())
            }
            Noise::Sigma(s) => format!("GaussianNLL(sigma={s:?}, weight={})", self.0.weight()),
        }
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<crate::pickling::Reduced<'py>> {
        crate::pickling::reduce(py, "GaussianNLL", &self.0)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.downcast::<Self>().is_ok_and(|o| o.get().0 == self.0)
    }
}

/// Extracts any of the metric classes as a boxed Rust metric.
pub fn extract_metric(obj: &Bound<'_, PyAny>) -> PyResult<Box<dyn CostMetric>> {
    if let Ok(m) = obj.downcast::<PySse>() {
        return Ok(Box::new(m.get().0));
    }
    if let Ok(m) = obj.downcast::<PyRmse>() {
        return Ok(Box::new(m.get().0));
    }
    if let Ok(m) = obj.downcast::<PyGaussianNll>() {
        return Ok(Box::new(m.get().0.clone()));
    }
    Err(BuildError::new_err(format!(
        "with_cost expects diffid.SSE(), diffid.RMSE() or diffid.GaussianNLL(), got {}",
        obj.get_type().name()?
    )))
}
