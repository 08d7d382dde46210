//go:build cgo

package stepca

import (
	"fmt"
	"strings"
)

// String methods for the enumerations, so that %v prints a name rather than a number. An
// unknown value prints as its type and number (KeyType(99)), never as "".

func unknown(typ string, v any) string { return fmt.Sprintf("%s(%v)", typ, v) }

func (p Purpose) String() string {
	switch p {
	case PurposeSign:
		return "sign"
	case PurposeRevoke:
		return "revoke"
	}
	return unknown("Purpose", int(p))
}

func (t KeyType) String() string {
	switch t {
	case RSA2048:
		return "RSA-2048"
	case RSA3072:
		return "RSA-3072"
	case RSA4096:
		return "RSA-4096"
	case ECP256:
		return "EC-P256"
	case ECP384:
		return "EC-P384"
	case Ed25519:
		return "Ed25519"
	}
	return unknown("KeyType", uint32(t))
}

func (f Format) String() string {
	switch f {
	case PEM:
		return "PEM"
	case DER:
		return "DER"
	}
	return unknown("Format", uint32(f))
}

func (a SignatureAlgorithm) String() string {
	switch a {
	case SigDefault:
		return "default"
	case SigRSAPKCS1SHA256:
		return "RSA-PKCS1-SHA256"
	case SigRSAPKCS1SHA384:
		return "RSA-PKCS1-SHA384"
	case SigRSAPKCS1SHA512:
		return "RSA-PKCS1-SHA512"
	case SigECDSAP256SHA256:
		return "ECDSA-P256-SHA256"
	case SigECDSAP384SHA384:
		return "ECDSA-P384-SHA384"
	case SigEd25519:
		return "Ed25519"
	}
	return unknown("SignatureAlgorithm", uint32(a))
}

func (a RenewAuth) String() string {
	switch a {
	case RenewAuto:
		return "auto"
	case RenewMTLS:
		return "mTLS"
	case RenewToken:
		return "token"
	}
	return unknown("RenewAuth", uint32(a))
}

// keyUsageNames are RFC 5280's names of the keyUsage bits, in the order of the bits.
var keyUsageNames = []struct {
	bit  KeyUsage
	name string
}{
	{KeyUsageDigitalSignature, "digitalSignature"},
	{KeyUsageContentCommitment, "contentCommitment"},
	{KeyUsageKeyEncipherment, "keyEncipherment"},
	{KeyUsageDataEncipherment, "dataEncipherment"},
	{KeyUsageKeyAgreement, "keyAgreement"},
	{KeyUsageCertSign, "keyCertSign"},
	{KeyUsageCRLSign, "cRLSign"},
	{KeyUsageEncipherOnly, "encipherOnly"},
	{KeyUsageDecipherOnly, "decipherOnly"},
}

// String names the set bits, joined by "|" ("digitalSignature|keyEncipherment"); bits
// with no name are added as a number; the empty set is "none".
func (u KeyUsage) String() string {
	if u == 0 {
		return "none"
	}
	var names []string
	for _, n := range keyUsageNames {
		if u&n.bit != 0 {
			names = append(names, n.name)
			u &^= n.bit
		}
	}
	if u != 0 {
		names = append(names, fmt.Sprintf("KeyUsage(%#x)", uint32(u)))
	}
	return strings.Join(names, "|")
}

// RevocationReason is an RFC 5280 CRLReason code, for WithReason.
type RevocationReason int

// RFC 5280 revocation reasons (7 is not used).
const (
	ReasonUnspecified          RevocationReason = 0
	ReasonKeyCompromise        RevocationReason = 1
	ReasonCACompromise         RevocationReason = 2
	ReasonAffiliationChanged   RevocationReason = 3
	ReasonSuperseded           RevocationReason = 4
	ReasonCessationOfOperation RevocationReason = 5
	ReasonCertificateHold      RevocationReason = 6
	ReasonRemoveFromCRL        RevocationReason = 8
	ReasonPrivilegeWithdrawn   RevocationReason = 9
	ReasonAACompromise         RevocationReason = 10
)

// String is RFC 5280's name of the reason (keyCompromise, ...).
func (r RevocationReason) String() string {
	switch r {
	case ReasonUnspecified:
		return "unspecified"
	case ReasonKeyCompromise:
		return "keyCompromise"
	case ReasonCACompromise:
		return "cACompromise"
	case ReasonAffiliationChanged:
		return "affiliationChanged"
	case ReasonSuperseded:
		return "superseded"
	case ReasonCessationOfOperation:
		return "cessationOfOperation"
	case ReasonCertificateHold:
		return "certificateHold"
	case ReasonRemoveFromCRL:
		return "removeFromCRL"
	case ReasonPrivilegeWithdrawn:
		return "privilegeWithdrawn"
	case ReasonAACompromise:
		return "aACompromise"
	}
	return unknown("RevocationReason", int(r))
}
