//! Log records for people debugging a device in the field.
//!
//! The library logs through the [`log`] facade, as rustls, ureq and cryptoki do: a Rust
//! program sees every record with the logger it installs (env_logger, tracing-log, ...).
//! Its own targets are `stepca::http` (each request sent and its answer, each retry and
//! why) and `stepca::renewer` (renewal due, renewed, failed).
//!
//! Programs that cannot install a Rust logger (the C ABI, Go, C++) call [`set_log_sink`]:
//! a process-wide logger that hands each record to one function. It never passes on what
//! could hold a secret: ureq-proto's trace records (a hex dump of the bytes on the wire,
//! tokens included) are dropped, and anything shaped like a JWT left in a message is
//! replaced by `[token redacted]`. The library's own records never hold a token, key,
//! password or PIN (tests/logging.rs searches every record for them).

use std::sync::{Arc, RwLock};

use once_cell::sync::OnceCell;

use crate::{Error, Result};

pub use log::{Level, LevelFilter};

/// One record as [`set_log_sink`] passes it on.
#[derive(Debug, Clone, Copy)]
pub struct LogRecord<'a> {
    /// How severe.
    pub level: Level,
    /// Where from: `stepca::http`, `rustls::client::hs`, `ureq::unversioned::transport`, ...
    pub target: &'a str,
    /// The message, with anything shaped like a token redacted.
    pub message: &'a str,
}

/// What receives records: called on whichever thread logs, possibly on several at once.
pub type LogSink = Arc<dyn Fn(&LogRecord<'_>) + Send + Sync>;

static SINK: RwLock<Option<LogSink>> = RwLock::new(None);
/// Whether our logger is the process's (`Err` once another logger was there first).
static INSTALLED: OnceCell<std::result::Result<(), ()>> = OnceCell::new();

struct Forwarder;

impl log::Log for Forwarder {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        !(metadata.level() == Level::Trace && metadata.target().starts_with("ureq_proto"))
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // Cloned out of the lock: a sink that logs (or sets the sink) must not deadlock.
        let Some(sink) = SINK.read().ok().and_then(|s| s.clone()) else {
            return;
        };
        let message = redact_tokens(&record.args().to_string());
        sink(&LogRecord {
            level: record.level(),
            target: record.target(),
            message: &message,
        });
    }

    fn flush(&self) {}
}

static FORWARDER: Forwarder = Forwarder;

/// Sends every record up to `max` to `sink`, from now on, process-wide; `None` stops
/// logging. May be called again to change either. Fails with `InvalidArgument` when the
/// process already has another `log` logger (a Rust program's own: use that one).
pub fn set_log_sink(max: LevelFilter, sink: Option<LogSink>) -> Result<()> {
    let installed = INSTALLED.get_or_init(|| log::set_logger(&FORWARDER).map_err(|_| ()));
    if installed.is_err() {
        return Err(Error::invalid(
            "log",
            "this process already has a logger of its own (the `log` crate's): records go there",
        ));
    }
    let on = sink.is_some();
    *SINK.write().unwrap_or_else(|p| p.into_inner()) = sink;
    log::set_max_level(if on { max } else { LevelFilter::Off });
    Ok(())
}

/// `text` with every JWT-shaped run (`eyJ` and base64url, two dots or more) replaced:
/// a last guard for a dependency that would print a token.
fn redact_tokens(text: &str) -> String {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("eyJ") {
        out.push_str(&rest[..i]);
        let run = &rest[i..];
        let end = run
            .find(|c: char| !(is_b64(c) || c == '.'))
            .unwrap_or(run.len());
        if run[..end].matches('.').count() >= 2 {
            out.push_str("[token redacted]");
        } else {
            out.push_str(&run[..end]);
        }
        rest = &run[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Other;
    impl log::Log for Other {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            false
        }
        fn log(&self, _: &log::Record<'_>) {}
        fn flush(&self) {}
    }

    /// The only test in this binary that touches the process's logger.
    #[test]
    fn a_logger_of_the_programs_own_wins() {
        log::set_logger(&Other).unwrap();
        let e =
            set_log_sink(LevelFilter::Debug, Some(Arc::new(|_: &LogRecord<'_>| {}))).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert!(e.to_string().starts_with("log: "), "{e}");
        assert!(set_log_sink(LevelFilter::Off, None).is_err());
    }

    #[test]
    fn tokens_are_redacted_and_other_text_kept() {
        assert_eq!(
            redact_tokens("sent eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_x to ca"),
            "sent [token redacted] to ca"
        );
        assert_eq!(
            redact_tokens("Bearer eyJa.eyJb.c.d.e, eyJnot-a-token and eyJa.b"),
            "Bearer [token redacted], eyJnot-a-token and eyJa.b"
        );
        assert_eq!(redact_tokens("nothing here"), "nothing here");
    }
}
