package stepca_test

import (
	"fmt"
	"testing"

	stepca "github.com/libstepca/libstepca/bindings/go"
)

// Every enumeration prints a name, distinct within its type, and an unknown value prints
// as its type and number.
func TestEnumStrings(t *testing.T) {
	cases := []struct {
		typ   string
		names map[fmt.Stringer]string
		bad   fmt.Stringer
	}{
		{"Purpose", map[fmt.Stringer]string{stepca.PurposeSign: "sign", stepca.PurposeRevoke: "revoke"}, stepca.Purpose(99)},
		{"KeyType", map[fmt.Stringer]string{stepca.RSA2048: "RSA-2048", stepca.RSA3072: "RSA-3072", stepca.RSA4096: "RSA-4096",
			stepca.ECP256: "EC-P256", stepca.ECP384: "EC-P384", stepca.Ed25519: "Ed25519"}, stepca.KeyType(99)},
		{"KeyAlgorithm", map[fmt.Stringer]string{stepca.AlgRSA: "RSA", stepca.AlgECP256: "EC-P256", stepca.AlgECP384: "EC-P384",
			stepca.AlgEd25519: "Ed25519"}, stepca.KeyAlgorithm(99)},
		{"Format", map[fmt.Stringer]string{stepca.PEM: "PEM", stepca.DER: "DER"}, stepca.Format(99)},
		{"SignatureAlgorithm", map[fmt.Stringer]string{stepca.SigDefault: "default", stepca.SigRSAPKCS1SHA256: "RSA-PKCS1-SHA256",
			stepca.SigRSAPKCS1SHA384: "RSA-PKCS1-SHA384", stepca.SigRSAPKCS1SHA512: "RSA-PKCS1-SHA512",
			stepca.SigECDSAP256SHA256: "ECDSA-P256-SHA256", stepca.SigECDSAP384SHA384: "ECDSA-P384-SHA384",
			stepca.SigEd25519: "Ed25519"}, stepca.SignatureAlgorithm(99)},
		{"RenewAuth", map[fmt.Stringer]string{stepca.RenewAuto: "auto", stepca.RenewMTLS: "mTLS", stepca.RenewToken: "token"}, stepca.RenewAuth(99)},
		{"RenewerEventKind", map[fmt.Stringer]string{stepca.RenewerScheduled: "scheduled", stepca.RenewerRenewed: "renewed",
			stepca.RenewerFailed: "failed", stepca.RenewerWriteFailed: "write failed"}, stepca.RenewerEventKind(99)},
		{"RevocationReason", map[fmt.Stringer]string{stepca.ReasonUnspecified: "unspecified", stepca.ReasonKeyCompromise: "keyCompromise",
			stepca.ReasonCACompromise: "cACompromise", stepca.ReasonAffiliationChanged: "affiliationChanged",
			stepca.ReasonSuperseded: "superseded", stepca.ReasonCessationOfOperation: "cessationOfOperation",
			stepca.ReasonCertificateHold: "certificateHold", stepca.ReasonRemoveFromCRL: "removeFromCRL",
			stepca.ReasonPrivilegeWithdrawn: "privilegeWithdrawn", stepca.ReasonAACompromise: "aACompromise"}, stepca.RevocationReason(7)},
	}
	for _, c := range cases {
		seen := map[string]bool{}
		for v, want := range c.names {
			if got := v.String(); got != want {
				t.Errorf("%s %#v: String() = %q, want %q", c.typ, v, got, want)
			}
			if seen[want] {
				t.Errorf("%s: %q used twice", c.typ, want)
			}
			seen[want] = true
		}
		if got, want := c.bad.String(), fmt.Sprintf("%s(%v)", c.typ, unknownNumber(c.bad)); got != want {
			t.Errorf("unknown %s: String() = %q, want %q", c.typ, got, want)
		}
	}
}

func unknownNumber(v fmt.Stringer) int {
	if r, ok := v.(stepca.RevocationReason); ok {
		return int(r)
	}
	return 99
}

func TestKeyUsageString(t *testing.T) {
	for u, want := range map[stepca.KeyUsage]string{
		0:                                "none",
		stepca.KeyUsageDigitalSignature:  "digitalSignature",
		stepca.KeyUsageContentCommitment: "contentCommitment",
		stepca.KeyUsageKeyEncipherment:   "keyEncipherment",
		stepca.KeyUsageDataEncipherment:  "dataEncipherment",
		stepca.KeyUsageKeyAgreement:      "keyAgreement",
		stepca.KeyUsageCertSign:          "keyCertSign",
		stepca.KeyUsageCRLSign:           "cRLSign",
		stepca.KeyUsageEncipherOnly:      "encipherOnly",
		stepca.KeyUsageDecipherOnly:      "decipherOnly",
		stepca.KeyUsageDigitalSignature | stepca.KeyUsageKeyEncipherment: "digitalSignature|keyEncipherment",
		stepca.KeyUsageCRLSign | 1<<20:                                   "cRLSign|KeyUsage(0x100000)",
	} {
		if got := u.String(); got != want {
			t.Errorf("KeyUsage(%#x).String() = %q, want %q", uint32(u), got, want)
		}
	}
}

// Every error code has libstepca's description, distinct from the others, and an unknown
// code still prints something.
func TestCodeStrings(t *testing.T) {
	codes := []stepca.Code{stepca.CodeOK, stepca.CodeInvalidArgument, stepca.CodeNullArgument, stepca.CodePanic,
		stepca.CodeInternal, stepca.CodeUnsupported, stepca.CodeKey, stepca.CodeKeyPassphrase, stepca.CodeCSR,
		stepca.CodeTokenProvider, stepca.CodeNoToken, stepca.CodeSigner, stepca.CodeTransport, stepca.CodeTLS,
		stepca.CodeTimeout, stepca.CodeClock, stepca.CodeCARejected, stepca.CodeMalformedResponse,
		stepca.CodeChainInvalid, stepca.CodeFingerprint, stepca.CodeIO}
	seen := map[string]stepca.Code{}
	for _, c := range codes {
		s := c.String()
		if s == "" {
			t.Errorf("Code(%d).String() is empty", int(c))
		}
		if o, dup := seen[s]; dup {
			t.Errorf("Code(%d) and Code(%d) both print %q", int(c), int(o), s)
		}
		seen[s] = c
	}
	if s := stepca.Code(12345).String(); s == "" {
		t.Error("an unknown code prints as the empty string")
	}
}
