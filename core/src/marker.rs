//! The traits of the zero-sized markers (`breaker::Fixed`, `bulkhead::Fixed`,
//! `backoff::Fixed`, `pipeline::Fixed`) that name a constant by their type
//! parameter.

/// Implements, for the marker `$name<T>`, the traits a derive would give it
/// without asking `T` for any of them (`T` is only a name): every marker of a
/// type is equal to every other, hashes to nothing and prints as `Fixed`.
macro_rules! fixed_marker {
    ($name:ident) => {
        impl<T> Clone for $name<T> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<T> Copy for $name<T> {}
        impl<T> Default for $name<T> {
            fn default() -> Self {
                Self::new()
            }
        }
        impl<T> PartialEq for $name<T> {
            fn eq(&self, _: &Self) -> bool {
                true
            }
        }
        impl<T> Eq for $name<T> {}
        impl<T> core::hash::Hash for $name<T> {
            fn hash<H: core::hash::Hasher>(&self, _: &mut H) {}
        }
        impl<T> core::fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("Fixed")
            }
        }
        #[cfg(feature = "defmt")]
        impl<T> defmt::Format for $name<T> {
            fn format(&self, f: defmt::Formatter<'_>) {
                defmt::write!(f, "Fixed")
            }
        }
    };
}

pub(crate) use fixed_marker;
