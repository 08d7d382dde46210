//! TLS for the client's connections: a rustls connector of our own in ureq's connector
//! chain, so that the configuration is ours to make. ureq's TLS settings cannot take a
//! time provider; ours checks step-ca's certificate at the client's [`Clock`] time.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
    StreamOwned,
};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

use crate::clock::{Clock, TlsTime};
use crate::credential::Credential;
use crate::error::{Error, ErrorKind, Result};
use crate::key::{KeyAlgorithm, SignatureAlgorithm};

/// A credential as a TLS client identity. Its key signs the handshake through the
/// credential, so a held key (callback, PKCS#11) serves as well as one in memory. A signer
/// failure inside the handshake is kept here, since rustls can only pass on a string.
pub(crate) struct Identity {
    key: Arc<CertifiedKey>,
    failure: Arc<Mutex<Option<Error>>>,
}

impl Identity {
    pub(crate) fn new(cred: &Credential) -> Result<Identity> {
        let family = cred.key().family();
        let failure = Arc::new(Mutex::new(None));
        let chain = cred
            .chain()
            .certificates()
            .iter()
            .map(|c| CertificateDer::from(c.clone()))
            .collect();
        let key = TlsKey {
            cred: cred.clone(),
            family,
            failure: failure.clone(),
        };
        Ok(Identity {
            key: Arc::new(CertifiedKey::new(chain, Arc::new(key))),
            failure,
        })
    }

    /// The signer's failure during a handshake, if there was one.
    pub(crate) fn take_failure(&self) -> Option<Error> {
        self.failure.lock().ok().and_then(|mut f| f.take())
    }
}

/// Presents the one identity whatever the server asks.
#[derive(Debug)]
struct Resolver(Arc<CertifiedKey>);

impl ResolvesClientCert for Resolver {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The schemes a key of `family` can sign a handshake with, in order of preference, and
/// what the signer is asked for. TLS 1.3 allows only PSS for RSA; rustls offers only the
/// schemes the negotiated version allows.
fn schemes(family: KeyAlgorithm) -> &'static [(SignatureScheme, SignatureAlgorithm)] {
    use SignatureAlgorithm as A;
    use SignatureScheme as S;
    match family {
        KeyAlgorithm::Rsa => &[
            (S::RSA_PSS_SHA256, A::RsaPssSha256),
            (S::RSA_PSS_SHA384, A::RsaPssSha384),
            (S::RSA_PSS_SHA512, A::RsaPssSha512),
            (S::RSA_PKCS1_SHA256, A::RsaPkcs1Sha256),
            (S::RSA_PKCS1_SHA384, A::RsaPkcs1Sha384),
            (S::RSA_PKCS1_SHA512, A::RsaPkcs1Sha512),
        ],
        KeyAlgorithm::EcP256 => &[(S::ECDSA_NISTP256_SHA256, A::EcdsaP256Sha256)],
        KeyAlgorithm::EcP384 => &[(S::ECDSA_NISTP384_SHA384, A::EcdsaP384Sha384)],
        KeyAlgorithm::Ed25519 => &[(S::ED25519, A::Ed25519)],
    }
}

/// A credential's key as rustls's signing key.
struct TlsKey {
    cred: Credential,
    family: KeyAlgorithm,
    failure: Arc<Mutex<Option<Error>>>,
}

impl std::fmt::Debug for TlsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsKey")
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

fn record(slot: &Mutex<Option<Error>>, e: Error) {
    if let Ok(mut s) = slot.lock() {
        *s = Some(e);
    }
}

impl rustls::sign::SigningKey for TlsKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn rustls::sign::Signer>> {
        let chosen = schemes(self.family)
            .iter()
            .find(|(scheme, _)| offered.contains(scheme));
        match chosen {
            Some(&(scheme, alg)) => Some(Box::new(TlsSigner {
                cred: self.cred.clone(),
                scheme,
                alg,
                failure: self.failure.clone(),
            })),
            None => {
                record(
                    &self.failure,
                    Error::new(
                        ErrorKind::Signer,
                        format!(
                            "signer: step-ca accepts none of the TLS signature schemes a \
                             {:?} key can make (it offered {offered:?})",
                            self.family
                        ),
                    ),
                );
                None
            }
        }
    }

    fn algorithm(&self) -> rustls::SignatureAlgorithm {
        match self.family {
            KeyAlgorithm::Rsa => rustls::SignatureAlgorithm::RSA,
            KeyAlgorithm::EcP256 | KeyAlgorithm::EcP384 => rustls::SignatureAlgorithm::ECDSA,
            KeyAlgorithm::Ed25519 => rustls::SignatureAlgorithm::ED25519,
        }
    }
}

struct TlsSigner {
    cred: Credential,
    scheme: SignatureScheme,
    alg: SignatureAlgorithm,
    failure: Arc<Mutex<Option<Error>>>,
}

impl std::fmt::Debug for TlsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSigner")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl rustls::sign::Signer for TlsSigner {
    fn sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, rustls::Error> {
        self.cred.sign(self.alg, message).map_err(|e| {
            record(&self.failure, e);
            rustls::Error::General("the client certificate's signer failed".into())
        })
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

/// Builds the rustls configuration: server verification against `roots` (none: verification
/// off) at the clock's time, and an optional client identity.
pub(crate) fn client_config(
    roots: Option<&[Vec<u8>]>,
    clock: &Arc<Clock>,
    identity: Option<&Identity>,
) -> Result<Arc<ClientConfig>> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.signature_verification_algorithms.all = crate::chain::tls_chain_algorithms();
    let provider = Arc::new(provider);
    let builder =
        ClientConfig::builder_with_details(provider.clone(), Arc::new(TlsTime(clock.clone())))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::new(ErrorKind::Internal, format!("TLS set-up: {e}")))?;
    let builder = match roots {
        Some(roots) => {
            let mut store = RootCertStore::empty();
            for der in roots {
                store
                    .add(CertificateDer::from(der.as_slice()).into_owned())
                    .map_err(|e| {
                        Error::invalid("root", format!("not usable as a TLS root ({e})"))
                    })?;
            }
            builder.with_root_certificates(store)
        }
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider))),
    };
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some(id) => builder.with_client_cert_resolver(Arc::new(Resolver(id.key.clone()))),
    };
    Ok(Arc::new(config))
}

/// The connector that wraps TCP in TLS for `https` URLs.
#[derive(Debug)]
pub(crate) struct TlsConnector(pub(crate) Arc<ClientConfig>);

impl<In: Transport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> std::result::Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details
            .uri
            .authority()
            .map(|a| a.host().trim_start_matches('[').trim_end_matches(']'))
            .ok_or(ureq::Error::Tls("no host to check the certificate against"))?;
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| ureq::Error::Tls("the CA's host name is not valid for TLS"))?;
        let mut conn = ClientConnection::new(self.0.clone(), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock).map_err(unwrap_rustls)?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport {
            buffers,
            stream: StreamOwned { conn, sock },
        })))
    }
}

/// rustls reports handshake failures inside an io::Error; take them out so that errors
/// can be told apart by their rustls cause (a certificate not valid yet, say).
fn unwrap_rustls(e: std::io::Error) -> ureq::Error {
    if !e.get_ref().is_some_and(|i| i.is::<rustls::Error>()) {
        return ureq::Error::Io(e);
    }
    let kind = e.kind();
    match e
        .into_inner()
        .map(|inner| inner.downcast::<rustls::Error>())
    {
        Some(Ok(r)) => ureq::Error::Rustls(*r),
        Some(Err(other)) => ureq::Error::Io(std::io::Error::new(kind, other)),
        None => ureq::Error::Io(kind.into()),
    }
}

/// A TLS connection as ureq's transport.
pub(crate) struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTransport").finish_non_exhaustive()
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(
        &mut self,
        amount: usize,
        timeout: NextTimeout,
    ) -> std::result::Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> std::result::Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let n = self.stream.read(input)?;
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// Accepts any server certificate: only behind the explicit
/// `danger_disable_tls_verification` opt-in. Handshake signatures are still checked, so
/// the connection is at least with whoever holds the presented key.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
