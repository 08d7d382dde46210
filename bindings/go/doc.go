// Package stepca gets X.509 certificates from a smallstep step-ca through libstepca.
//
// It wraps libstepca's C API with cgo: load or generate a key, build a CSR from Go structs,
// and exchange it at step-ca's /1.0/sign for the certificate and its chain, parsed as
// *x509.Certificate. Tokens come from a per-call option or from a token provider, a plain
// Go function.
//
// A Client is safe for concurrent use by many goroutines and keeps its TLS connections
// alive; close it with Close when done. Keys are immutable and may be shared too.
//
// Errors are *Error values carrying libstepca's code, the HTTP status and step-ca's
// message; compare them with errors.Is against the exported sentinels (ErrCARejected,
// ErrTLS, ...) or inspect them with errors.As. An error returned by a token provider or
// a crypto.Signer comes back unchanged inside the *Error (errors.Is finds it).
//
// A Credential is a certificate chain with its key, in memory or held by a crypto.Signer
// (a *HeldKey from a PKCS#11 token is one): with it a device renews over mutual TLS or
// with a token, rekeys and revokes, and a held key signs the TLS handshakes itself.
//
// A Renewer keeps a credential fresh on a background thread: it renews on a schedule
// (two thirds into the life by default, WithExpiresIn, WithRenewPeriod), retries through
// CA outages, optionally rekeys (WithRekey, also to new keys in a PKCS#11 token) and
// writes the files (WithFiles), reporting RenewerEvents to a function or a channel. Its
// GetCertificate and GetClientCertificate give crypto/tls the current certificate, so that
// servers and clients pick up each renewal without a restart; Run(ctx) renews until ctx
// ends.
//
// A device born with a certificate from its maker's factory CA (an IDevID) enrolls
// through step-ca's X5C provisioner: NewX5CProvisioner makes tokens signed by the factory
// credential's key, for a client (WithX5CProvisioner) or one call
// (WithCallX5CProvisioner, WithRevokeX5CProvisioner).
//
// A device whose clock cannot be trusted gives the client a time source
// (WithTimeSource) or lets it follow the CA's clock (WithCATime). A clock before the
// root's notBefore gives ErrClock; a token refused for a clock off carries the measured
// offset (Error.ClockSkew).
//
// # Contexts
//
// Every call that talks to the CA has a variant taking a context.Context first
// (NewClientContext, SignContext, RenewContext, RekeyContext, RevokeContext,
// RevokeWithCertificateContext, HealthContext, VersionContext, RootsContext,
// FederationContext, IntermediatesContext, ProvisionersContext,
// FetchJWKProvisionerContext); the methods without one use context.Background().
// libstepca has neither a per-call timeout nor a way to stop a request in flight, so this
// is exactly what a context does:
//
//   - Done before the call: its error is returned and nothing is sent.
//   - Done before a Go token provider would be asked (WithTokenProvider,
//     WithCallTokenProvider): the provider is not asked and nothing is sent.
//   - Done while the request is on the wire (a cancel, or its deadline): the method
//     returns ctx.Err() within milliseconds, but the request is abandoned, not stopped. It
//     runs on until libstepca ends it, at most the client's call timeout (WithTimeouts;
//     30 s by default, retries included), and its outcome is discarded: the CA may still
//     have issued, renewed or revoked. Until it ends, Close waits for it and the
//     Credential it uses stays busy. A client or provisioner it makes is closed.
//
// A deadline therefore bounds how long the caller waits, not how long the request runs;
// to bound both, give the client a call timeout no longer than the deadlines you use.
//
// The package requires cgo and finds libstepca through pkg-config (stepca.pc, installed
// by `make install`; set PKG_CONFIG_PATH when the prefix is not one pkg-config searches).
// Build with -tags stepca_static to link libstepca.a instead of libstepca.so. To build
// against a checkout without installing, use the uninstalled stepca.pc that `make` writes:
// PKG_CONFIG_PATH=/path/to/checkout/build/pkgconfig.
package stepca

// Deliberately unwrapped (checked by scripts/check-bindings.py):
//   stepca_client_builder_set_token_provider: the client's provider is set on each
//     call's options instead (stepca_sign_options_set_token_provider,
//     stepca_revoke_options_set_token_provider), so each call has its own handle, deleted
//     when the call returns, through which the provider's error comes back unchanged
//   stepca_chain_pem: a Chain is []*x509.Certificate parsed from each certificate's DER
//     (stepca_chain_get); Chain.PEM encodes those with encoding/pem
//   stepca_read_password_file: ReadPasswordFile applies the same rule to what os.ReadFile
//     read, so that a missing file is an fs error (errors.Is(err, fs.ErrNotExist))
//   stepca_chain_serial: Leaf().SerialNumber (crypto/x509) is the serial
//   stepca_chain_validity: Leaf().NotBefore and Leaf().NotAfter (crypto/x509) are the
//     validity
//   stepca_renew: C shorthand for a credential's renew; Go has one way, Client.Renew with a
//     *Credential
//   stepca_renew_external: C shorthand, as stepca_renew
//   stepca_rekey: C shorthand, as stepca_renew (Client.Rekey with a *Credential)
//   stepca_revoke_with_certificate: C shorthand, as stepca_renew
//     (Client.RevokeWithCertificate with a *Credential)
//   stepca_sign_options_set_jwk_provisioner: a per-call provisioner is
//     WithCallTokenProvider with a function calling JWKProvisioner.SignToken; the client's
//     provisioner is WithJWKProvisioner
//   stepca_revoke_options_set_jwk_provisioner: as above, with JWKProvisioner.RevokeToken
