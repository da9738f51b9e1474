//! Test certificates: a CA, the SM-DP+'s certificate and the operator's client certificate.
//!
//! Real ES2+ runs over TLS with certificates the two parties agree on (SGP.22 leaves the ES2+ PKI
//! to them, unlike ES9+). For tests one throw-away CA signs both sides, so each side trusts the
//! other by trusting `ca.pem`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};

/// The CA certificate that signed both other certificates.
pub const CA_CERT: &str = "ca.pem";
/// The CA's private key, kept so more certificates can be signed by hand (e.g. with openssl).
pub const CA_KEY: &str = "ca-key.pem";
/// The SM-DP+'s certificate: its HTTPS server certificate, and its client certificate when it
/// sends HandleDownloadProgressInfo to the operator.
pub const SMDP_CERT: &str = "smdp.pem";
/// The SM-DP+'s private key.
pub const SMDP_KEY: &str = "smdp-key.pem";
/// The operator's (simdesk's) client certificate for ES2+ calls.
pub const OPERATOR_CERT: &str = "operator.pem";
/// The operator's private key.
pub const OPERATOR_KEY: &str = "operator-key.pem";
/// The operator's certificate followed by its key in one file, the form some clients (reqwest's
/// `Identity::from_pem`, curl's `--cert`) want.
pub const OPERATOR_IDENTITY: &str = "operator-identity.pem";

/// Where the files written by [`write`] are.
#[derive(Debug, Clone)]
pub struct CertPaths {
    pub dir: PathBuf,
}

impl CertPaths {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Writes a fresh CA, SM-DP+ certificate and operator certificate (PEM) into `dir`, creating it.
///
/// Both leaf certificates name `localhost`, 127.0.0.1 and ::1 and allow both server and client
/// authentication: the SM-DP+ is a client when it notifies, and a test may run the operator's
/// notification endpoint over HTTPS with the operator certificate.
pub fn write(dir: &Path) -> anyhow::Result<CertPaths> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;

    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.distinguished_name = name("simdesk test ES2+ CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate()?;
    let ca_key_pem = ca_key.serialize_pem();
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key)?;

    let leaf = |common_name: &str| -> anyhow::Result<(String, String)> {
        let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
        params.distinguished_name = name(common_name);
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &ca)?;
        Ok((cert.pem(), key.serialize_pem()))
    };
    let (smdp_cert, smdp_key) = leaf("simdesk test SM-DP+")?;
    let (operator_cert, operator_key) = leaf("simdesk operator")?;

    let paths = CertPaths::new(dir);
    write_file(&paths.file(CA_CERT), &ca.pem(), false)?;
    write_file(&paths.file(CA_KEY), &ca_key_pem, true)?;
    write_file(&paths.file(SMDP_CERT), &smdp_cert, false)?;
    write_file(&paths.file(SMDP_KEY), &smdp_key, true)?;
    write_file(&paths.file(OPERATOR_CERT), &operator_cert, false)?;
    write_file(&paths.file(OPERATOR_KEY), &operator_key, true)?;
    write_file(
        &paths.file(OPERATOR_IDENTITY),
        &format!("{operator_cert}{operator_key}"),
        true,
    )?;
    Ok(paths)
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "simdesk tests");
    dn
}

/// Writes a file; private keys are readable by the owner only, as any key file should be.
fn write_file(path: &Path, text: &str, secret: bool) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    Ok(())
}
