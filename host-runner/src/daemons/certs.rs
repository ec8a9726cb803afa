//! A throwaway self-signed certificate, made once per [`check_tree`](super::check_tree) run with
//! the `openssl` binary and written wherever a config names a certificate the tree does not
//! render (HAProxy `crt`/`ca-file`, Apache `SSLCertificateFile`...).

use std::process::{Command, Stdio};
use std::sync::Mutex;

use super::sandbox::{SANDBOX_PATH, TempDir};
use super::{HarnessError, Job, Tools};

/// PEM text of the certificate and its key.
#[derive(Debug, Clone)]
pub(crate) struct Pem {
    pub(crate) cert: Vec<u8>,
    pub(crate) key: Vec<u8>,
}

impl Pem {
    /// Certificate followed by key, the single-file form HAProxy's `crt` takes.
    pub(crate) fn bundle(&self) -> Vec<u8> {
        let mut out = self.cert.clone();
        out.extend_from_slice(&self.key);
        out
    }
}

/// Makes the certificate on first use and hands out copies.
#[derive(Debug, Default)]
pub(crate) struct CertStore {
    pem: Mutex<Option<Pem>>,
}

impl CertStore {
    pub(crate) fn get(&self, tools: &Tools, job: &Job) -> Result<Pem, HarnessError> {
        let fail = |detail: String| HarnessError::Sandbox {
            daemon: job.daemon,
            host: job.host.clone(),
            detail,
        };
        let mut guard = self
            .pem
            .lock()
            .map_err(|_| fail("certificate store poisoned".into()))?;
        if let Some(pem) = guard.as_ref() {
            return Ok(pem.clone());
        }
        let dir = TempDir::new()?;
        let key = dir.path.join("key.pem");
        let cert = dir.path.join("cert.pem");
        let out = Command::new(&tools.openssl)
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .arg("ec_paramgen_curve:prime256v1")
            .args([
                "-nodes",
                "-days",
                "3650",
                "-subj",
                "/CN=svcintent-check.invalid",
            ])
            .args(["-addext", "subjectAltName=DNS:svcintent-check.invalid"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .env_clear()
            .env("PATH", SANDBOX_PATH)
            .env("HOME", &dir.path)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| fail(format!("cannot run openssl: {e}")))?;
        if !out.status.success() {
            return Err(fail(format!(
                "openssl req failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let pem = Pem {
            cert: std::fs::read(&cert).map_err(super::io_err(&cert))?,
            key: std::fs::read(&key).map_err(super::io_err(&key))?,
        };
        *guard = Some(pem.clone());
        Ok(pem)
    }
}
