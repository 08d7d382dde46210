//go:build cgo

package stepca

// #include "stepca.h"
import "C"

import (
	"net"
	"net/url"
	"runtime"
	"slices"
)

// Attribute is one subject attribute: a name (CN, C, ST, L, O, OU, emailAddress,
// serialNumber, ...) or a dotted OID, and its value.
type Attribute struct {
	Name, Value string
}

// KeyUsage is a set of keyUsage bits.
type KeyUsage uint32

// keyUsage bits.
const (
	KeyUsageDigitalSignature  = KeyUsage(C.STEPCA_KU_DIGITAL_SIGNATURE)
	KeyUsageContentCommitment = KeyUsage(C.STEPCA_KU_CONTENT_COMMITMENT)
	KeyUsageKeyEncipherment   = KeyUsage(C.STEPCA_KU_KEY_ENCIPHERMENT)
	KeyUsageDataEncipherment  = KeyUsage(C.STEPCA_KU_DATA_ENCIPHERMENT)
	KeyUsageKeyAgreement      = KeyUsage(C.STEPCA_KU_KEY_AGREEMENT)
	KeyUsageCertSign          = KeyUsage(C.STEPCA_KU_KEY_CERT_SIGN)
	KeyUsageCRLSign           = KeyUsage(C.STEPCA_KU_CRL_SIGN)
	KeyUsageEncipherOnly      = KeyUsage(C.STEPCA_KU_ENCIPHER_ONLY)
	KeyUsageDecipherOnly      = KeyUsage(C.STEPCA_KU_DECIPHER_ONLY)
)

// SignatureAlgorithm selects the CSR's signature algorithm; the zero value follows the key.
type SignatureAlgorithm uint32

// Signature algorithms.
const (
	SigDefault         = SignatureAlgorithm(C.STEPCA_SIG_DEFAULT)
	SigRSAPKCS1SHA256  = SignatureAlgorithm(C.STEPCA_SIG_RSA_PKCS1_SHA256)
	SigRSAPKCS1SHA384  = SignatureAlgorithm(C.STEPCA_SIG_RSA_PKCS1_SHA384)
	SigRSAPKCS1SHA512  = SignatureAlgorithm(C.STEPCA_SIG_RSA_PKCS1_SHA512)
	SigECDSAP256SHA256 = SignatureAlgorithm(C.STEPCA_SIG_ECDSA_P256_SHA256)
	SigECDSAP384SHA384 = SignatureAlgorithm(C.STEPCA_SIG_ECDSA_P384_SHA384)
	SigEd25519         = SignatureAlgorithm(C.STEPCA_SIG_ED25519)
)

// BasicConstraints to request. PathLen < 0 means no path length constraint.
type BasicConstraints struct {
	CA      bool
	PathLen int
}

// Extension is any other extension, by dotted OID, with its DER-encoded value.
type Extension struct {
	OID      string
	Critical bool
	Value    []byte
}

// Format is an output encoding.
type Format uint32

// Encodings.
const (
	PEM = Format(C.STEPCA_FORMAT_PEM)
	DER = Format(C.STEPCA_FORMAT_DER)
)

// CSRRequest says what a CSR contains. It mirrors the Python plugin's SubjectSpec,
// AltNameSpec and CertExtensionSpec.
type CSRRequest struct {
	// Subject attributes, in DN order.
	Subject            []Attribute
	DNSNames           []string
	IPAddresses        []net.IP
	EmailAddresses     []string
	URIs               []*url.URL
	BasicConstraints   *BasicConstraints
	KeyUsage           KeyUsage
	ExtKeyUsage        []string // names (serverAuth, clientAuth, ...) or dotted OIDs
	Extensions         []Extension
	ChallengePassword  string
	SignatureAlgorithm SignatureAlgorithm
}

// clone copies req deeply (nil stays nil): a call that may outlive its caller reads the
// copy, never what the caller changes next.
func (req *CSRRequest) clone() *CSRRequest {
	if req == nil {
		return nil
	}
	c := *req
	c.Subject = slices.Clone(req.Subject)
	c.DNSNames = slices.Clone(req.DNSNames)
	c.IPAddresses = make([]net.IP, len(req.IPAddresses))
	for i, ip := range req.IPAddresses {
		c.IPAddresses[i] = slices.Clone(ip)
	}
	c.EmailAddresses = slices.Clone(req.EmailAddresses)
	c.URIs = make([]*url.URL, len(req.URIs))
	for i, u := range req.URIs {
		if u != nil {
			v := *u
			if u.User != nil {
				user := *u.User
				v.User = &user
			}
			c.URIs[i] = &v
		}
	}
	if req.BasicConstraints != nil {
		bc := *req.BasicConstraints
		c.BasicConstraints = &bc
	}
	c.ExtKeyUsage = slices.Clone(req.ExtKeyUsage)
	c.Extensions = make([]Extension, len(req.Extensions))
	for i, e := range req.Extensions {
		e.Value = slices.Clone(e.Value)
		c.Extensions[i] = e
	}
	return &c
}

// CreateCSR builds and signs a PKCS#10 CSR for req with key, in format.
func CreateCSR(key *Key, req *CSRRequest, format Format) ([]byte, error) {
	if key == nil {
		return nil, invalid("key", "must not be nil")
	}
	var out []byte
	err := withRequest(req, func(rp *C.stepca_csr_request) error {
		return key.use(func(kp *C.stepca_key) error {
			b, err := callBuffer(func(buf **C.uint8_t, n *C.size_t, e **C.stepca_error) C.stepca_status {
				return C.stepca_create_csr(kp, rp, C.stepca_format(format), buf, n, e)
			})
			out = b
			return err
		})
	})
	return out, err
}

// withRequest runs f with a libstepca CSR request holding req's fields.
func withRequest(req *CSRRequest, f func(*C.stepca_csr_request) error) error {
	if req == nil {
		req = &CSRRequest{}
	}
	var rp *C.stepca_csr_request
	var cerr *C.stepca_error
	if err := takeError(C.stepca_csr_request_new(&rp, &cerr), cerr); err != nil {
		return err
	}
	defer C.stepca_csr_request_free(rp)

	for _, a := range req.Subject {
		name, freeName := cString(a.Name)
		value, freeValue := cString(a.Value)
		err := callC(func(e **C.stepca_error) C.stepca_status {
			return C.stepca_csr_request_add_subject(rp, name, value, e)
		})
		freeName()
		freeValue()
		if err != nil {
			return err
		}
	}
	addSAN := func(t C.stepca_san_type, v string) error {
		cv, free := cString(v)
		defer free()
		return callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_csr_request_add_san(rp, t, cv, e) })
	}
	for _, d := range req.DNSNames {
		if err := addSAN(C.STEPCA_SAN_DNS, d); err != nil {
			return err
		}
	}
	for _, ip := range req.IPAddresses {
		if ip == nil {
			return invalid("san.ip", "nil IP address")
		}
		if err := addSAN(C.STEPCA_SAN_IP, ip.String()); err != nil {
			return err
		}
	}
	for _, m := range req.EmailAddresses {
		if err := addSAN(C.STEPCA_SAN_EMAIL, m); err != nil {
			return err
		}
	}
	for _, u := range req.URIs {
		if u == nil {
			return invalid("san.uri", "nil URL")
		}
		if err := addSAN(C.STEPCA_SAN_URI, u.String()); err != nil {
			return err
		}
	}
	if bc := req.BasicConstraints; bc != nil {
		if err := callC(func(e **C.stepca_error) C.stepca_status {
			return C.stepca_csr_request_set_basic_constraints(rp, C.bool(bc.CA), C.int32_t(bc.PathLen), e)
		}); err != nil {
			return err
		}
	}
	if req.KeyUsage != 0 {
		if err := callC(func(e **C.stepca_error) C.stepca_status {
			return C.stepca_csr_request_set_key_usage(rp, C.uint32_t(req.KeyUsage), e)
		}); err != nil {
			return err
		}
	}
	for _, eku := range req.ExtKeyUsage {
		ce, free := cString(eku)
		err := callC(func(e **C.stepca_error) C.stepca_status { return C.stepca_csr_request_add_ext_key_usage(rp, ce, e) })
		free()
		if err != nil {
			return err
		}
	}
	for _, x := range req.Extensions {
		oid, free := cString(x.OID)
		v, n := bytesPtr(x.Value)
		err := callC(func(e **C.stepca_error) C.stepca_status {
			return C.stepca_csr_request_add_extension(rp, oid, C.bool(x.Critical), v, n, e)
		})
		runtime.KeepAlive(x.Value)
		free()
		if err != nil {
			return err
		}
	}
	if req.ChallengePassword != "" {
		pw, free := cSecret([]byte(req.ChallengePassword))
		err := callC(func(e **C.stepca_error) C.stepca_status {
			return C.stepca_csr_request_set_challenge_password(rp, pw, e)
		})
		free()
		if err != nil {
			return err
		}
	}
	if err := callC(func(e **C.stepca_error) C.stepca_status {
		return C.stepca_csr_request_set_signature_algorithm(rp, C.stepca_sig_alg(req.SignatureAlgorithm), e)
	}); err != nil {
		return err
	}

	return f(rp)
}
