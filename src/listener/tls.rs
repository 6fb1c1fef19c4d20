//! https for the webhook listener: a certificate chain and key read from PEM files, checked
//! up front so a wrong file is named before the run rather than failing every handshake.
//!
//! Graph-like services only POST notifications to `https://` callbacks, so a listener a
//! remote target can reach directly has to speak TLS. The crypto provider is aws-lc-rs, the
//! one reqwest already brings, so the project carries a single crypto stack.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Largest certificate or key file read: anything bigger is not a PEM file.
const MAX_PEM: u64 = 1024 * 1024;

/// The listener's TLS identity: a ready server configuration plus the certificate PEM, so
/// an in-process target can be told to trust exactly this listener.
#[derive(Clone)]
pub struct ListenerTls {
    server: Arc<rustls::ServerConfig>,
    cert_pem: Vec<u8>,
}

impl fmt::Debug for ListenerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("ListenerTls").finish_non_exhaustive()
    }
}

fn read_capped(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if meta.len() > MAX_PEM {
        return Err(format!(
            "{shown}: over the {MAX_PEM} byte limit for PEM files"
        ));
    }
    std::fs::read(path).map_err(|e| format!("{shown}: cannot read: {e}"))
}

/// The crypto provider every TLS configuration of the project uses.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

impl ListenerTls {
    /// Reads the certificate chain (leaf first, then intermediates) and the private key
    /// (PKCS#8, PKCS#1 or SEC1), and checks that the key belongs to the leaf.
    /// Every error names the file it is about.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<ListenerTls, String> {
        let cert_pem = read_capped(cert_file)?;
        let key_pem = read_capped(key_file)?;
        Self::from_pem(&cert_pem, &key_pem, cert_file, key_file)
    }

    /// Like [`ListenerTls::load`] from bytes already read; the paths are for messages.
    pub fn from_pem(
        cert_pem: &[u8],
        key_pem: &[u8],
        cert_file: &Path,
        key_file: &Path,
    ) -> Result<ListenerTls, String> {
        let (cert_shown, key_shown) = (cert_file.display(), key_file.display());
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{cert_shown}: not a valid PEM certificate file: {e}"))?;
        if chain.is_empty() {
            return Err(format!(
                "{cert_shown}: no PEM `CERTIFICATE` block in it (is it the key file?)"
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => format!(
                "{key_shown}: no PEM `PRIVATE KEY` block in it (is it the certificate file?)"
            ),
            e => format!("{key_shown}: not a valid PEM private key file: {e}"),
        })?;
        let provider = provider();
        let signing_key = provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| format!("{key_shown}: not a usable private key: {e}"))?;
        let certified = rustls::sign::CertifiedKey::new(chain, signing_key);
        match certified.keys_match() {
            Ok(()) => {}
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
                return Err(format!(
                    "{key_shown}: the private key does not belong to the certificate in {cert_shown}"
                ));
            }
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
            Err(e) => {
                return Err(format!(
                    "{cert_shown}: the first certificate is not a usable X.509 certificate: {e}"
                ));
            }
        }
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS set-up: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
        // The listener speaks HTTP/1.1 only.
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ListenerTls {
            server: Arc::new(server),
            cert_pem: cert_pem.to_vec(),
        })
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.server.clone())
    }

    /// The certificate file's PEM (leaf and any chain): what a target must trust to
    /// deliver to this listener.
    pub fn cert_pem(&self) -> &[u8] {
        &self.cert_pem
    }
}

/// Reads a PEM file of root certificates to trust (`--callback-ca`), checking each parses
/// as a trust anchor, so a wrong file is named here rather than at the first delivery.
pub fn read_roots(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let pem = read_capped(path)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{shown}: not a valid PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{shown}: no PEM `CERTIFICATE` block in it"));
    }
    let mut store = rustls::RootCertStore::empty();
    for (i, c) in certs.into_iter().enumerate() {
        store.add(c).map_err(|e| {
            format!(
                "{shown}: certificate {} is not usable as a root: {e}",
                i + 1
            )
        })?;
    }
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(names: &[&str]) -> (String, String) {
        let c = rcgen::generate_simple_self_signed(
            names.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .expect("rcgen");
        (c.cert.pem(), c.signing_key.serialize_pem())
    }

    fn load(cert: &str, key: &str) -> Result<ListenerTls, String> {
        ListenerTls::from_pem(
            cert.as_bytes(),
            key.as_bytes(),
            Path::new("dir/cert.pem"),
            Path::new("dir/key.pem"),
        )
    }

    #[test]
    fn a_matching_pair_loads() {
        let (cert, key) = pair(&["localhost"]);
        let t = load(&cert, &key).expect("loads");
        assert_eq!(t.cert_pem(), cert.as_bytes());
        assert!(!format!("{t:?}").contains("PRIVATE"));
    }

    #[test]
    fn each_wrong_file_is_named() {
        let (cert, key) = pair(&["localhost"]);
        let (_, other_key) = pair(&["localhost"]);
        let cases = [
            (
                key.as_str(),
                key.as_str(),
                "dir/cert.pem: no PEM `CERTIFICATE`",
            ),
            (
                cert.as_str(),
                cert.as_str(),
                "dir/key.pem: no PEM `PRIVATE KEY`",
            ),
            ("", key.as_str(), "dir/cert.pem: no PEM"),
            (
                cert.as_str(),
                other_key.as_str(),
                "dir/key.pem: the private key does not belong to the certificate in dir/cert.pem",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                key.as_str(),
                "dir/cert.pem",
            ),
            (
                cert.as_str(),
                "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
                "dir/key.pem",
            ),
        ];
        for (c, k, want) in cases {
            match load(c, k) {
                Ok(_) => panic!("accepted; wanted an error with `{want}`"),
                Err(e) => assert!(e.contains(want), "`{e}` lacks `{want}`"),
            }
        }
    }

    #[test]
    fn an_unreadable_file_is_named() {
        let e = ListenerTls::load(
            Path::new("/nonexistent/cert.pem"),
            Path::new("/nonexistent/key.pem"),
        )
        .err()
        .unwrap_or_default();
        assert!(e.contains("/nonexistent/cert.pem: cannot read"), "{e}");
        let e = read_roots(Path::new("/nonexistent/ca.pem"))
            .err()
            .unwrap_or_default();
        assert!(e.contains("/nonexistent/ca.pem: cannot read"), "{e}");
    }
}
