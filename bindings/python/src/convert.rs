//! Numbers from Python: array-likes read as float64 values in row-major order.
//!
//! A float64 NumPy array is read through a readonly view of its own memory (any strides or
//! layout, no Python-level copy); anything else (lists, integer arrays, ...) is converted by
//! `numpy.asarray(..., float64)` first.

use numpy::{PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
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
