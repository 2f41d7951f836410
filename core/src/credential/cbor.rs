//! Small helpers over `ciborium::Value` for the positional CBOR arrays of
//! the credential formats. Decoding is bounded by the input size.

use ciborium::Value;

use super::CredentialError;

pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing CBOR into a Vec cannot fail.
    ciborium::into_writer(value, &mut out).unwrap_or_else(|_| unreachable!("CBOR into a Vec"));
    out
}

pub fn decode(bytes: &[u8], what: &'static str) -> Result<Value, CredentialError> {
    ciborium::de::from_reader_with_recursion_limit(bytes, 16)
        .map_err(|_| CredentialError::Malformed(what))
}

/// A reader over the items of a CBOR array.
pub struct Items {
    items: std::vec::IntoIter<Value>,
    what: &'static str,
}

impl Items {
    pub fn new(value: Value, what: &'static str) -> Result<Self, CredentialError> {
        match value {
            Value::Array(items) => Ok(Self {
                items: items.into_iter(),
                what,
            }),
            _ => Err(CredentialError::Malformed(what)),
        }
    }

    fn next(&mut self) -> Result<Value, CredentialError> {
        self.items
            .next()
            .ok_or(CredentialError::Malformed(self.what))
    }

    pub fn uint(&mut self) -> Result<u64, CredentialError> {
        match self.next()? {
            Value::Integer(i) => {
                u64::try_from(i).map_err(|_| CredentialError::Malformed(self.what))
            }
            _ => Err(CredentialError::Malformed(self.what)),
        }
    }

    pub fn bytes(&mut self) -> Result<Vec<u8>, CredentialError> {
        match self.next()? {
            Value::Bytes(b) => Ok(b),
            _ => Err(CredentialError::Malformed(self.what)),
        }
    }

    pub fn fixed<const N: usize>(&mut self) -> Result<[u8; N], CredentialError> {
        self.bytes()?
            .try_into()
            .map_err(|_| CredentialError::Malformed(self.what))
    }

    pub fn optional_bytes(&mut self) -> Result<Option<Vec<u8>>, CredentialError> {
        match self.next()? {
            Value::Null => Ok(None),
            Value::Bytes(b) => Ok(Some(b)),
            _ => Err(CredentialError::Malformed(self.what)),
        }
    }

    pub fn array(&mut self, what: &'static str) -> Result<Items, CredentialError> {
        Items::new(self.next()?, what)
    }

    pub fn value(&mut self) -> Result<Value, CredentialError> {
        self.next()
    }

    /// The items not read yet.
    pub fn rest(self) -> std::vec::IntoIter<Value> {
        self.items
    }

    /// Every item was read.
    pub fn end(mut self) -> Result<(), CredentialError> {
        match self.items.next() {
            None => Ok(()),
            Some(_) => Err(CredentialError::Malformed(self.what)),
        }
    }
}

pub fn uint(n: impl Into<u64>) -> Value {
    Value::Integer(n.into().into())
}
