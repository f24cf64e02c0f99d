//! The standard normal distribution function Φ for the predictive decision's inner loop and the
//! forecast tables. Owns one table of Φ and nothing else.
//!
//! Why not statrs' `erfc`: the decision evaluates Φ four times per candidate call, about three
//! million times in an 8 h run of large-centre, the table refits another 700,000 times, and a
//! call to statrs' Boost-derived `erfc` (or glibc's) costs more than a fifth of a simulated
//! event. Here Φ is tabulated on `[-8.5, 0]` in
//! steps of 1/64, from statrs' own `erfc`, as one cubic per step (Hermite: value and slope φ
//! match at both ends), and mirrored for z > 0; Φ(z) is then one cubic, with no `exp`. The
//! absolute error is below 1e-10 (8.5e-11 at worst, measured by the test against statrs), and Φ
//! is returned as 0 below −8.5 (Φ(−8.5) < 1e-17) and 1 above 8.5.
//!
//! In the left tail the cubics follow Φ closely in relative terms too: below 1e-6 relative error
//! down to z = −8.4 (7.5e-7 there, 2e-7 at −6, 1e-8 at −3; measured by the tests).
//!
//! Users and why this is enough:
//! - the decision's marginal abandon probability: a candidate call is accepted while the mean of
//!   four Φ values is at most θ ≥ 0.002, and the accepted values are summed as the abandons
//!   bought, so only the absolute error counts;
//! - the lognormal `cdf` behind the forecast tables ([`crate::pacing::dist::Dist::cdf`]): their
//!   conditional probabilities divide by survival probabilities of 1e-4 and more (rows end near
//!   the 99.9 % quantile), so they are off by at most about 1e-6 of their value, far inside the
//!   uncertainty of the fitted parameters. A survival below 1e-17 comes out as 0, which the
//!   tables treat as "certainly ended", as they do for statrs' value.
//!
//! Where a relative error matters further out in the tails, use [`exact`].

use std::sync::OnceLock;

/// Left end of the table.
const LO: f64 = -8.5;
/// Steps per unit of z.
const STEPS: f64 = 64.0;
/// Number of cubic pieces covering [LO, 0].
const PIECES: usize = 544;

/// `[a0, a1, a2, a3]` of `Φ(LO + (i + t)/STEPS) = a0 + t(a1 + t(a2 + t a3))`, `t` ∈ [0, 1].
fn table() -> &'static [[f64; 4]] {
    static TABLE: OnceLock<Vec<[f64; 4]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let node = |i: usize| {
            let z = LO + i as f64 / STEPS;
            let density = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
            // Value and slope per step (d/dt = d/dz / STEPS).
            (exact(z), density / STEPS)
        };
        (0..PIECES)
            .map(|i| {
                let ((p0, d0), (p1, d1)) = (node(i), node(i + 1));
                let dp = p1 - p0;
                [p0, d0, 3.0 * dp - 2.0 * d0 - d1, d0 + d1 - 2.0 * dp]
            })
            .collect()
    })
}

/// Φ(z) from statrs, accurate to a few ulps also in the tails: the reference the table is
/// built from.
pub fn exact(z: f64) -> f64 {
    0.5 * statrs::function::erf::erfc(-z / std::f64::consts::SQRT_2)
}

/// Φ(z) for z ≤ 0 from the table (0 below its left end).
#[inline]
fn left(z: f64) -> f64 {
    let x = (z - LO) * STEPS;
    if x < 0.0 {
        return 0.0;
    }
    // x ∈ [0, PIECES]: the last node (z = 0) belongs to the last piece.
    let i = (x as usize).min(PIECES - 1);
    let t = x - i as f64;
    let [a0, a1, a2, a3] = table()[i];
    a0 + t * (a1 + t * (a2 + t * a3))
}

/// Φ(z), the probability that a standard normal variable is at most `z`, to within 1e-10.
#[inline]
pub fn cdf(z: f64) -> f64 {
    if z <= 0.0 {
        left(z)
    } else if z > 0.0 {
        1.0 - left(-z)
    } else {
        // NaN.
        z
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_1e10_of_statrs_everywhere() {
        let mut worst: f64 = 0.0;
        let mut z = -12.0;
        while z <= 12.0 {
            worst = worst.max((cdf(z) - exact(z)).abs());
            z += 0.000_37;
        }
        assert!(worst < 1e-10, "worst absolute error {worst:e}");
    }

    #[test]
    fn close_in_relative_terms_in_the_left_tail() {
        let mut z: f64 = -8.4;
        while z < 0.0 {
            let rel = (cdf(z) / exact(z) - 1.0).abs();
            // The bound of the module doc, with the measured worst at each depth.
            let bound = if z < -6.0 {
                1e-6
            } else if z < -3.0 {
                2e-7
            } else {
                1e-8
            };
            assert!(rel < bound, "z = {z}: relative error {rel:e}");
            z += 0.000_3;
        }
    }

    #[test]
    fn ends_symmetry_and_order() {
        assert_eq!(cdf(-9.0), 0.0);
        assert_eq!(cdf(9.0), 1.0);
        assert!(cdf(f64::NAN).is_nan());
        assert!((cdf(0.0) - 0.5).abs() < 1e-15);
        assert!((cdf(1.3) + cdf(-1.3) - 1.0).abs() < 1e-15);
        // Never decreasing, across piece boundaries too: a larger queue never looks safer.
        let mut last = 0.0;
        for i in 0..40_000 {
            let p = cdf(-10.0 + i as f64 * 0.000_5);
            assert!(p >= last, "at {}", -10.0 + i as f64 * 0.000_5);
            last = p;
        }
    }
}
