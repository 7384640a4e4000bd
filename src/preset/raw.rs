//! What the typed layer cannot see in a preset file: how big it is, and keys given twice.
//! `serde_json` keeps the last of two equal keys, so `{"ratio": 2, "ratio": 20}` would load as
//! 20 with no word; a preset file is refused instead, naming the key's path.

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess};
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::path::Path;

/// Largest preset file, bytes. A preset with every field and a long analysis block is about
/// 4 KiB; 1 MiB leaves room for any hand-written notes and still refuses `/dev/zero` or a
/// recording given by mistake after reading 1 MiB, not gigabytes.
pub const MAX_PRESET_BYTES: u64 = 1 << 20;

/// Why [`read_capped`] failed.
#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    TooLarge,
}

/// The file's text, reading at most [`MAX_PRESET_BYTES`] + 1 bytes whatever the file's size
/// (a device or a pipe has none).
pub fn read_capped(path: &Path) -> Result<String, ReadError> {
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let mut bytes = Vec::new();
    file.take(MAX_PRESET_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > MAX_PRESET_BYTES {
        return Err(ReadError::TooLarge);
    }
    String::from_utf8(bytes).map_err(|e| {
        ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        ))
    })
}

/// Path of the first key that appears twice in one object (`settings.compressor.ratio`,
/// `settings.eq.bands[2].q`), in the notation of the other field errors. `None` when every
/// object's keys are distinct, or when `text` is not JSON (the syntax check reports that).
pub fn first_duplicate_key(text: &str) -> Option<String> {
    let found = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let _ = Node {
        path: String::new(),
        found: &found,
    }
    .deserialize(&mut deserializer);
    found.into_inner()
}

/// One JSON value at `path`; reports the first duplicate key in `found` and stops.
struct Node<'a> {
    path: String,
    found: &'a RefCell<Option<String>>,
}

impl Node<'_> {
    fn child(&self, path: String) -> Self {
        Node {
            path,
            found: self.found,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Node<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if !seen.insert(key) {
                *self.found.borrow_mut() = Some(path);
                return Err(A::Error::custom("duplicate key"));
            }
            map.next_value_seed(self.child(path))?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq
            .next_element_seed(self.child(format!("{}[{index}]", self.path)))?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }

    // Scalars hold no keys.
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_found_with_their_path() {
        assert_eq!(first_duplicate_key(r#"{"a": 1, "b": 2}"#), None);
        assert_eq!(
            first_duplicate_key(r#"{"a": 1, "a": 2}"#).as_deref(),
            Some("a")
        );
        assert_eq!(
            first_duplicate_key(r#"{"s": {"c": {"ratio": 2, "ratio": 20}}}"#).as_deref(),
            Some("s.c.ratio")
        );
        assert_eq!(
            first_duplicate_key(r#"{"b": [{"q": 1}, {"q": 1, "f": 2, "q": 3}]}"#).as_deref(),
            Some("b[1].q")
        );
        // The same key in different objects is fine.
        assert_eq!(first_duplicate_key(r#"[{"q": 1}, {"q": 2}]"#), None);
        // Not JSON: nothing to say here.
        assert_eq!(first_duplicate_key("{"), None);
    }

    #[cfg(unix)]
    #[test]
    fn reading_stops_after_the_cap() {
        let started = std::time::Instant::now();
        let e = read_capped(Path::new("/dev/zero")).unwrap_err();
        assert!(matches!(e, ReadError::TooLarge), "{e:?}");
        assert!(started.elapsed().as_secs_f64() < 5.0);
        let dir = tempfile::tempdir().unwrap();
        let exact = dir.path().join("exact.json");
        std::fs::write(&exact, vec![b' '; MAX_PRESET_BYTES as usize]).unwrap();
        assert_eq!(read_capped(&exact).unwrap().len() as u64, MAX_PRESET_BYTES);
        std::fs::write(&exact, vec![b' '; MAX_PRESET_BYTES as usize + 1]).unwrap();
        assert!(matches!(read_capped(&exact), Err(ReadError::TooLarge)));
    }
}
