//! Cost metrics: `SSE`, `RMSE`, `GaussianNLL`.

use crate::errors::BuildError;
use diffid::{CostMetric, GaussianNll, Rmse, Sse};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Sum of squared errors, `weight · Σ r²`.
#[pyclass(module = "diffid._diffid", name = "SSE", frozen)]
#[derive(Clone)]
pub struct PySse(pub Sse);

/// Root-mean-square error, `weight · sqrt(Σ r² / N)`.
#[pyclass(module = "diffid._diffid", name = "RMSE", frozen)]
#[derive(Clone)]
pub struct PyRmse(pub Rmse);

/// Gaussian negative log-likelihood with known variance,
/// `weight · 0.5 · Σ (r²/σ² + ln(2πσ²))`.
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
}

#[pymethods]
impl PyGaussianNll {
    #[new]
    #[pyo3(signature = (variance = 1.0, weight = 1.0))]
    fn new(variance: f64, weight: f64) -> PyResult<Self> {
        GaussianNll::new(variance, weight)
            .map(Self)
            .map_err(|e| value_error(&e))
    }
    #[getter]
    fn name(&self) -> &'static str {
        self.0.name()
    }
    #[getter]
    fn weight(&self) -> f64 {
        self.0.weight()
    }
    #[getter]
    fn variance(&self) -> f64 {
        self.0.variance()
    }
    fn __repr__(&self) -> String {
        format!(
            "GaussianNLL(variance={}, weight={})",
            self.0.variance(),
            self.0.weight()
        )
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
        return Ok(Box::new(m.get().0));
    }
    Err(BuildError::new_err(format!(
        "with_cost expects diffid.SSE(), diffid.RMSE() or diffid.GaussianNLL(), got {}",
        obj.get_type().name()?
    )))
}
