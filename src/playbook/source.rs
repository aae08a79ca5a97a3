//! Reading TOML files (inventory, playbook) with errors that name the file, the line and what
//! was expected.

use std::path::{Path, PathBuf};

/// Largest inventory or playbook file we accept; anything bigger is a mistake, not a cluster.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// An error in an input file: where it is and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), location(*line, *column))]
pub struct ConfigError {
    /// The file the error is in.
    pub path: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
}

/// Reads an input file of at most `limit` bytes: opened without blocking (a FIFO with no
/// writer would wait forever), checked to be a regular file on the opened descriptor (no race
/// with a rename), and read through a limit (a file that grows while read is still cut off).
///
/// # Errors
/// A [`ConfigError`] naming the file: not found or unreadable, a directory, not a regular file,
/// or larger than `limit`.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ConfigError> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let err = |message: String| ConfigError {
        path: path.to_path_buf(),
        line: None,
        column: None,
        message,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| err(format!("cannot read: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| err(format!("cannot read: {e}")))?;
    let ft = meta.file_type();
    if ft.is_dir() {
        return Err(err("is a directory, expected a TOML file".into()));
    }
    if !ft.is_file() {
        let kind = if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_char_device() {
            "a character device"
        } else if ft.is_block_device() {
            "a block device"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "a special file"
        };
        return Err(err(format!(
            "is not a regular file ({kind}); expected a TOML file"
        )));
    }
    let too_big = |len: u64| {
        err(format!(
            "file is {len} bytes, larger than the {limit} bytes accepted for a TOML input"
        ))
    };
    if meta.len() > limit {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| err(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

/// The text of one input file, kept to turn byte offsets into line numbers.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Where the text came from (shown in errors).
    pub path: PathBuf,
    /// The whole text.
    pub text: String,
}

impl SourceFile {
    /// Reads a file, refusing anything that is not a regular file (a FIFO, `/dev/zero`, a
    /// directory), files over [`MAX_FILE_BYTES`] and non-UTF-8 text, with a clear error.
    pub fn read(path: &Path) -> Result<SourceFile, ConfigError> {
        let bytes = read_bounded(path, MAX_FILE_BYTES)?;
        match String::from_utf8(bytes) {
            Ok(text) => Ok(SourceFile {
                path: path.to_path_buf(),
                text,
            }),
            Err(e) => {
                let offset = e.utf8_error().valid_up_to();
                let line = e.as_bytes()[..offset]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count()
                    + 1;
                Err(ConfigError {
                    path: path.to_path_buf(),
                    line: Some(line),
                    column: None,
                    message: "is not valid UTF-8 text (TOML files must be UTF-8)".into(),
                })
            }
        }
    }

    /// Wraps text that did not come from disk (e.g. the built-in playbook).
    pub fn from_text(name: &str, text: &str) -> SourceFile {
        SourceFile {
            path: PathBuf::from(name),
            text: text.to_string(),
        }
    }

    /// The 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text.as_bytes()[..offset];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map(|p| p + 1)
            .unwrap_or(0);
        (line, offset - line_start + 1)
    }

    /// An error at a byte offset of this file.
    pub fn error_at(&self, offset: Option<usize>, message: impl Into<String>) -> ConfigError {
        let (line, column) = match offset {
            Some(o) => {
                let (l, c) = self.line_col(o);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        ConfigError {
            path: self.path.clone(),
            line,
            column,
            message: message.into(),
        }
    }

    /// Deserializes the whole file, turning serde errors into located ones.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConfigError> {
        toml::from_str::<T>(&self.text).map_err(|e| {
            let message = e.message().trim().to_string();
            self.error_at(e.span().map(|s| s.start), message)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_of_an_offset() {
        let f = SourceFile::from_text("x.toml", "a = 1\nbb = 2\n");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(6), (2, 1));
        assert_eq!(f.line_col(9), (2, 4));
    }

    #[test]
    fn a_type_error_names_file_line_and_expectation() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            port: u16,
        }
        let f = SourceFile::from_text("inv.toml", "\n\nport = \"twenty-two\"\n");
        let e = f.parse::<T>().unwrap_err();
        assert_eq!(e.line, Some(3));
        let shown = e.to_string();
        assert!(shown.starts_with("inv.toml:3:"), "{shown}");
        assert!(
            shown.contains("u16") || shown.contains("integer"),
            "{shown}"
        );
    }

    #[test]
    fn non_utf8_file_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, b"a = 1\nb = \"\xff\"\n").unwrap();
        let e = SourceFile::read(&p).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("UTF-8"));
    }
}
