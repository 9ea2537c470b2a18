//! Small statistics on vectors: ranks, Pearson, Kendall's tau-a, median, mean and SEM.

use ndarray::ArrayView1;

/// Pearson correlation; `None` when either vector is constant (the correlation is undefined).
pub fn pearson(a: ArrayView1<f64>, b: ArrayView1<f64>) -> Option<f64> {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len() as f64;
    // Both vectors scaled by powers of two first (exact, and r ignores scale), so that their
    // sums and products can neither overflow nor underflow.
    let fa = crate::checks::power_of_two(-crate::checks::magnitude_exponent(a.iter()));
    let fb = crate::checks::power_of_two(-crate::checks::magnitude_exponent(b.iter()));
    let mean_a = a.iter().map(|&x| x * fa).sum::<f64>() / n;
    let mean_b = b.iter().map(|&y| y * fb).sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b.iter()) {
        let (dx, dy) = (x * fa - mean_a, y * fb - mean_b);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    let denom = (saa * sbb).sqrt();
    (denom > 0.0).then(|| (sab / denom).clamp(-1.0, 1.0))
}

/// Cosine similarity of two vectors (no centering); `None` when either is all zeros.
pub fn cosine(a: ArrayView1<f64>, b: ArrayView1<f64>) -> Option<f64> {
    let denom = (a.dot(&a) * b.dot(&b)).sqrt();
    (denom > 0.0).then(|| a.dot(&b) / denom)
}

/// Ranks starting at 1, ties given their average rank (`scipy.stats.rankdata(method="average")`).
pub fn rank_average(values: ArrayView1<f64>) -> Vec<f64> {
    TiedOrder::of(values).ranks()
}

/// A vector's entries in ascending order, cut into runs of equal values: the one sort behind
/// average ranks, plain ([`rank_average`]) or with entries counted several times (the RSA
/// bootstrap's resamples).
pub(crate) struct TiedOrder {
    order: Vec<usize>,
    run_ends: Vec<usize>,
}

impl TiedOrder {
    pub(crate) fn of(values: ArrayView1<f64>) -> TiedOrder {
        // Sorting (key, position) pairs, with the key an integer in f64's total order, keeps
        // the sort on contiguous memory (an index sort that compares values[i] with values[j]
        // misses the cache at every comparison on an RDM's millions of entries).
        let mut keyed: Vec<(u64, usize)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (total_order_key(*v), i))
            .collect();
        keyed.sort_unstable();
        let run_ends = (1..=keyed.len())
            .filter(|&p| p == keyed.len() || keyed[p].0 != keyed[p - 1].0)
            .collect();
        TiedOrder {
            order: keyed.into_iter().map(|(_, i)| i).collect(),
            run_ends,
        }
    }

    /// The average rank (from 1) of each entry.
    pub(crate) fn ranks(&self) -> Vec<f64> {
        let mut ranks = vec![0.0; self.order.len()];
        let mut start = 0;
        for &end in &self.run_ends {
            // Positions start..end (0-based) share the mean of ranks start+1..=end.
            let rank = (start + end + 1) as f64 / 2.0;
            for &k in &self.order[start..end] {
                ranks[k] = rank;
            }
            start = end;
        }
        ranks
    }

    /// The average rank (from 1) of each entry when entry k appears `weights[k]` times: a run
    /// of equal values holding `total` copies above `below` copies ranks `below + (total+1)/2`.
    pub(crate) fn weighted_ranks(&self, weights: &[f64]) -> Vec<f64> {
        let mut ranks = vec![0.0; weights.len()];
        let (mut below, mut start) = (0.0, 0);
        for &end in &self.run_ends {
            let run = &self.order[start..end];
            let total: f64 = run.iter().map(|&k| weights[k]).sum();
            let rank = below + (total + 1.0) / 2.0;
            for &k in run {
                ranks[k] = rank;
            }
            below += total;
            start = end;
        }
        ranks
    }
}

/// An integer whose order is f64's total order (`f64::total_cmp`), except that −0 and +0 share
/// a key, as they compare equal.
fn total_order_key(v: f64) -> u64 {
    let bits = (v + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// Kendall's tau-a: (concordant - discordant) / (n (n - 1) / 2); tied pairs count as neither.
///
/// Knight's O(n log n) algorithm: sort by (a, b), count discordant pairs as the inversions of b
/// by merge sort, and correct the pair count for ties in a, in b and in both.
pub fn kendall_tau_a(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    let n = a.len();
    debug_assert_eq!(n, b.len());
    let total_pairs = n as f64 * (n as f64 - 1.0) / 2.0;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&i, &j| a[i].total_cmp(&a[j]).then(b[i].total_cmp(&b[j])));

    let tied_a = tied_pairs(&order, |i, j| a[i] == a[j]);
    let tied_both = tied_pairs(&order, |i, j| a[i] == a[j] && b[i] == b[j]);
    let mut b_sorted_by_a: Vec<f64> = order.iter().map(|&i| b[i]).collect();
    let discordant = count_inversions(&mut b_sorted_by_a);
    // b_sorted_by_a is now sorted: its runs are the ties in b.
    let idx: Vec<usize> = (0..n).collect();
    let tied_b = tied_pairs(&idx, |i, j| b_sorted_by_a[i] == b_sorted_by_a[j]);

    let concordant_minus_discordant =
        total_pairs - tied_a - tied_b + tied_both - 2.0 * discordant as f64;
    concordant_minus_discordant / total_pairs
}

/// Number of pairs within runs of consecutive equal elements of a sorted sequence.
fn tied_pairs(sorted: &[usize], equal: impl Fn(usize, usize) -> bool) -> f64 {
    let mut pairs = 0.0;
    let mut run = 1u64;
    for w in sorted.windows(2) {
        if equal(w[0], w[1]) {
            run += 1;
        } else {
            pairs += (run * (run - 1) / 2) as f64;
            run = 1;
        }
    }
    pairs + (run * (run.saturating_sub(1)) / 2) as f64
}

/// Sorts `v` ascending and returns the number of pairs i < j with v[i] > v[j].
fn count_inversions(v: &mut [f64]) -> u64 {
    let mut buffer = v.to_vec();
    merge_count(v, &mut buffer)
}

fn merge_count(v: &mut [f64], buffer: &mut [f64]) -> u64 {
    let n = v.len();
    if n < 2 {
        return 0;
    }
    let mid = n / 2;
    let mut count = {
        let (left, right) = v.split_at_mut(mid);
        let (bl, br) = buffer.split_at_mut(mid);
        merge_count(left, bl) + merge_count(right, br)
    };
    let (mut i, mut j, mut k) = (0, mid, 0);
    while i < mid && j < n {
        if v[j] < v[i] {
            buffer[k] = v[j];
            count += (mid - i) as u64;
            j += 1;
        } else {
            buffer[k] = v[i];
            i += 1;
        }
        k += 1;
    }
    buffer[k..k + mid - i].copy_from_slice(&v[i..mid]);
    k += mid - i;
    buffer[k..k + n - j].copy_from_slice(&v[j..n]);
    v.copy_from_slice(&buffer[..n]);
    count
}

/// Median of finite values (mean of the two middle ones for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Mean and standard error of the mean (sample standard deviation, ddof = 1, over sqrt(n)).
/// The SEM is 0 for a single value.
pub fn mean_and_sem(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// Percentile by linear interpolation between order statistics (numpy's default method).
pub fn percentile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_unstable_by(f64::total_cmp);
    let pos = q / 100.0 * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn ranks_average_ties_like_scipy() {
        // scipy.stats.rankdata([3, 1, 4, 1, 5]) == [3, 1.5, 4, 1.5, 5]
        assert_eq!(
            rank_average(array![3.0, 1.0, 4.0, 1.0, 5.0].view()),
            vec![3.0, 1.5, 4.0, 1.5, 5.0]
        );
        // −0 and +0 are equal, so tied; negative values below both.
        // scipy.stats.rankdata([3, -0.0, 0.0, 1, 3, -2, -1e-300]) == [6.5, 3.5, 3.5, 5, 6.5, 1, 2]
        assert_eq!(
            rank_average(array![3.0, -0.0, 0.0, 1.0, 3.0, -2.0, -1e-300].view()),
            vec![6.5, 3.5, 3.5, 5.0, 6.5, 1.0, 2.0]
        );
    }

    #[test]
    fn tau_a_matches_brute_force_with_ties() {
        let a: ndarray::Array1<f64> = array![1.0, 2.0, 2.0, 3.0, 5.0, 5.0, 0.0, 4.0];
        let b: ndarray::Array1<f64> = array![2.0, 1.0, 1.0, 3.0, 3.0, 6.0, 0.0, 2.0];
        let n = a.len();
        let mut s = 0.0f64;
        for i in 0..n {
            for j in i + 1..n {
                s += ((a[i] - a[j]) * (b[i] - b[j])).signum()
                    * f64::from((a[i] != a[j] && b[i] != b[j]) as u8);
            }
        }
        let brute = s / (n * (n - 1) / 2) as f64;
        assert!((kendall_tau_a(a.view(), b.view()) - brute).abs() < 1e-15);
    }

    #[test]
    fn pearson_of_constant_is_undefined() {
        assert_eq!(
            pearson(array![1.0, 1.0, 1.0].view(), array![1.0, 2.0, 3.0].view()),
            None
        );
    }

    #[test]
    fn median_and_sem() {
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), Some(2.5));
        let (m, s) = mean_and_sem(&[1.0, 2.0, 3.0]);
        assert_eq!(m, 2.0);
        assert!((s - (1.0f64 / 3.0).sqrt()).abs() < 1e-15);
    }
}
