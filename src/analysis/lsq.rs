//! Least-squares arithmetic the fitters share: the normal equations of a Jacobian held as
//! columns, and a small dense solve.

/// Σ a·b in f64, over f32 data: eight f32 lanes per block of [`BLOCK`] (vectorised), the
/// blocks summed in f64 (f32 alone would lose digits over a million samples).
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    const BLOCK: usize = 1024;
    let mut total = 0.0f64;
    for (a, b) in a.chunks(BLOCK).zip(b.chunks(BLOCK)) {
        let mut lanes = [0.0f32; 8];
        let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
        let tail: f32 = a8
            .remainder()
            .iter()
            .zip(b8.remainder())
            .map(|(x, y)| x * y)
            .sum();
        for (x, y) in a8.zip(b8) {
            for k in 0..8 {
                lanes[k] += x[k] * y[k];
            }
        }
        total += lanes.iter().map(|&v| v as f64).sum::<f64>() + tail as f64;
    }
    total
}

/// `JᵀJ` (m×m, row-major) and `Jᵀr` for the Jacobian's `columns` and the residual `r`; the
/// rows are shared between two cores.
pub fn normal_equations(columns: &[Vec<f32>], r: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let m = columns.len();
    let row = |i: usize| -> Vec<f64> {
        let mut out: Vec<f64> = (i..m).map(|j| dot(&columns[i], &columns[j])).collect();
        out.push(dot(&columns[i], r));
        out
    };
    // Row i holds m − i products: alternate rows balance the two cores.
    let rows: Vec<(usize, Vec<f64>)> = std::thread::scope(|scope| {
        let odd = scope.spawn(|| (1..m).step_by(2).map(|i| (i, row(i))).collect::<Vec<_>>());
        let mut rows: Vec<_> = (0..m).step_by(2).map(|i| (i, row(i))).collect();
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
}
