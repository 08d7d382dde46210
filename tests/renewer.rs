//! The background renewer against a real step-ca (run under scripts/with-ca.sh) with
//! certificates of seconds: renewals in a row with each chain on disk before it is
//! reported, rekeys, an expired certificate renewed by token, a CA outage longer than a
//! renewal window, a failed write that loses nothing, and how fast stop returns.

mod common;

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Ca, Fault, PrivateCa, Recording, TempDir, openssl_verify_chain};
use stepca::{
    CertificateChain, Client, ClientBuilder, Credential, CsrRequest, ErrorKind, KeyType,
    PrivateKey, Renewer, RenewerEvent, RenewerOptions, SanKind, SignOptions, Signer,
};

/// An event as the test keeps it.
#[derive(Debug, Clone)]
enum Seen {
    Scheduled,
    Renewed {
        serial: String,
        rekeyed: bool,
        /// The serial of the chain in the cert file when the event arrived.
        on_disk: Option<String>,
    },
    Failed(ErrorKind),
    WriteFailed(ErrorKind, String, u32),
}

#[derive(Default)]
struct Events {
    seen: Mutex<Vec<Seen>>,
    cv: Condvar,
}

impl Events {
    /// A callback recording into `self`, reading `cert_file` on each renewal.
    fn recorder(
        self: &Arc<Self>,
        cert_file: Option<PathBuf>,
    ) -> impl FnMut(&RenewerEvent<'_>) + Send + 'static {
        let me = self.clone();
        move |e| {
            let seen = match e {
                RenewerEvent::Scheduled { .. } => Seen::Scheduled,
                RenewerEvent::Renewed {
                    credential,
                    rekeyed,
                } => Seen::Renewed {
                    serial: credential.chain().serial(),
                    rekeyed: *rekeyed,
                    on_disk: cert_file.as_ref().map(|f| {
                        CertificateChain::from_pem(&std::fs::read(f).unwrap())
                            .unwrap()
                            .serial()
                    }),
                },
                RenewerEvent::Failed { error, .. } => Seen::Failed(error.kind()),
                RenewerEvent::WriteFailed { error, attempt, .. } => {
                    Seen::WriteFailed(error.kind(), error.message().to_string(), *attempt)
                }
                _ => return,
            };
            me.seen.lock().unwrap().push(seen);
            me.cv.notify_all();
        }
    }

    /// Waits until `pred` holds of the events so far, or panics after `limit`.
    fn wait(&self, limit: Duration, what: &str, pred: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
        let end = Instant::now() + limit;
        let mut seen = self.seen.lock().unwrap();
        while !pred(&seen) {
            let left = end
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("no {what} within {limit:?}; events: {seen:?}"));
            seen = self.cv.wait_timeout(seen, left).unwrap().0;
        }
        seen.clone()
    }
}

fn renewals(seen: &[Seen]) -> Vec<(String, bool, Option<String>)> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Renewed {
                serial,
                rekeyed,
                on_disk,
            } => Some((serial.clone(), *rekeyed, on_disk.clone())),
            _ => None,
        })
        .collect()
}

fn failures(seen: &[Seen]) -> Vec<ErrorKind> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Failed(k) => Some(*k),
            _ => None,
        })
        .collect()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A certificate for `signer`'s key living `lifetime` seconds.
fn enroll(client: &Client, cn: &str, signer: &dyn Signer, lifetime: i64) -> CertificateChain {
    let mut req = CsrRequest::new();
    req.subject("CN", cn)
        .unwrap()
        .san(SanKind::Dns, cn)
        .unwrap();
    let csr = req.build_with_signer(signer).unwrap();
    let opts = SignOptions {
        not_after: Some(now() + lifetime),
        ..Default::default()
    };
    client.sign(csr.der(), &opts).unwrap()
}

/// A credential with a new P-256 key in memory, living `lifetime` seconds.
fn credential(client: &Client, cn: &str, lifetime: i64) -> Credential {
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    Credential::new(enroll(client, cn, &key, lifetime), key).unwrap()
}

/// Quick retries, so that tests of seconds see several.
fn quick() -> RenewerOptions {
    RenewerOptions {
        retry_min: Duration::from_millis(300),
        retry_max: Duration::from_secs(2),
        ..Default::default()
    }
}

fn pem_serial(path: &std::path::Path) -> String {
    CertificateChain::from_pem(&std::fs::read(path).unwrap())
        .unwrap()
        .serial()
}

#[test]
fn renews_three_times_in_a_row_each_chain_on_disk_before_it_is_reported() {
    let ca = Ca::get();
    let client = ca.minting_client();
    let dir = TempDir::new("renewer");
    let cert_file = dir.path("device.crt");
    let first = credential(&client, "renewer-3x.example.com", 10);
    let events = Arc::new(Events::default());
    let renewer = Renewer::start(
        client,
        first.clone(),
        RenewerOptions {
            cert_file: Some(cert_file.clone()),
            ..quick()
        },
        events.recorder(Some(cert_file.clone())),
    )
    .unwrap();
    let seen = events.wait(Duration::from_secs(90), "three renewals", |s| {
        renewals(s).len() >= 3
    });
    let r = renewals(&seen);
    let mut serials: Vec<&String> = r.iter().map(|(s, _, _)| s).collect();
    serials.push(&r[0].0);
    for (serial, rekeyed, on_disk) in &r[..3] {
        assert!(!rekeyed);
        assert_eq!(on_disk.as_ref(), Some(serial), "reported before written");
        assert_ne!(serial, &first.chain().serial());
    }
    serials.sort();
    serials.dedup();
    assert!(
        serials.len() >= 3,
        "each renewal is a new certificate: {r:?}"
    );
    assert!(failures(&seen).is_empty(), "{seen:?}");
    // A renewal is scheduled before each one.
    assert!(matches!(seen[0], Seen::Scheduled), "{seen:?}");

    let t = Instant::now();
    renewer.stop();
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "stop took {:?}",
        t.elapsed()
    );
    let current = renewer.credential();
    assert_eq!(pem_serial(&cert_file), current.chain().serial());
    assert_eq!(std::fs::metadata(&cert_file).unwrap().mode() & 0o777, 0o644);
    openssl_verify_chain(&ca.root, &current.chain().to_pem(), &dir);
    // Nothing is reported after stop returned.
    let n = events.seen.lock().unwrap().len();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(events.seen.lock().unwrap().len(), n);
}

#[test]
fn rekeys_every_second_renewal_writing_the_new_key_first_with_mode_0600() {
    let ca = Ca::get();
    let client = ca.minting_client();
    let dir = TempDir::new("renewer-rekey");
    let (cert_file, key_file) = (dir.path("device.crt"), dir.path("device.key"));
    let first = credential(&client, "renewer-rekey.example.com", 10);
    let events = Arc::new(Events::default());
    let renewer = Renewer::start(
        client,
        first.clone(),
        RenewerOptions {
            rekey_every: 2,
            cert_file: Some(cert_file.clone()),
            key_file: Some(key_file.clone()),
            ..quick()
        },
        events.recorder(Some(cert_file.clone())),
    )
    .unwrap();
    let seen = events.wait(Duration::from_secs(90), "a renewal and a rekey", |s| {
        renewals(s).len() >= 2
    });
    renewer.stop();
    let r = renewals(&seen);
    assert_eq!((r[0].1, r[1].1), (false, true), "{r:?}");
    let current = renewer.credential();
    assert_eq!(current.chain().serial(), r[1].0);
    let new_key = PrivateKey::load(&std::fs::read(&key_file).unwrap(), None).unwrap();
    assert_eq!(std::fs::metadata(&key_file).unwrap().mode() & 0o777, 0o600);
    // The key on disk is the new certificate's, and not the old one.
    assert_eq!(new_key.spki_der(), current.chain().leaf_public_key());
    assert_ne!(new_key.spki_der(), first.chain().leaf_public_key());
    Credential::new(
        CertificateChain::from_pem(&std::fs::read(&cert_file).unwrap()).unwrap(),
        new_key,
    )
    .expect("the files on disk are a matching pair");
    openssl_verify_chain(&ca.root, &current.chain().to_pem(), &dir);
}

#[test]
fn options_that_cannot_work_are_refused_naming_the_field() {
    let ca = Ca::get();
    let client = ca.minting_client();
    let soft = credential(&client, "renewer-options.example.com", 60);
    let signer: Arc<dyn Signer> = Arc::new(PrivateKey::generate(KeyType::EcP256).unwrap());
    let held = Credential::held(
        enroll(&client, "renewer-held.example.com", signer.as_ref(), 60),
        signer,
    )
    .unwrap();
    let cases = [
        (
            &held,
            RenewerOptions {
                rekey_every: 1,
                ..Default::default()
            },
            "new_key:",
        ),
        (
            &soft,
            RenewerOptions {
                rekey_every: 3,
                cert_file: Some("/tmp/x.crt".into()),
                ..Default::default()
            },
            "key_file:",
        ),
        (
            &soft,
            RenewerOptions {
                retry_min: Duration::from_secs(10),
                retry_max: Duration::from_secs(1),
                ..Default::default()
            },
            "retry_max:",
        ),
        (
            &soft,
            RenewerOptions {
                schedule: stepca::Schedule::ExpiresIn(Duration::ZERO),
                ..Default::default()
            },
            "expires_in:",
        ),
    ];
    for (cred, opts, field) in cases {
        let e = Renewer::start(client.clone(), cred.clone(), opts, |_| {}).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.message().starts_with(field), "{field}: {e}");
    }
}

#[test]
fn a_certificate_that_expired_before_the_start_is_renewed_by_token() {
    let ca = Ca::get();
    let client = ca.minting_client();
    let signer = Recording::new(
        Arc::new(PrivateKey::generate(KeyType::EcP256).unwrap()),
        Fault::None,
    );
    let chain = enroll(&client, "renewer-expired.example.com", signer.as_ref(), 5);
    let expiry = chain.validity().1;
    while now() <= expiry + 1 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let events = Arc::new(Events::default());
    let renewer = Renewer::start(
        client,
        Credential::held(chain.clone(), signer.clone()).unwrap(),
        quick(),
        events.recorder(None),
    )
    .unwrap();
    let seen = events.wait(Duration::from_secs(30), "a renewal", |s| {
        !renewals(s).is_empty()
    });
    renewer.stop();
    assert!(failures(&seen).is_empty(), "{seen:?}");
    // Only the token was signed: an expired certificate cannot do mutual TLS.
    assert!(signer.handshakes().is_empty());
    assert_eq!(signer.tokens(), 1);
    assert!(renewer.credential().chain().validity().1 > now());
}

#[test]
fn renewal_resumes_after_a_ca_outage_longer_than_a_renewal_window() {
    let private = PrivateCa::start();
    let ca = &private.ca;
    let client = ca.minting_client();
    let dir = TempDir::new("renewer-outage");
    let cert_file = dir.path("device.crt");
    let first = credential(&client, "renewer-outage.example.com", 8);
    let events = Arc::new(Events::default());
    let renewer = Renewer::start(
        client,
        first,
        RenewerOptions {
            cert_file: Some(cert_file.clone()),
            ..quick()
        },
        events.recorder(Some(cert_file.clone())),
    )
    .unwrap();
    events.wait(Duration::from_secs(60), "a first renewal", |s| {
        renewals(s).len() == 1
    });
    private.down();
    // Down until the renewed certificate has expired: longer than its whole life.
    let expiry = renewer.credential().chain().validity().1;
    while now() <= expiry + 1 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let seen = events.wait(Duration::from_secs(30), "failures", |s| {
        failures(s).len() >= 2
    });
    assert!(
        failures(&seen).iter().all(|k| *k == ErrorKind::Transport),
        "{seen:?}"
    );
    // Nothing renewed while the CA was down. (A second renewal may have come in before
    // down() took effect: the outage starts at the first failure.)
    let first_failure = seen
        .iter()
        .position(|s| matches!(s, Seen::Failed(_)))
        .unwrap();
    assert!(
        renewals(&seen[first_failure..]).is_empty(),
        "renewed while down: {seen:?}"
    );
    let before = renewals(&seen).len();
    private.up();
    let seen = events.wait(Duration::from_secs(60), "renewals after the outage", |s| {
        renewals(s).len() >= before + 2
    });
    renewer.stop();
    let r = renewals(&seen);
    assert!(
        r.iter().all(|(s, _, disk)| disk.as_ref() == Some(s)),
        "{r:?}"
    );
    assert_eq!(
        pem_serial(&cert_file),
        renewer.credential().chain().serial()
    );
    assert!(renewer.credential().chain().validity().1 > now());
}

#[test]
fn a_failed_write_keeps_the_certificate_in_use_and_is_retried() {
    let ca = Ca::get();
    let client = ca.minting_client();
    let dir = TempDir::new("renewer-write");
    // The directory does not exist yet: every write fails until the test makes it (a
    // read-only directory would not stop root, who runs CI).
    let cert_file = dir.path("later/device.crt");
    let first = credential(&client, "renewer-write.example.com", 3600);
    let events = Arc::new(Events::default());
    let renewer = Renewer::start(
        client,
        first.clone(),
        RenewerOptions {
            cert_file: Some(cert_file.clone()),
            ..quick()
        },
        events.recorder(None),
    )
    .unwrap();
    renewer.renew_now();
    let seen = events.wait(Duration::from_secs(30), "a failed write", |s| {
        s.iter().any(|e| matches!(e, Seen::WriteFailed(..)))
    });
    let Some(Seen::WriteFailed(kind, message, 1)) =
        seen.iter().find(|e| matches!(e, Seen::WriteFailed(..)))
    else {
        unreachable!()
    };
    assert_eq!(*kind, ErrorKind::Io);
    assert!(message.contains("later/device.crt"), "{message}");
    // In use in memory, and not to be replaced by the file's older one.
    let renewed = renewer.credential();
    assert_ne!(renewed.chain().serial(), first.chain().serial());
    assert_eq!(
        renewer.replace(first.clone()).unwrap_err().kind(),
        ErrorKind::Io
    );
    std::fs::create_dir(dir.path("later")).unwrap();
    let seen = events.wait(Duration::from_secs(30), "the renewal written", |s| {
        !renewals(s).is_empty()
    });
    renewer.stop();
    assert_eq!(renewals(&seen)[0].0, renewed.chain().serial());
    assert_eq!(pem_serial(&cert_file), renewed.chain().serial());
}

#[test]
fn stop_returns_at_once_from_another_thread_and_from_the_callback() {
    let ca = Ca::get();
    let client = ca.minting_client();
    let cred = credential(&client, "renewer-stop.example.com", 3600);

    // From another thread, while it waits.
    let renewer = Arc::new(Renewer::start(client.clone(), cred.clone(), quick(), |_| {}).unwrap());
    std::thread::sleep(Duration::from_millis(200));
    let r = renewer.clone();
    let t = Instant::now();
    std::thread::spawn(move || r.stop()).join().unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "stop took {:?}",
        t.elapsed()
    );

    // From its own callback: it only asks, and the thread ends after the callback.
    let slot: Arc<OnceLock<Arc<Renewer>>> = Arc::new(OnceLock::new());
    let calls = Arc::new(Mutex::new(0));
    let (s, c) = (slot.clone(), calls.clone());
    let renewer = Arc::new(
        Renewer::start(client, cred, quick(), move |_| {
            *c.lock().unwrap() += 1;
            while s.get().is_none() {
                std::thread::yield_now();
            }
            s.get().unwrap().stop();
        })
        .unwrap(),
    );
    let _ = slot.set(renewer.clone());
    std::thread::sleep(Duration::from_millis(300));
    renewer.renew_now();
    let t = Instant::now();
    renewer.stop();
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "stop took {:?}",
        t.elapsed()
    );
    assert_eq!(*calls.lock().unwrap(), 1, "one event, then stopped");
    // The callback's clone is still in the slot; drop ours last.
    drop(slot);
}

#[test]
fn stop_during_a_hanging_request_returns_when_the_client_times_out() {
    let ca = Ca::get();
    let cred = credential(&ca.minting_client(), "renewer-hang.example.com", 3600);
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let held = Arc::new(Mutex::new(Vec::new()));
    let h = held.clone();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            h.lock().unwrap().push(s);
        }
    });
    let client = ClientBuilder::new(&url)
        .root_file(&ca.root)
        .unwrap()
        .timeout(Duration::from_secs(2))
        .unwrap()
        .build()
        .unwrap();
    let events = Arc::new(Events::default());
    let renewer = Renewer::start(client, cred, quick(), events.recorder(None)).unwrap();
    renewer.renew_now();
    while held.lock().unwrap().is_empty() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let t = Instant::now();
    renewer.stop();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(3), "stop took {took:?}");
    // The timed-out request is not reported after stop.
    assert!(
        failures(&events.seen.lock().unwrap()).is_empty(),
        "reported after stop"
    );
}

#[test]
fn a_certificate_the_ca_sees_expired_is_renewed_by_token_after_mutual_tls_fails() {
    // The device's clock is 20 s behind the CA's: its certificate looks valid to it when
    // step-ca already refuses it, so mutual TLS fails and the token must be tried.
    let ca = Ca::get();
    let behind = Duration::from_secs(20);
    let skewed = ClientBuilder::new(&ca.url)
        .root_file(&ca.root)
        .unwrap()
        .time_source(Some(Arc::new(move || SystemTime::now() - behind)))
        .build()
        .unwrap();
    let client = ca.minting_client();
    let signer = Recording::new(
        Arc::new(PrivateKey::generate(KeyType::EcP256).unwrap()),
        Fault::None,
    );
    let chain = enroll(&client, "renewer-skew.example.com", signer.as_ref(), 25);
    let expiry = chain.validity().1;
    // Expired for the CA, not for the device.
    while now() <= expiry + 2 {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(skewed.now() < UNIX_EPOCH + Duration::from_secs(expiry as u64));
    let events = Arc::new(Events::default());
    let renewer = Renewer::start(
        skewed,
        Credential::held(chain, signer.clone()).unwrap(),
        quick(),
        events.recorder(None),
    )
    .unwrap();
    renewer.renew_now();
    let seen = events.wait(Duration::from_secs(30), "a renewal", |s| {
        !renewals(s).is_empty()
    });
    renewer.stop();
    assert_eq!(failures(&seen).len(), 1, "{seen:?}");
    assert_eq!(signer.handshakes().len(), 1);
    assert_eq!(signer.tokens(), 1);
}
