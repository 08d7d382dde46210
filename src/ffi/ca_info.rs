//! Read-only calls on a client: health, version, roots, federation, intermediates,
//! provisioners.

use super::buffer::hand_out;
use super::client::stepca_client;
use super::error::{stepca_error, stepca_status};
use super::{FfiResult, call, handle, out, out_len};
use crate::client::Client;

/// `GET /health`: `STEPCA_OK` when step-ca reports ok.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_health(
    client: *const stepca_client,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: NULL or a live client.
        let c = unsafe { handle(client, "client")? };
        Ok(c.client.health()?)
    })
}

/// Runs `f` and hands its bytes out as a new buffer.
fn fetch(
    client: *const stepca_client,
    buf_out: *mut *mut u8,
    buf_len: *mut usize,
    error: *mut *mut stepca_error,
    f: impl FnOnce(&Client) -> FfiResult<Vec<u8>>,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, len, c) = unsafe {
            (
                out(buf_out, "buf_out")?,
                out_len(buf_len, "buf_len")?,
                handle(client, "client")?,
            )
        };
        hand_out(&f(&c.client)?, slot, len)
    })
}

fn pem_bundle(certs: Vec<Vec<u8>>) -> Vec<u8> {
    certs
        .iter()
        .map(|c| crate::chain::cert_pem(c))
        .collect::<String>()
        .into_bytes()
}

/// `GET /version`: step-ca's version string, NUL-terminated, in a new buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_version(
    client: *const stepca_client,
    buf_out: *mut *mut u8,
    buf_len: *mut usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    fetch(client, buf_out, buf_len, error, |c| {
        Ok(c.version()?.into_bytes())
    })
}

/// `GET /roots`: the CA's roots as a PEM bundle in a new buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_roots(
    client: *const stepca_client,
    buf_out: *mut *mut u8,
    buf_len: *mut usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    fetch(client, buf_out, buf_len, error, |c| {
        Ok(pem_bundle(c.ca_roots()?))
    })
}

/// `GET /federation`: roots and federated roots as a PEM bundle in a new buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_federation(
    client: *const stepca_client,
    buf_out: *mut *mut u8,
    buf_len: *mut usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    fetch(client, buf_out, buf_len, error, |c| {
        Ok(pem_bundle(c.federation()?))
    })
}

/// `GET /intermediates`: the CA's intermediates as a PEM bundle in a new buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_intermediates(
    client: *const stepca_client,
    buf_out: *mut *mut u8,
    buf_len: *mut usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    fetch(client, buf_out, buf_len, error, |c| {
        Ok(pem_bundle(c.intermediates()?))
    })
}

/// `GET /provisioners`, every page: a JSON array of the provisioner objects step-ca sends,
/// NUL-terminated, in a new buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_provisioners(
    client: *const stepca_client,
    buf_out: *mut *mut u8,
    buf_len: *mut usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    fetch(client, buf_out, buf_len, error, |c| {
        Ok(serde_json::Value::Array(c.provisioners()?)
            .to_string()
            .into_bytes())
    })
}
