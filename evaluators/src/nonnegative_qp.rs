//! Convex quadratic programs over the nonnegative orthant, min ½ αᵀGα + qᵀα subject to α ≥ 0
//! with G positive semidefinite, by the active-set method of Lawson & Hanson (1974, *Solving
//! Least Squares Problems*, ch. 23) in its Gram form.
//!
//! The method keeps a *passive* set P of free variables (the rest are held at 0). Each outer
//! step frees the variable whose negative gradient w = −(Gα + q) is largest, solves the
//! unconstrained problem on P (G_PP z = −q_P), and, when that leaves P's box, walks from α
//! towards z until the first variable reaches 0 and drops it. It stops when no held variable
//! has w > 0: the KKT conditions of the QP hold. The solve on P uses a Cholesky factor that
//! grows by one row per freed variable (O(|P|²)) and is rebuilt only when a variable is
//! dropped. A variable whose column of G is numerically in the span of P's is not freed (its
//! pivot would be ~0); for the MFTMA anchor problem such a variable has w = 0 in exact
//! arithmetic (see `manifold_capacity`), so nothing is lost.
//!
//! The solution is exact up to rounding, with finite termination; the caller checks the KKT
//! conditions of what comes back and falls back to an interior-point solver when they fail.

use ndarray::Array2;

/// α ≥ 0 minimising ½ αᵀGα + qᵀα, or `None` when the iteration budget runs out. `gram` is
/// m × m symmetric positive semidefinite and `q` has m entries.
pub(crate) fn solve_nonnegative_qp(gram: &Array2<f64>, q: &[f64]) -> Option<Vec<f64>> {
    let m = q.len();
    debug_assert_eq!(gram.dim(), (m, m));
    let scale = (0..m).map(|i| gram[[i, i]]).fold(0.0, f64::max);
    // Pivots below this share of the largest diagonal entry are dependent columns.
    let pivot_floor = 1e-12 * scale.max(f64::MIN_POSITIVE);
    let gradient_floor = 1e-13 * (q.iter().map(|v| v.abs()).fold(0.0, f64::max) + scale);
    let mut alpha = vec![0.0; m];
    let mut passive: Vec<usize> = Vec::with_capacity(m);
    let mut factor = Cholesky::with_capacity(m);
    let mut blocked = vec![false; m];
    let mut z = vec![0.0; m];
    for _ in 0..3 * m + 10 {
        // Negative gradient at α; the best held variable to free.
        let mut best: Option<(usize, f64)> = None;
        let mut blocked_ascent = false;
        for j in 0..m {
            if alpha[j] > 0.0 || passive.contains(&j) {
                continue;
            }
            let w = -(q[j] + (0..m).map(|i| gram[[j, i]] * alpha[i]).sum::<f64>());
            if w <= gradient_floor {
                continue;
            }
            if blocked[j] {
                blocked_ascent = true;
            } else if best.is_none_or(|(_, b)| w > b) {
                best = Some((j, w));
            }
        }
        let Some((entering, _)) = best else {
            // Optimal, unless a variable that could not be freed still has w > 0 (a
            // dependent column off the problem's structure): then the method cannot decide.
            return (!blocked_ascent).then_some(alpha);
        };
        if !factor.push(gram, &passive, entering, pivot_floor) {
            blocked[entering] = true;
            continue;
        }
        passive.push(entering);
        blocked.iter_mut().for_each(|b| *b = false);
        // Inner loop: keep α feasible while moving towards the solution on P.
        let mut first = true;
        loop {
            factor.solve(q, &passive, &mut z);
            let mut step = 1.0;
            let mut leaving = None;
            for (position, &i) in passive.iter().enumerate() {
                if z[i] <= 0.0 {
                    let ratio = alpha[i] / (alpha[i] - z[i]);
                    if ratio < step {
                        step = ratio;
                        leaving = Some(position);
                    }
                }
            }
            for &i in &passive {
                alpha[i] += step * (z[i] - alpha[i]);
            }
            let Some(position) = leaving else {
                break;
            };
            if first && step == 0.0 && passive[position] == entering {
                // Rounding made the freed variable's solution ≤ 0 at once: hold it.
                passive.pop();
                factor.size -= 1;
                blocked[entering] = true;
                break;
            }
            first = false;
            alpha[passive[position]] = 0.0;
            // Every other variable that reached 0 leaves too.
            passive.retain(|&i| alpha[i] > 0.0);
            if !factor.rebuild(gram, &passive, pivot_floor) {
                return None;
            }
            if passive.is_empty() {
                break;
            }
        }
    }
    None
}

/// Lower-triangular Cholesky factor L of G_PP (row-major, `capacity` × `capacity`, the
/// leading |P| × |P| block in use).
struct Cholesky {
    capacity: usize,
    size: usize,
    l: Vec<f64>,
}

impl Cholesky {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity,
            size: 0,
            l: vec![0.0; capacity * capacity],
        }
    }

    /// Appends variable `j` to the factor of G over `passive`; false (factor unchanged) when
    /// its pivot falls below `floor`.
    fn push(&mut self, gram: &Array2<f64>, passive: &[usize], j: usize, floor: f64) -> bool {
        let (n, c) = (self.size, self.capacity);
        // Row n of L: forward substitution L l = G_P,j.
        for (k, &pk) in passive.iter().enumerate().take(n) {
            let mut v = gram[[pk, j]];
            for s in 0..k {
                v -= self.l[k * c + s] * self.l[n * c + s];
            }
            self.l[n * c + k] = v / self.l[k * c + k];
        }
        let squared: f64 = (0..n).map(|s| self.l[n * c + s].powi(2)).sum();
        let pivot = gram[[j, j]] - squared;
        if pivot <= floor {
            return false;
        }
        self.l[n * c + n] = pivot.sqrt();
        self.size = n + 1;
        true
    }

    /// Refactors G over `passive` from scratch; false when a pivot falls below `floor`.
    fn rebuild(&mut self, gram: &Array2<f64>, passive: &[usize], floor: f64) -> bool {
        self.size = 0;
        for (k, &j) in passive.iter().enumerate() {
            if !self.push(gram, &passive[..k], j, floor) {
                return false;
            }
        }
        true
    }

    /// z_P = −G_PP⁻¹ q_P (entries outside P untouched).
    fn solve(&self, q: &[f64], passive: &[usize], z: &mut [f64]) {
        let (n, c) = (self.size, self.capacity);
        let mut y = vec![0.0; n];
        for k in 0..n {
            let row = &self.l[k * c..k * c + k];
            let v = -q[passive[k]] - row.iter().zip(&y[..k]).map(|(l, y)| l * y).sum::<f64>();
            y[k] = v / self.l[k * c + k];
        }
        for k in (0..n).rev() {
            let later: f64 = (k + 1..n).map(|s| self.l[s * c + k] * y[s]).sum();
            y[k] = (y[k] - later) / self.l[k * c + k];
        }
        for (k, &i) in passive.iter().enumerate() {
            z[i] = y[k];
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    use super::solve_nonnegative_qp;

    /// Largest violation of the KKT conditions: α ≥ 0, w = −(Gα + q) ≤ 0, and w = 0 where
    /// α > 0, relative to the problem's scale.
    fn kkt_violation(gram: &Array2<f64>, q: &[f64], alpha: &[f64]) -> f64 {
        let m = q.len();
        let scale = 1.0 + q.iter().map(|v| v.abs()).fold(0.0, f64::max);
        (0..m)
            .map(|j| {
                let w = -(q[j] + (0..m).map(|i| gram[[j, i]] * alpha[i]).sum::<f64>());
                let stationarity = if alpha[j] > 0.0 { w.abs() } else { w.max(0.0) };
                stationarity.max((-alpha[j]).max(0.0)) / scale
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn solutions_satisfy_the_kkt_conditions_full_rank_and_rank_deficient() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        // (variables, rank of G): full rank, and more variables than dimensions (the MFTMA
        // case of more points than features).
        for (m, rank) in [(8, 8), (50, 51), (50, 12), (30, 3)] {
            for _ in 0..40 {
                // Points with a last coordinate of 1, as MFTMA's s̃ⱼ = (sⱼ, 1): the QP is then
                // bounded below even when G is singular.
                let s = Array2::from_shape_fn((m, rank), |(_, k)| {
                    if k + 1 == rank {
                        1.0
                    } else {
                        rng.sample::<f64, _>(StandardNormal)
                    }
                });
                let gram = s.dot(&s.t());
                let t: Vec<f64> = (0..rank).map(|_| rng.sample(StandardNormal)).collect();
                let q: Vec<f64> = (0..m)
                    .map(|j| -(0..rank).map(|k| s[[j, k]] * t[k]).sum::<f64>() - 0.3)
                    .collect();
                let alpha = solve_nonnegative_qp(&gram, &q).expect("converges");
                let violation = kkt_violation(&gram, &q, &alpha);
                assert!(
                    violation < 1e-9,
                    "m {m} rank {rank}: KKT violation {violation}"
                );
            }
        }
    }

    #[test]
    fn known_solutions() {
        // Unconstrained minimum inside the orthant: α = −G⁻¹q.
        let gram = Array2::from_shape_vec((2, 2), vec![2.0, 0.5, 0.5, 1.0]).unwrap();
        let alpha = solve_nonnegative_qp(&gram, &[-2.5, -1.5]).unwrap();
        assert!((alpha[0] - 1.0).abs() < 1e-12 && (alpha[1] - 1.0).abs() < 1e-12);
        // Minimum outside: the second variable is held at 0, the first solves 2α = 1.
        let alpha = solve_nonnegative_qp(&gram, &[-1.0, 3.0]).unwrap();
        assert!((alpha[0] - 0.5).abs() < 1e-12 && alpha[1] == 0.0);
        // Every gradient positive at 0: α = 0.
        assert_eq!(
            solve_nonnegative_qp(&gram, &[1.0, 1.0]).unwrap(),
            vec![0.0, 0.0]
        );
    }
}
