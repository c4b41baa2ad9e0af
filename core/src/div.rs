//! Division of a `u64` by a small divisor without a 64-bit division routine.
//!
//! A Cortex-M0 has no divider at all: every `u64` `/` or `%` links
//! `__aeabi_uldivmod` and its helpers (~1.3 KB). Targets with a 64-bit
//! divider divide; the others divide bit by bit over the significant bits of
//! the dividend, a few dozen shifts and subtractions.

/// `(n / den, n % den)` for `1 <= den < 2^31`.
#[inline]
pub(crate) const fn div_rem(n: u64, den: u64) -> (u64, u64) {
    #[cfg(target_pointer_width = "64")]
    {
        (n / den, n % den)
    }
    #[cfg(not(target_pointer_width = "64"))]
    {
        div_rem_by_bits(n, den)
    }
}

/// `n % den` for any `den`, `n` itself for `den = 0` (never a panic), without
/// a 64-bit division routine on targets that have none.
#[inline]
pub(crate) const fn rem(n: u64, den: u64) -> u64 {
    #[cfg(target_pointer_width = "64")]
    {
        match n.checked_rem(den) {
            Some(r) => r,
            None => n,
        }
    }
    #[cfg(not(target_pointer_width = "64"))]
    {
        rem_by_bits(n, den)
    }
}

/// Restoring binary remainder of `n` by any `den` (`n` for 0): a bit shifted
/// out of the top means the running remainder is at least `2^64 > den`.
#[cfg_attr(target_pointer_width = "64", allow(dead_code))]
const fn rem_by_bits(n: u64, den: u64) -> u64 {
    if den == 0 {
        return n;
    }
    let mut rem = 0u64;
    let mut bit = 64 - n.leading_zeros();
    while bit > 0 {
        bit -= 1;
        let carry = rem >> 63;
        rem = (rem << 1) | ((n >> bit) & 1);
        if carry == 1 || rem >= den {
            rem = rem.wrapping_sub(den);
        }
    }
    rem
}

/// Restoring binary division of `n` by `1 <= den < 2^31` (the remainder stays
/// below `2·den`, so it fits in 32 bits).
#[cfg_attr(target_pointer_width = "64", allow(dead_code))]
const fn div_rem_by_bits(n: u64, den: u64) -> (u64, u64) {
    let den = den as u32;
    let mut quotient = 0u64;
    let mut rem = 0u32;
    let mut bit = 64 - n.leading_zeros();
    while bit > 0 {
        bit -= 1;
        rem = (rem << 1) | ((n >> bit) & 1) as u32;
        quotient <<= 1;
        if rem >= den {
            rem -= den;
            quotient |= 1;
        }
    }
    (quotient, rem as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Rng, SplitMix64};

    fn check(n: u64, den: u64) {
        assert_eq!(div_rem_by_bits(n, den), (n / den, n % den), "{n} / {den}");
        assert_eq!(div_rem(n, den), (n / den, n % den), "{n} / {den}");
    }

    #[test]
    fn remainder_by_bits_matches_the_divider_for_any_divisor() {
        let mut rng = SplitMix64::new(11);
        let dens = [
            1,
            2,
            3,
            1_000_000,
            (1 << 31) - 1,
            1 << 31,
            3_600_000_000,
            u64::MAX / 3,
        ]
        .into_iter()
        .chain([u64::MAX - 1, u64::MAX, 1 << 63, (1 << 63) + 1]);
        for den in dens {
            for n in [
                0,
                1,
                den - 1,
                den,
                den.wrapping_add(1),
                u64::MAX,
                u64::MAX - 1,
            ]
            .into_iter()
            .chain((0..200).map(|_| rng.next_u64()))
            {
                assert_eq!(rem_by_bits(n, den), n % den, "{n} % {den}");
                assert_eq!(rem(n, den), n % den, "{n} % {den}");
            }
        }
        assert_eq!((rem_by_bits(7, 0), rem(7, 0)), (7, 7));
    }

    #[test]
    fn division_by_bits_matches_the_divider() {
        let mut rng = SplitMix64::new(3);
        let dens = (1..=1_000).chain([1_000_000, (1 << 31) - 1, 999_983]);
        for den in dens {
            for n in [
                0,
                1,
                den - 1,
                den,
                den + 1,
                u64::MAX,
                u64::MAX - 1,
                rng.next_u64(),
            ] {
                check(n, den);
            }
            check(rng.next_u64() >> (rng.next_u64() % 64), den);
        }
    }
}
