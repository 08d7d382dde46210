// The C++ wrapper from an installed tree.
#include <cstdio>

#include <stepca.hpp>

int main() {
  auto key = stepca::Key::generate(stepca::KeyType::Ed25519);
  std::string csr = stepca::CsrRequest().subject("CN", "installed-cpp.example.com").build(key);
  std::printf("C++ consumer: %zu-byte CSR\n", csr.size());
  return csr.rfind("-----BEGIN CERTIFICATE REQUEST-----", 0) == 0 ? 0 : 1;
}
