package stepca

import (
	"bytes"
	"os"
	"unicode"
)

// ReadPasswordFile reads a password (a JWK provisioner's, a key's passphrase) from a file
// as step does (ReadPasswordFromFile in step's CLI): the trailing white space is cut, so
// the newline an editor or `echo` leaves (\n or \r\n) is not part of the password.
// Passwords that step itself stored from such a file never end in white space, so the
// same file works for both. A UTF-8 byte-order mark is skipped, leading white space kept:
// the rule of the library's stepca_read_password_file, which C, C++, Rust and the stepca
// command use (read here with os.ReadFile so that errors are fs errors). Wipe the result
// after use if it matters.
func ReadPasswordFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	return bytes.TrimRightFunc(b, unicode.IsSpace), nil
}
