//! Fault injection: a pure machine that decides, attempt by attempt, whether
//! to make a healthy dependency look sick (Polly's Simmy, chaos drills).
//!
//! For each attempt, [`Chaos::decide`] reads `now` and two numbers from the
//! injected random source and answers with an [`Injection`]:
//!
//! * **latency**: wait [`Config::delay`] before running the attempt (the
//!   operation then runs as usual);
//! * at most one **fault**, which replaces the operation (it does not run):
//!   [`Fault::Error`] (the attempt fails), [`Fault::Hang`] (the attempt never
//!   completes by itself: only a deadline or cancellation ends it) or
//!   [`Fault::Outcome`] (the attempt ends with the outcome the caller
//!   configured in its adapter, a fake success or a particular error).
//!
//! Rates are in parts per million ([`PER_MILLION`] is every attempt). The
//! latency draw and the fault draw are independent: an attempt can be delayed
//! *and* fail. The three faults share one draw and exclude one another, so
//! their rates add up (at most one million between them) and each is honoured
//! exactly as given: a fault rate of 20 000 and a hang rate of 10 000 fail 2 %
//! and hang 1 % of the attempts, never both.
//!
//! # When it injects
//!
//! * **Never unless enabled.** [`Config::DEFAULT`] is disabled with every rate
//!   at zero, and no default ever enables it: a configuration must say
//!   [`Config::with_enabled`]`(true)`, and a running machine can be switched
//!   off at once with [`Chaos::set_enabled`].
//! * **Inside its window.** With [`Config::with_window`]`(period, active)`
//!   it injects only during the first `active` of every `period`, counted from
//!   [`Config::with_start`] (a drill of 30 s every 5 minutes). Outside the
//!   window, or before the start, it injects nothing.
//! * **Replayable.** An inactive machine (disabled, or outside its window)
//!   draws no random numbers; an active one draws exactly two per attempt,
//!   whatever the rates. So the same seed and the same instants give the same
//!   injections in the core, on Tokio, on Embassy and in the simulator.
//!
//! ```
//! use steadfast::chaos::{Chaos, Config, Fault, PER_MILLION};
//! use steadfast::rng::SplitMix64;
//! use steadfast::time::{Duration, Instant};
//!
//! // Every attempt fails, and every attempt is first delayed by 2 s.
//! let drill = Config::DEFAULT
//!     .with_enabled(true)
//!     .with_fault(PER_MILLION)
//!     .with_latency(PER_MILLION, Duration::from_secs(2));
//! let chaos = Chaos::new(drill)?;
//! let injection = chaos.decide(Instant::ZERO, &mut SplitMix64::new(7));
//! assert_eq!(injection.delay, Some(Duration::from_secs(2)));
//! assert_eq!(injection.fault, Some(Fault::Error));
//!
//! // The default injects nothing, ever.
//! let off = Chaos::new(Config::DEFAULT)?;
//! assert!(off.decide(Instant::ZERO, &mut SplitMix64::new(7)).is_none());
//! # Ok::<(), steadfast::error::ConfigError>(())
//! ```

use core::fmt;

use crate::error::ConfigError;
use crate::rng::Rng;
use crate::time::{Duration, Instant};

/// A rate of one million parts per million: every attempt.
pub const PER_MILLION: u32 = 1_000_000;

/// When injection is active: the first `active` of every `period` since `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Window {
    period: Duration,
    active: Duration,
}

/// The settings of a [`Chaos`] machine. Disabled, with nothing to inject,
/// unless a builder says otherwise.
///
/// ```
/// use steadfast::chaos::Config;
/// use steadfast::time::Duration;
///
/// // 1 % of attempts fail, 0.5 % hang, 10 % wait 300 ms first, during the
/// // first minute of every ten.
/// const DRILL: Config = Config::DEFAULT
///     .with_enabled(true)
///     .with_fault(10_000)
///     .with_hang(5_000)
///     .with_latency(100_000, Duration::from_millis(300))
///     .with_window(Duration::from_secs(600), Duration::from_secs(60));
/// assert!(DRILL.validate().is_ok());
/// assert_eq!(DRILL.fault(), 10_000);
/// assert_eq!(DRILL.delay(), Duration::from_millis(300));
/// assert!(!Config::DEFAULT.enabled());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    enabled: bool,
    fault: u32,
    hang: u32,
    outcome: u32,
    latency: u32,
    delay: Duration,
    start: Duration,
    window: Option<Window>,
}

impl Config {
    /// Disabled; every rate zero; no window (always active once enabled).
    pub const DEFAULT: Self = Self {
        enabled: false,
        fault: 0,
        hang: 0,
        outcome: 0,
        latency: 0,
        delay: Duration::ZERO,
        start: Duration::ZERO,
        window: None,
    };

    /// The defaults; start of a `const` builder chain (same as [`Config::DEFAULT`]).
    ///
    /// ```
    /// # use steadfast::chaos::Config;
    /// assert_eq!(Config::new(), Config::DEFAULT);
    /// ```
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// Whether anything is injected at all.
    #[must_use]
    pub const fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Attempts that fail without running, in parts per million.
    #[must_use]
    pub const fn with_fault(mut self, per_million: u32) -> Self {
        self.fault = per_million;
        self
    }

    /// Attempts that never complete by themselves, in parts per million.
    #[must_use]
    pub const fn with_hang(mut self, per_million: u32) -> Self {
        self.hang = per_million;
        self
    }

    /// Attempts whose result is replaced by the configured outcome without
    /// running, in parts per million.
    #[must_use]
    pub const fn with_outcome(mut self, per_million: u32) -> Self {
        self.outcome = per_million;
        self
    }

    /// Attempts delayed by `delay` before they run, in parts per million.
    #[must_use]
    pub const fn with_latency(mut self, per_million: u32, delay: Duration) -> Self {
        self.latency = per_million;
        self.delay = delay;
        self
    }

    /// Injects only during the first `active` of every `period` (counted from
    /// [`Config::with_start`]).
    #[must_use]
    pub const fn with_window(mut self, period: Duration, active: Duration) -> Self {
        self.window = Some(Window { period, active });
        self
    }

    /// Injects nothing before this long after the clock's zero; windows are
    /// counted from here.
    #[must_use]
    pub const fn with_start(mut self, start: Duration) -> Self {
        self.start = start;
        self
    }

    /// Whether anything is injected at all.
    pub const fn enabled(&self) -> bool {
        self.enabled
    }

    /// Failing attempts, parts per million.
    pub const fn fault(&self) -> u32 {
        self.fault
    }

    /// Hanging attempts, parts per million.
    pub const fn hang(&self) -> u32 {
        self.hang
    }

    /// Replaced outcomes, parts per million.
    pub const fn outcome(&self) -> u32 {
        self.outcome
    }

    /// Delayed attempts, parts per million.
    pub const fn latency(&self) -> u32 {
        self.latency
    }

    /// How long a delayed attempt waits.
    pub const fn delay(&self) -> Duration {
        self.delay
    }

    /// When injection may begin, from the clock's zero.
    pub const fn start(&self) -> Duration {
        self.start
    }

    /// The window's period and active part, if injection is windowed.
    pub const fn window(&self) -> Option<(Duration, Duration)> {
        match self.window {
            Some(w) => Some((w.period, w.active)),
            None => None,
        }
    }

    /// Checks the settings: every rate at most one million; the three faults
    /// together at most one million; a delay when attempts are delayed; a
    /// window with a period and an active part no longer than it.
    ///
    /// ```
    /// use steadfast::chaos::{Config, PER_MILLION};
    /// use steadfast::time::Duration;
    ///
    /// let c = Config::DEFAULT.with_fault(PER_MILLION + 1);
    /// assert_eq!(c.validate().unwrap_err().field, "fault");
    /// let c = Config::DEFAULT.with_fault(600_000).with_hang(500_000);
    /// assert_eq!(c.validate().unwrap_err().field, "hang");
    /// let c = Config::DEFAULT.with_latency(1, Duration::ZERO);
    /// assert_eq!(c.validate().unwrap_err().field, "delay");
    /// let c = Config::DEFAULT.with_window(Duration::from_secs(1), Duration::from_secs(2));
    /// assert_eq!(c.validate().unwrap_err().field, "window");
    /// ```
    pub const fn validate(&self) -> Result<(), ConfigError> {
        const RATE: &str = "must be a rate in parts per million, from 0 to 1000000";
        if self.fault > PER_MILLION {
            return Err(ConfigError::new("fault", RATE));
        }
        if self.hang > PER_MILLION {
            return Err(ConfigError::new("hang", RATE));
        }
        if self.outcome > PER_MILLION {
            return Err(ConfigError::new("outcome", RATE));
        }
        if self.latency > PER_MILLION {
            return Err(ConfigError::new("latency", RATE));
        }
        if self.fault + self.hang > PER_MILLION {
            return Err(ConfigError::new(
                "hang",
                "together with `fault` must be at most 1000000 parts per million",
            ));
        }
        if self.fault + self.hang + self.outcome > PER_MILLION {
            return Err(ConfigError::new(
                "outcome",
                "together with `fault` and `hang` must be at most 1000000 parts per million",
            ));
        }
        if self.latency > 0 && self.delay.is_zero() {
            return Err(ConfigError::new(
                "delay",
                "must be longer than zero when attempts are delayed",
            ));
        }
        if let Some(w) = self.window {
            if w.period.is_zero() {
                return Err(ConfigError::new(
                    "window",
                    "needs a period longer than zero",
                ));
            }
            if w.active.is_zero() || w.active.as_micros() > w.period.as_micros() {
                return Err(ConfigError::new(
                    "window",
                    "must be active for longer than zero and at most its whole period",
                ));
            }
        }
        Ok(())
    }
}

impl Default for Config {
    /// [`Config::DEFAULT`]: disabled.
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A fault that replaces an attempt: the operation does not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Fault {
    /// The attempt fails, as if the dependency had answered with an error.
    Error,
    /// The attempt never completes by itself; its deadline or a cancellation
    /// ends it.
    Hang,
    /// The attempt ends with the outcome the adapter was given for injection.
    Outcome,
}

impl Fault {
    /// A short lowercase name, for metric labels and logs: `error`, `hang`,
    /// `outcome`.
    ///
    /// ```
    /// # use steadfast::chaos::Fault;
    /// assert_eq!(Fault::Hang.name(), "hang");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Hang => "hang",
            Self::Outcome => "outcome",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to do to one attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Injection {
    /// Wait this long before the attempt (or before its fault).
    pub delay: Option<Duration>,
    /// Replace the attempt by this fault.
    pub fault: Option<Fault>,
}

impl Injection {
    /// Nothing injected: run the attempt as it is.
    pub const NONE: Self = Self {
        delay: None,
        fault: None,
    };

    /// Whether nothing is injected.
    ///
    /// ```
    /// # use steadfast::chaos::Injection;
    /// assert!(Injection::NONE.is_none());
    /// ```
    pub const fn is_none(&self) -> bool {
        self.delay.is_none() && self.fault.is_none()
    }
}

/// A fault-injection machine (see the [module](self) documentation).
///
/// Holds nothing but its settings: deciding does not change it, so one
/// machine can be read by any number of calls at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Chaos {
    config: Config,
}

impl Chaos {
    /// A machine with these settings.
    ///
    /// # Errors
    ///
    /// When [`Config::validate`] refuses `config`.
    pub const fn new(config: Config) -> Result<Self, ConfigError> {
        match config.validate() {
            Ok(()) => Ok(Self { config }),
            Err(e) => Err(e),
        }
    }

    /// The settings.
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// Switches injection on or off at once (an operator's kill switch).
    ///
    /// ```
    /// use steadfast::chaos::{Chaos, Config, PER_MILLION};
    /// use steadfast::rng::SplitMix64;
    /// use steadfast::time::Instant;
    ///
    /// let mut chaos = Chaos::new(Config::DEFAULT.with_enabled(true).with_fault(PER_MILLION))?;
    /// chaos.set_enabled(false);
    /// assert!(chaos.decide(Instant::ZERO, &mut SplitMix64::new(1)).is_none());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn set_enabled(&mut self, enabled: bool) {
        self.config.enabled = enabled;
    }

    /// Whether it would inject at `now`: enabled, past the start and inside
    /// the window.
    ///
    /// ```
    /// use steadfast::chaos::{Chaos, Config};
    /// use steadfast::time::{Duration, Instant};
    ///
    /// let c = Config::DEFAULT
    ///     .with_enabled(true)
    ///     .with_start(Duration::from_secs(10))
    ///     .with_window(Duration::from_secs(60), Duration::from_secs(5));
    /// let chaos = Chaos::new(c)?;
    /// assert!(!chaos.is_active(Instant::from_secs(9)));
    /// assert!(chaos.is_active(Instant::from_secs(10)));
    /// assert!(chaos.is_active(Instant::from_millis(14_999)));
    /// assert!(!chaos.is_active(Instant::from_secs(15)));
    /// assert!(chaos.is_active(Instant::from_secs(70)));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn is_active(&self, now: Instant) -> bool {
        if !self.config.enabled {
            return false;
        }
        let now = now.as_micros();
        let start = self.config.start.as_micros();
        if now < start {
            return false;
        }
        match self.config.window {
            // No 64-bit division routine on 32-bit targets, and no panic.
            Some(w) => crate::div::rem(now - start, w.period.as_micros()) < w.active.as_micros(),
            None => true,
        }
    }

    /// What to do to the attempt that starts at `now`.
    ///
    /// Draws nothing from `rng` when inactive, exactly two numbers when active.
    ///
    /// ```
    /// use steadfast::chaos::{Chaos, Config, Fault};
    /// use steadfast::rng::SplitMix64;
    /// use steadfast::time::Instant;
    ///
    /// // Half of the attempts hang.
    /// let chaos = Chaos::new(Config::DEFAULT.with_enabled(true).with_hang(500_000))?;
    /// let mut rng = SplitMix64::new(42);
    /// let hangs = (0..10_000)
    ///     .filter(|_| chaos.decide(Instant::ZERO, &mut rng).fault == Some(Fault::Hang))
    ///     .count();
    /// assert!((4_800..5_200).contains(&hangs));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn decide<R: Rng + ?Sized>(&self, now: Instant, rng: &mut R) -> Injection {
        if !self.is_active(now) {
            return Injection::NONE;
        }
        let c = &self.config;
        let late = draw(rng);
        let kind = draw(rng);
        let delay = if late < c.latency {
            Some(c.delay)
        } else {
            None
        };
        let fault = if kind < c.fault {
            Some(Fault::Error)
        } else if kind < c.fault + c.hang {
            Some(Fault::Hang)
        } else if kind < c.fault + c.hang + c.outcome {
            Some(Fault::Outcome)
        } else {
            None
        };
        Injection { delay, fault }
    }
}

/// A number in `0..PER_MILLION` from the top 32 bits of one draw (each value
/// has 4 294 or 4 295 of the 2³² inputs: within 0.03 % of uniform).
fn draw<R: Rng + ?Sized>(rng: &mut R) -> u32 {
    (((rng.next_u64() >> 32) * PER_MILLION as u64) >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// A source that returns the values it was given, in order.
    struct Script<'a>(&'a [u64]);

    impl Rng for Script<'_> {
        fn next_u64(&mut self) -> u64 {
            let (first, rest) = self.0.split_first().expect("script ran out");
            self.0 = rest;
            *first
        }
    }

    /// The 64-bit value whose draw is `ppm` (the smallest such value).
    fn at(ppm: u32) -> u64 {
        let x = (u64::from(ppm) << 32).div_ceil(u64::from(PER_MILLION));
        assert_eq!(draw(&mut Script(&[x << 32])), ppm);
        x << 32
    }

    fn enabled() -> Config {
        Config::DEFAULT.with_enabled(true)
    }

    #[test]
    fn draws_cover_zero_to_a_million_and_stay_below_it() {
        assert_eq!(draw(&mut Script(&[0])), 0);
        assert_eq!(draw(&mut Script(&[u64::MAX])), PER_MILLION - 1);
        for ppm in [1, 2, 499_999, 500_000, 999_999] {
            let x = at(ppm);
            assert_eq!(draw(&mut Script(&[x - (1 << 32)])), ppm - 1);
        }
    }

    #[test]
    fn rates_are_thresholds_on_the_draw() {
        let chaos = Chaos::new(
            enabled()
                .with_fault(100)
                .with_hang(200)
                .with_outcome(300)
                .with_latency(50, Duration::from_millis(7)),
        )
        .unwrap();
        let cases = [
            (0, 0, Some(Duration::from_millis(7)), Some(Fault::Error)),
            (49, 99, Some(Duration::from_millis(7)), Some(Fault::Error)),
            (50, 100, None, Some(Fault::Hang)),
            (50, 299, None, Some(Fault::Hang)),
            (50, 300, None, Some(Fault::Outcome)),
            (50, 599, None, Some(Fault::Outcome)),
            (50, 600, None, None),
            (999_999, 999_999, None, None),
        ];
        for (late, kind, delay, fault) in cases {
            let got = chaos.decide(Instant::ZERO, &mut Script(&[at(late), at(kind)]));
            assert_eq!(got, Injection { delay, fault }, "draws {late}, {kind}");
        }
    }

    #[test]
    fn nothing_is_injected_unless_enabled() {
        let all = Config::DEFAULT
            .with_fault(PER_MILLION)
            .with_latency(PER_MILLION, Duration::from_secs(1));
        let chaos = Chaos::new(all).unwrap();
        // An inactive machine draws nothing: an empty script would panic.
        assert!(chaos.decide(Instant::ZERO, &mut Script(&[])).is_none());
        let mut chaos = Chaos::new(all.with_enabled(true)).unwrap();
        assert!(
            !chaos
                .decide(Instant::ZERO, &mut SplitMix64::new(3))
                .is_none()
        );
        chaos.set_enabled(false);
        assert!(chaos.decide(Instant::ZERO, &mut Script(&[])).is_none());
        assert!(!Config::default().enabled());
    }

    #[test]
    #[cfg_attr(miri, ignore)] // twenty thousand decisions
    fn a_full_rate_always_and_a_zero_rate_never_injects() {
        let mut rng = SplitMix64::new(11);
        let always = Chaos::new(enabled().with_outcome(PER_MILLION)).unwrap();
        let never = Chaos::new(enabled()).unwrap();
        for i in 0..10_000 {
            let now = Instant::from_millis(i);
            assert_eq!(always.decide(now, &mut rng).fault, Some(Fault::Outcome));
            assert!(never.decide(now, &mut rng).is_none());
        }
        assert_eq!(draw(&mut Script(&[u64::MAX])), PER_MILLION - 1);
    }

    #[test]
    fn a_window_injects_only_in_its_active_part() {
        let chaos = Chaos::new(
            enabled()
                .with_fault(PER_MILLION)
                .with_start(Duration::from_secs(100))
                .with_window(Duration::from_secs(10), Duration::from_secs(3)),
        )
        .unwrap();
        let mut rng = SplitMix64::new(5);
        let mut timeline = [false; 130];
        for (s, active) in timeline.iter_mut().enumerate() {
            *active =
                chaos.decide(Instant::from_secs(s as u64), &mut rng).fault == Some(Fault::Error);
            assert_eq!(*active, chaos.is_active(Instant::from_secs(s as u64)));
        }
        let expected: [bool; 130] = core::array::from_fn(|s| s >= 100 && (s - 100) % 10 < 3);
        assert_eq!(timeline, expected);
        assert!(chaos.is_active(Instant::from_micros(102_999_999)));
        assert!(!chaos.is_active(Instant::from_micros(103_000_000)));
        assert!(
            chaos.is_active(Instant::MAX) == ((u64::MAX - 100_000_000) % 10_000_000 < 3_000_000)
        );
    }

    #[test]
    fn a_window_as_long_as_its_period_is_always_active() {
        let chaos =
            Chaos::new(enabled().with_window(Duration::from_micros(1), Duration::from_micros(1)))
                .unwrap();
        for us in [0, 1, 2, 12_345, u64::MAX] {
            assert!(chaos.is_active(Instant::from_micros(us)));
        }
    }

    #[test]
    fn the_same_seed_injects_the_same_faults() {
        let chaos = Chaos::new(
            enabled()
                .with_fault(100_000)
                .with_hang(50_000)
                .with_latency(200_000, Duration::from_millis(5)),
        )
        .unwrap();
        let run = |seed| {
            let mut rng = SplitMix64::new(seed);
            let mut out = [Injection::NONE; 64];
            for (i, slot) in out.iter_mut().enumerate() {
                *slot = chaos.decide(Instant::from_millis(i as u64), &mut rng);
            }
            out
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }

    #[test]
    #[cfg_attr(miri, ignore)] // a million draws: minutes under Miri
    fn each_rate_is_honoured_and_the_draws_are_independent() {
        let chaos = Chaos::new(
            enabled()
                .with_fault(20_000)
                .with_hang(10_000)
                .with_outcome(5_000)
                .with_latency(250_000, Duration::from_millis(1)),
        )
        .unwrap();
        let mut rng = SplitMix64::new(2024);
        let n = 1_000_000u32;
        let (mut error, mut hang, mut outcome, mut late, mut late_error) = (0, 0, 0, 0, 0);
        for _ in 0..n {
            let i = chaos.decide(Instant::ZERO, &mut rng);
            match i.fault {
                Some(Fault::Error) => error += 1,
                Some(Fault::Hang) => hang += 1,
                Some(Fault::Outcome) => outcome += 1,
                None => {}
            }
            if i.delay.is_some() {
                late += 1;
                late_error += u32::from(i.fault == Some(Fault::Error));
            }
        }
        // Binomial: within 5 standard deviations of the expected count.
        let near = |got: u32, p_ppm: u32| {
            let mean = u64::from(n) * u64::from(p_ppm) / 1_000_000;
            let variance = mean * u64::from(PER_MILLION - p_ppm) / 1_000_000;
            let sd = (1..).find(|s: &u64| s * s >= variance).unwrap();
            u64::from(got).abs_diff(mean) <= 5 * sd
        };
        assert!(near(error, 20_000), "{error}");
        assert!(near(hang, 10_000), "{hang}");
        assert!(near(outcome, 5_000), "{outcome}");
        assert!(near(late, 250_000), "{late}");
        // Delayed attempts fail as often as the others: 25 % of 2 % = 0.5 %.
        assert!(near(late_error, 5_000), "{late_error}");
    }

    #[test]
    fn validation_names_the_field_and_accepts_the_edges() {
        let d = Duration::from_secs(1);
        let full = enabled()
            .with_fault(300_000)
            .with_hang(300_000)
            .with_outcome(400_000)
            .with_latency(PER_MILLION, d)
            .with_window(d, d);
        assert!(Chaos::new(full).is_ok());
        let field = |c: Config| Chaos::new(c).unwrap_err().field;
        assert_eq!(field(full.with_outcome(400_001)), "outcome");
        assert_eq!(field(full.with_hang(PER_MILLION + 1)), "hang");
        assert_eq!(field(full.with_latency(PER_MILLION + 1, d)), "latency");
        assert_eq!(field(full.with_outcome(u32::MAX)), "outcome");
        assert_eq!(
            field(full.with_window(Duration::ZERO, Duration::ZERO)),
            "window"
        );
        assert_eq!(field(full.with_window(d, Duration::ZERO)), "window");
        assert!(Chaos::new(Config::DEFAULT.with_latency(0, Duration::ZERO)).is_ok());
    }
}
