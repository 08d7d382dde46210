//! Certificates, chains and CSRs given to us as PEM or DER.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(chain) = stepca::CertificateChain::from_pem(data) {
        let _ = chain.serial();
        let _ = chain.validity();
        let _ = chain.common_name();
        let _ = stepca::renew_after(&chain);
        let _ = chain.verify(&[], &[], std::time::SystemTime::now());
        let _ = chain.to_pem();
    }
    let _ = stepca::CertificateChain::from_der(vec![data.to_vec()]);
    let _ = stepca::Csr::from_pem_or_der(data);
});
