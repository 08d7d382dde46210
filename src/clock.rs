//! The client's one notion of "now".
//!
//! Every place where time matters (minting tokens, verifying step-ca's TLS certificate,
//! checking an issued chain, deciding that a certificate has expired) asks the client's
//! [`Clock`]. It reads the system clock, or a [`TimeSource`] the caller supplies, and in
//! CA-time mode the CA's own clock, measured from the `Date` header of its (TLS-verified)
//! answers and carried forward on the monotonic clock, so a wall-clock jump on the device
//! (NTP after boot) does not move it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// step-ca accepts token times up to a minute off (its JWT validation leeway); a device
/// clock further from the CA's than this gets tokens refused.
pub const CLOCK_LEEWAY: Duration = Duration::from_secs(60);

/// A source of the current time, for devices whose system clock cannot be trusted (no RTC,
/// not yet synchronised). Called on the caller's thread whenever the client needs the time;
/// it must be cheap and thread-safe.
pub trait TimeSource: Send + Sync {
    /// The current time.
    fn now(&self) -> SystemTime;
}

impl<F> TimeSource for F
where
    F: Fn() -> SystemTime + Send + Sync,
{
    fn now(&self) -> SystemTime {
        self()
    }
}

/// The client's clock: the system clock or the caller's source, optionally corrected to
/// the CA's time.
pub(crate) struct Clock {
    source: Option<Arc<dyn TimeSource>>,
    ca_time: bool,
    /// CA time at a monotonic instant, once measured (CA-time mode only).
    anchor: Mutex<Option<(SystemTime, Instant)>>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("source", &self.source.is_some())
            .field("ca_time", &self.ca_time)
            .finish_non_exhaustive()
    }
}

impl Clock {
    pub(crate) fn new(source: Option<Arc<dyn TimeSource>>, ca_time: bool) -> Clock {
        Clock {
            source,
            ca_time,
            anchor: Mutex::new(None),
        }
    }

    /// The device's own time: the caller's source, else the system clock.
    pub(crate) fn local(&self) -> SystemTime {
        match &self.source {
            Some(s) => s.now(),
            None => SystemTime::now(),
        }
    }

    /// The client's now: the CA's time once measured in CA-time mode, else [`Self::local`].
    pub(crate) fn now(&self) -> SystemTime {
        if self.ca_time
            && let Ok(anchor) = self.anchor.lock()
            && let Some((ca, at)) = *anchor
        {
            return ca + at.elapsed();
        }
        self.local()
    }

    /// The client's now as UNIX seconds.
    pub(crate) fn now_secs(&self) -> i64 {
        unix_secs(self.now())
    }

    /// Whether CA-time mode still needs a first measurement.
    pub(crate) fn needs_ca_time(&self) -> bool {
        self.ca_time && self.anchor.lock().is_ok_and(|a| a.is_none())
    }

    /// Records the CA's `Date` from a verified answer (CA-time mode only). `Date` has
    /// whole seconds, truncated: half a second is added to centre the estimate.
    pub(crate) fn observe(&self, ca_date: SystemTime) {
        if !self.ca_time {
            return;
        }
        let estimate = ca_date + Duration::from_millis(500);
        if let Ok(mut anchor) = self.anchor.lock() {
            // Keep the anchor unless the CA's clock now disagrees by more than the Date
            // header's resolution: fewer jumps between tokens minted close together.
            let keep = anchor.is_some_and(|(ca, at)| {
                let ours = ca + at.elapsed();
                let diff = match ours.duration_since(estimate) {
                    Ok(d) => d,
                    Err(e) => e.duration(),
                };
                diff <= Duration::from_secs(2)
            });
            if !keep {
                *anchor = Some((estimate, Instant::now()));
            }
        }
    }

    /// Whose clock "now" is, for messages.
    pub(crate) fn whose(&self) -> &'static str {
        if self.source.is_some() {
            "the time source"
        } else {
            "this device's clock"
        }
    }

    /// The measured offset of the client's now from the CA's `Date`, in seconds (positive:
    /// ahead of the CA).
    pub(crate) fn skew_from(&self, ca_date: SystemTime) -> i64 {
        // Date is truncated to the second: compare at the middle of that second.
        let ours = self.now();
        let theirs = ca_date + Duration::from_millis(500);
        match ours.duration_since(theirs) {
            Ok(d) => d.as_secs_f64().round() as i64,
            Err(e) => -(e.duration().as_secs_f64().round() as i64),
        }
    }

    /// "this device's clock is 612 s ahead of the CA's" when `skew` passes the leeway.
    pub(crate) fn describe_skew(&self, skew: i64) -> Option<String> {
        if skew.unsigned_abs() <= CLOCK_LEEWAY.as_secs() {
            return None;
        }
        let dir = if skew > 0 { "ahead of" } else { "behind" };
        Some(format!(
            "{} is {} s {dir} the CA's (step-ca allows {} s)",
            self.whose(),
            skew.unsigned_abs(),
            CLOCK_LEEWAY.as_secs()
        ))
    }
}

/// A rustls time provider reading the client's clock, so that step-ca's TLS certificate is
/// checked at the same time as everything else.
#[derive(Debug)]
pub(crate) struct TlsTime(pub(crate) Arc<Clock>);

impl rustls::time_provider::TimeProvider for TlsTime {
    fn current_time(&self) -> Option<rustls::pki_types::UnixTime> {
        self.0
            .now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .map(rustls::pki_types::UnixTime::since_unix_epoch)
    }
}

pub(crate) fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// RFC 3339 in UTC, for messages (`2026-11-26T04:28:59Z`).
pub(crate) fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{secs} (UNIX seconds)"))
}

/// Parses an HTTP `Date` header (IMF-fixdate, RFC 9110 5.6.7), the only form step-ca (Go's
/// net/http) sends.
pub(crate) fn parse_http_date(value: &str) -> Option<SystemTime> {
    // Described at compile time: every answer's Date goes through here.
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let t = time::PrimitiveDateTime::parse(value.trim(), FORMAT).ok()?;
    let secs = t.assume_utc().unix_timestamp();
    u64::try_from(secs)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        let t = parse_http_date("Thu, 26 Nov 2026 04:28:59 GMT").unwrap();
        assert_eq!(unix_secs(t), 1_795_667_339);
        assert_eq!(rfc3339(1_795_667_339), "2026-11-26T04:28:59Z");
        for bad in [
            "",
            "Thu, 26 Nov 2026 04:28:59",
            "26 Nov 2026 04:28:59 GMT",
            "x",
        ] {
            assert!(parse_http_date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn ca_time_follows_the_ca_and_not_the_wall_clock() {
        let off = Arc::new(|| SystemTime::now() + Duration::from_secs(7200));
        let clock = Clock::new(Some(off), true);
        assert!(clock.needs_ca_time());
        let ca = SystemTime::now();
        assert_eq!(clock.skew_from(ca).div_euclid(60), 120);
        clock.observe(ca);
        assert!(!clock.needs_ca_time());
        assert!(clock.skew_from(ca).abs() <= 1, "{}", clock.skew_from(ca));
        // Without CA-time mode, observations change nothing.
        let plain = Clock::new(None, false);
        plain.observe(UNIX_EPOCH);
        assert!(plain.now() > UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    }

    #[test]
    fn ca_time_ignores_wall_clock_jumps_and_follows_new_answers() {
        use std::sync::atomic::{AtomicBool, Ordering};
        // The device's wall clock jumps a day ahead (NTP after boot) once CA time is known.
        let jumped = Arc::new(AtomicBool::new(false));
        let j = jumped.clone();
        let clock = Clock::new(
            Some(Arc::new(move || {
                SystemTime::now()
                    + Duration::from_secs(if j.load(Ordering::SeqCst) { 86_400 } else { 0 })
            })),
            true,
        );
        let ca = SystemTime::now() + Duration::from_secs(600);
        clock.observe(ca);
        jumped.store(true, Ordering::SeqCst);
        assert!(clock.skew_from(ca).abs() <= 1, "{}", clock.skew_from(ca));
        // An answer within the Date header's resolution keeps the anchor...
        clock.observe(ca + Duration::from_secs(1));
        assert!(clock.skew_from(ca).abs() <= 1);
        // ...one further off (the CA's clock was corrected) moves it.
        let corrected = ca + Duration::from_secs(100);
        clock.observe(corrected);
        assert!(
            clock.skew_from(corrected).abs() <= 1,
            "{}",
            clock.skew_from(corrected)
        );
    }

    #[test]
    fn skew_is_described_beyond_the_leeway_only() {
        let clock = Clock::new(None, false);
        assert_eq!(clock.describe_skew(60), None);
        assert_eq!(
            clock.describe_skew(612).unwrap(),
            "this device's clock is 612 s ahead of the CA's (step-ca allows 60 s)"
        );
        assert!(
            clock
                .describe_skew(-7200)
                .unwrap()
                .contains("7200 s behind")
        );
    }
}
