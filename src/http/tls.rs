//! Optional TLS on the listener, for deployments without a terminating proxy: rustls (TLS 1.2 and
//! 1.3 only; rustls has nothing older) with the certificate chain and private key of
//! `server.tls_cert_file` / `server.tls_key_file`, both PEM. The handshake runs inside the
//! connection's task under the header-read deadline, so a client that stalls it holds a
//! connection slot no longer than a slowloris would.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// The acceptor for a certificate chain and key. Errors name the file and what is wrong with it
/// (the daemon refuses to start rather than serve plain HTTP by mistake).
pub fn acceptor(cert_file: &Path, key_file: &Path) -> anyhow::Result<TlsAcceptor> {
    let certs = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("cannot read the TLS certificates in {}: {e}", cert_file.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{} holds no PEM certificate", cert_file.display());
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| anyhow::anyhow!("cannot read the TLS private key in {}: {e}", key_file.display()))?;
    // An explicit provider: rustls is also linked with other providers by other crates, and the
    // process-wide default would then be ambiguous.
    let mut config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| anyhow::anyhow!("the TLS certificate and key do not fit together: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
