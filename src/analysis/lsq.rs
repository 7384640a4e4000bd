//! Least-squares arithmetic the fitters share: the normal equations of a Jacobian held as
//! columns, and a small dense solve.

/// Samples per block of [`dot`]: summed in f32 lanes within a block, in f64 across blocks.
const BLOCK: usize = 1024;

/// Σ a·b in f64, over f32 data: eight f32 lanes per block of [`BLOCK`] (vectorised), the
/// blocks summed in f64 (f32 alone would lose digits over a million samples).
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.chunks(BLOCK)
        .zip(b.chunks(BLOCK))
        .fold(0.0, |total, (a, b)| total + block_dot(a, b))
}

/// One block's Σ a·b: eight f32 lanes, then their sum and the tail's in f64.
#[inline]
fn block_dot(a: &[f32], b: &[f32]) -> f64 {
    block_dots(a, [b])[0]
}

/// [`block_dot`] of `a` with each of `others` (as long as `a`), each to the bit, side by side:
/// one product's lanes are a chain of adds, several products' chains overlap.
#[inline(always)]
fn block_dots<const N: usize>(a: &[f32], others: [&[f32]; N]) -> [f64; N] {
    let whole = a.len() / 8 * 8;
    let others: [&[f32]; N] = others.map(|b| &b[..a.len()]);
    let lanes = lanes_of_dots(&a[..whole], others.map(|b| &b[..whole]));
    std::array::from_fn(|n| {
        let tail: f32 = a[whole..]
            .iter()
            .zip(&others[n][whole..])
            .map(|(x, y)| x * y)
            .sum();
        lanes[n].iter().map(|&v| v as f64).sum::<f64>() + tail as f64
    })
}

/// The eight f32 lanes of each of [`block_dots`]' products over `a` (a multiple of eight
/// long): lane k sums `a[i]·b[i]` for i ≡ k (mod 8), in order. On x86-64 each product's
/// lanes are two SSE registers, written out: left to itself the compiler spreads the
/// products across registers instead and shuffles every sample.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn lanes_of_dots<const N: usize>(a: &[f32], others: [&[f32]; N]) -> [[f32; 8]; N] {
    use std::arch::x86_64::{
        __m128, _mm_add_ps, _mm_loadu_ps, _mm_mul_ps, _mm_setzero_ps, _mm_storeu_ps,
    };
    // SAFETY: SSE is part of x86-64; every load reads eight floats at i < a.len() − 7 of
    // slices at least as long as `a`.
    unsafe {
        let mut sums: [[__m128; 2]; N] = [[_mm_setzero_ps(); 2]; N];
        for i in (0..a.len() / 8 * 8).step_by(8) {
            let x = [
                _mm_loadu_ps(a.as_ptr().add(i)),
                _mm_loadu_ps(a.as_ptr().add(i + 4)),
            ];
            for (sum, b) in sums.iter_mut().zip(&others) {
                for h in 0..2 {
                    let y = _mm_loadu_ps(b.as_ptr().add(i + 4 * h));
                    sum[h] = _mm_add_ps(sum[h], _mm_mul_ps(x[h], y));
                }
            }
        }
        sums.map(|[low, high]| {
            let mut lanes = [0.0f32; 8];
            _mm_storeu_ps(lanes.as_mut_ptr(), low);
            _mm_storeu_ps(lanes.as_mut_ptr().add(4), high);
            lanes
        })
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn lanes_of_dots<const N: usize>(a: &[f32], others: [&[f32]; N]) -> [[f32; 8]; N] {
    others.map(|b| {
        let mut lanes = [0.0f32; 8];
        for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
            for k in 0..8 {
                lanes[k] += x[k] * y[k];
            }
        }
        lanes
    })
}

/// `JᵀJ` (m×m, row-major) and `Jᵀr` for the Jacobian's `columns` and the residual `r` (all
/// as long as `r`); the rows are shared between two cores. Each product is [`dot`]'s, to the
/// bit, but all of a core's products advance together block by block: every column is read
/// from memory once per core instead of once per product (the polish's columns are
/// megabytes each, more than the caches hold).
pub fn normal_equations(columns: &[Vec<f32>], r: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let m = columns.len();
    debug_assert!(columns.iter().all(|c| c.len() == r.len()));
    // Row i: the products of column i with columns i…m−1, then with r. Alternate rows
    // balance the two cores (row i holds m − i + 1 products).
    let rows_from = |first: usize| -> Vec<(usize, Vec<f64>)> {
        let mut rows: Vec<(usize, Vec<f64>)> = (first..m)
            .step_by(2)
            .map(|i| (i, vec![0.0; m - i + 1]))
            .collect();
        for start in (0..r.len()).step_by(BLOCK) {
            let end = (start + BLOCK).min(r.len());
            let block = |j: usize| match columns.get(j) {
                Some(column) => &column[start..end],
                None => &r[start..end],
            };
            for (i, sums) in &mut rows {
                let own = block(*i);
                let mut fours = sums.chunks_exact_mut(4);
                let mut j = *i;
                for four in &mut fours {
                    let others = [block(j), block(j + 1), block(j + 2), block(j + 3)];
                    for (sum, d) in four.iter_mut().zip(block_dots(own, others)) {
                        *sum += d;
                    }
                    j += 4;
                }
                for sum in fours.into_remainder() {
                    *sum += block_dot(own, block(j));
                    j += 1;
                }
            }
        }
        rows
    };
    let rows = std::thread::scope(|scope| {
        let odd = scope.spawn(|| rows_from(1));
        let mut rows = rows_from(0);
        rows.extend(odd.join().expect("arithmetic does not panic"));
        rows
    });
    let mut normal = vec![0.0; m * m];
    let mut gradient = vec![0.0; m];
    for (i, values) in rows {
        for (k, &v) in values[..m - i].iter().enumerate() {
            normal[i * m + i + k] = v;
            normal[(i + k) * m + i] = v;
        }
        gradient[i] = values[m - i];
    }
    (normal, gradient)
}

/// Solve `a·x = b` (a is m×m, row-major) by Gaussian elimination with partial pivoting.
pub fn solve(a: &mut [f64], mut b: Vec<f64>, m: usize) -> Option<Vec<f64>> {
    for col in 0..m {
        let pivot =
            (col..m).max_by(|&i, &j| a[i * m + col].abs().total_cmp(&a[j * m + col].abs()))?;
        if a[pivot * m + col].abs() < 1e-15 {
            return None;
        }
        if pivot != col {
            for k in 0..m {
                a.swap(pivot * m + k, col * m + k);
            }
            b.swap(pivot, col);
        }
        for row in col + 1..m {
            let factor = a[row * m + col] / a[col * m + col];
            for k in col..m {
                a[row * m + k] -= factor * a[col * m + k];
            }
            b[row] -= factor * b[col];
        }
    }
    let mut x = vec![0.0; m];
    for row in (0..m).rev() {
        let s: f64 = (row + 1..m).map(|k| a[row * m + k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row * m + row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_equations_solve_a_small_least_squares_problem() {
        // r(x) = J·x − y with J's columns (1, 1, 1) and (0, 1, 2), y = (1, 3, 5): x = (1, 2).
        let columns = vec![vec![1.0f32, 1.0, 1.0], vec![0.0, 1.0, 2.0]];
        let y = [1.0f32, 3.0, 5.0];
        let r: Vec<f32> = y.iter().map(|v| -v).collect();
        let (mut normal, gradient) = normal_equations(&columns, &r);
        assert_eq!(normal, vec![3.0, 3.0, 3.0, 5.0]);
        let x = solve(&mut normal, gradient.iter().map(|g| -g).collect(), 2).unwrap();
        assert!(
            (x[0] - 1.0).abs() < 1e-12 && (x[1] - 2.0).abs() < 1e-12,
            "{x:?}"
        );
        let long: Vec<f32> = (0..10_001).map(|n| (n % 7) as f32 - 3.0).collect();
        let exact: f64 = long.iter().map(|&v| v as f64 * v as f64).sum();
        assert_eq!(dot(&long, &long), exact);
    }

    /// `dot` as its doc defines it, written plainly: eight f32 lanes per block in order, the
    /// blocks' lane sums and tails added in f64.
    fn defined_dot(a: &[f32], b: &[f32]) -> f64 {
        let mut total = 0.0f64;
        for (a, b) in a.chunks(1024).zip(b.chunks(1024)) {
            let whole = a.len() / 8 * 8;
            let mut lanes = [0.0f32; 8];
            for i in 0..whole {
                lanes[i % 8] += a[i] * b[i];
            }
            let tail: f32 = a[whole..].iter().zip(&b[whole..]).map(|(x, y)| x * y).sum();
            total += lanes.iter().map(|&v| v as f64).sum::<f64>() + tail as f64;
        }
        total
    }

    /// Every entry of the normal equations (seven columns: groups of four products and the
    /// rest; a length that ends in a short block and a short tail) is the plain product, to
    /// the bit, and so is `dot`.
    #[test]
    fn the_blocked_normal_equations_are_the_plain_products() {
        let len = 3 * 1024 + 517;
        let columns: Vec<Vec<f32>> = (0..7)
            .map(|k| crate::analysis::test_noise(len, 11 + k))
            .collect();
        let r = crate::analysis::test_noise(len, 3);
        let (normal, gradient) = normal_equations(&columns, &r);
        let m = columns.len();
        for i in 0..m {
            for j in 0..m {
                let plain = defined_dot(&columns[i], &columns[j]);
                assert_eq!(normal[i * m + j].to_bits(), plain.to_bits(), "({i}, {j})");
            }
            let plain = defined_dot(&columns[i], &r);
            assert_eq!(gradient[i].to_bits(), plain.to_bits(), "gradient {i}");
            assert_eq!(dot(&columns[i], &r).to_bits(), plain.to_bits());
        }
        // Noise against itself: about len/3 (uniform in ±1).
        assert!(
            (normal[0] / len as f64 - 1.0 / 3.0).abs() < 0.02,
            "{}",
            normal[0]
        );
    }
}
