//! Elementwise nonlinearities and their derivatives.

use ndarray::Array2;
use rayon::prelude::*;

/// Elements from which a nonlinearity is applied on all cores.
const PARALLEL_FROM: usize = 1 << 16;
use serde::{Deserialize, Serialize};

/// A layer's nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// tanh.
    Tanh,
    /// max(0, x).
    Relu,
    /// No nonlinearity (the output layer, whose softmax is part of the loss).
    Identity,
}

impl Activation {
    /// f(a) for a matrix of pre-activations.
    pub fn apply(self, pre: &Array2<f32>) -> Array2<f32> {
        match self {
            Activation::Tanh => map_on_all_cores(pre, fast_tanh),
            Activation::Relu => map_on_all_cores(pre, |v| v.max(0.0)),
            Activation::Identity => pre.clone(),
        }
    }

    /// f(a) in place of the pre-activations (the same values as [`Activation::apply`]).
    pub fn apply_in_place(self, pre: &mut Array2<f32>) {
        match self {
            Activation::Tanh => map_in_place_on_all_cores(pre, fast_tanh),
            Activation::Relu => map_in_place_on_all_cores(pre, |v| v.max(0.0)),
            Activation::Identity => {}
        }
    }

    /// f'(a) of one unit, given its pre-activation and activation.
    #[inline]
    pub fn slope(self, pre: f32, post: f32) -> f32 {
        match self {
            Activation::Tanh => 1.0 - post * post,
            Activation::Relu => {
                if pre > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Identity => 1.0,
        }
    }

    /// f'(a), given the pre-activations `pre` and the activations `post` = f(pre).
    pub fn derivative(self, pre: &Array2<f32>, post: &Array2<f32>) -> Array2<f32> {
        match self {
            Activation::Tanh => post.mapv(|h| 1.0 - h * h),
            Activation::Relu => pre.mapv(|a| if a > 0.0 { 1.0 } else { 0.0 }),
            Activation::Identity => Array2::ones(pre.raw_dim()),
        }
    }
}

/// `f` applied to every element in place, on all cores for large maps.
fn map_in_place_on_all_cores(values: &mut Array2<f32>, f: impl Fn(f32) -> f32 + Sync) {
    match values.as_slice_mut() {
        Some(values) if values.len() >= PARALLEL_FROM => {
            values.par_chunks_mut(PARALLEL_FROM).for_each(|values| {
                for v in values {
                    *v = f(*v);
                }
            });
        }
        _ => values.mapv_inplace(f),
    }
}

/// `f` applied to every element; large maps (a convolution's) on all cores. Generic, so that
/// `f` is inlined and vectorised.
fn map_on_all_cores(pre: &Array2<f32>, f: impl Fn(f32) -> f32 + Sync) -> Array2<f32> {
    match pre.as_slice() {
        Some(values) if values.len() >= PARALLEL_FROM => {
            let mut out = vec![0.0f32; values.len()];
            out.par_chunks_mut(PARALLEL_FROM)
                .zip(values.par_chunks(PARALLEL_FROM))
                .for_each(|(out, values)| {
                    for (o, &v) in out.iter_mut().zip(values) {
                        *o = f(v);
                    }
                });
            Array2::from_shape_vec(pre.raw_dim(), out).expect("same size")
        }
        _ => pre.mapv(f),
    }
}

/// tanh(x) by a [13/6] rational minimax approximation on [-7.9053, 7.9053] (beyond which f32
/// tanh is ±1), accurate to a few float ulps. It is branch-free, so the compiler vectorises
/// it, unlike libm's `tanhf`. Coefficients as published with Eigen's `generic_fast_tanh_float`.
#[inline]
pub fn fast_tanh(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    let x = x.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let p = x2 * -2.760_768_5e-16 + 2.000_188e-13;
    let p = x2 * p + -8.604_672e-11;
    let p = x2 * p + 5.122_297e-8;
    let p = x2 * p + 1.485_722_4e-5;
    let p = x2 * p + 6.372_619_3e-4;
    let p = x2 * p + 4.893_524_6e-3;
    let q = x2 * 1.198_258_4e-6 + 1.185_347_1e-4;
    let q = x2 * q + 2.268_434_6e-3;
    let q = x2 * q + 4.893_525e-3;
    x * p / q
}

#[cfg(test)]
mod tests {
    #[test]
    fn fast_tanh_matches_libm_to_float_precision() {
        let worst = (-100_000..=100_000)
            .map(|i| i as f32 * 1e-4)
            .chain([-50.0, -8.0, 8.0, 50.0, 1e-8, -1e-8])
            .map(|x| (super::fast_tanh(x) - x.tanh()).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 5e-7, "{worst}");
    }
}
