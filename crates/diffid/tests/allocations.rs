//! Allocations per evaluation on the hot path, counted by a counting global allocator (the
//! one place the workspace allows `unsafe`: a `GlobalAlloc` must be an unsafe impl; it only
//! forwards to the system allocator).
#![allow(unsafe_code)]
#![allow(clippy::print_stdout)] // the counts, shown with --nocapture

use diffid::{DiffsolBuilder, Parallelism, Problem};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const MODEL: &str = "
in_i { a = 1.0, b = 0.5 }
u_i { x = 1.0, y = 0.5 }
F_i { a * x - 0.4 * x * y, b * x * y - 0.3 * y }
out_i { x, y }
";

fn problem() -> Problem {
    let times: Vec<f64> = (0..200).map(|i| f64::from(i) * 0.05).collect();
    let mut values = Vec::new();
    for t in &times {
        values.extend([*t, 1.0, 0.5]);
    }
    DiffsolBuilder::new()
        .with_diffsl(MODEL)
        .with_data(times.len(), 3, &values)
        .with_parameter("a", 1.0, None)
        .with_parameter("b", 0.5, None)
        .with_parallelism(Parallelism::Sequential)
        .build()
        .expect("valid")
}

fn per_call(mut f: impl FnMut()) -> f64 {
    f(); // warm the per-thread cache
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..100 {
        f();
    }
    (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / 100.0
}

#[test]
fn allocations_per_evaluation() {
    let p = problem();
    let value = per_call(|| {
        p.evaluate(&[1.1, 0.45]).expect("solves");
    });
    let gradient = per_call(|| {
        p.evaluate_gradient(&[1.1, 0.45]).expect("solves");
    });
    let (sim, _) = p.ode().expect("an ODE problem");
    let mut out = vec![0.0; 400];
    let mut sens = vec![0.0; 800];
    let solve = per_call(|| {
        sim.solve(&[1.1, 0.45], &mut out).expect("solves");
    });
    let solve_sens = per_call(|| {
        sim.solve_with_sensitivities(&[1.1, 0.45], &mut out, &mut sens)
            .expect("solves");
    });
    println!("allocations per call: value {value}, gradient {gradient}, solve {solve}, solve with sensitivities {solve_sens}");
    // The facade's evaluation allocates nothing beyond the solve's own (diffsol's solver and
    // its state, made per solve); the gradient only the vector it returns.
    assert!(value <= solve, "value {value} vs solve {solve}");
    assert!(
        gradient <= solve_sens + 1.0,
        "gradient {gradient} vs solve {solve_sens}"
    );
    // Our part of a plain solve: none of the inputs or outputs are allocated per call (what
    // remains is diffsol making its solver: its state vectors and tableau).
    assert!(solve <= 13.0, "{solve}");
}
