//! Subcommands of the `yiwang` binary. Each returns the exit code, or an
//! error (printed, exit 2) for usage and I/O failures.

pub mod crypto;
pub mod dev;
pub mod id;
pub mod netid;
pub mod serve;

use std::path::Path;

/// A failure that is the caller's setup, not the input's validity: exit 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Crypto(#[from] yiwang_core::crypto::CryptoError),
    #[error(transparent)]
    KeyStore(#[from] yiwang_core::crypto::KeyStoreError),
    #[error(transparent)]
    Config(#[from] yiwang_server::config::ConfigError),
    #[error(transparent)]
    Db(#[from] yiwang_server::db::DbError),
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, CliError> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).map_err(|source| {
            CliError::Io {
                path: "<stdin>".into(),
                source,
            }
        })?;
        return Ok(buf);
    }
    std::fs::read(path).map_err(|source| CliError::Io {
        path: path.display().to_string(),
        source,
    })
}

pub(crate) fn read_text(path: &Path) -> Result<String, CliError> {
    String::from_utf8(read_file(path)?)
        .map_err(|_| CliError::Usage(format!("{}: not UTF-8 text", path.display())))
}

/// Prints one JSON value on one line.
pub(crate) fn print_json(value: &serde_json::Value) {
    println!("{value}");
}
