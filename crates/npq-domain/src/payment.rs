//! Money on statements. Every amount is a whole number of pence in an `i64`, and no floating point
//! is used.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, Neg, Sub};

/// An amount of money in pence, positive or negative. Arithmetic overflows like `i64`, which
/// needs amounts beyond £92 million million.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Pence(pub i64);

impl Pence {
    /// No money.
    pub const ZERO: Self = Self(0);

    /// Returns whether the amount is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Pence {
    /// Formats as pounds and pence, such as `£1212.63` or `-£50.00`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        write!(formatter, "{sign}£{}.{:02}", magnitude / 100, magnitude % 100)
    }
}

impl Add for Pence {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self(self.0 + other.0)
    }
}

impl Sub for Pence {
    type Output = Self;

    fn sub(self, other: Self) -> Self {
        Self(self.0 - other.0)
    }
}

impl Neg for Pence {
    type Output = Self;

    fn neg(self) -> Self {
        Self(-self.0)
    }
}

impl Sum for Pence {
    fn sum<I: Iterator<Item = Self>>(amounts: I) -> Self {
        amounts.fold(Self::ZERO, Add::add)
    }
}
