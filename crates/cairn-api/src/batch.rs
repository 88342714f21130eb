//! The framing of a blob batch (`POST /api/v1/artifacts/{id}/blobs`, content type
//! [`CONTENT_TYPE`]): many small blobs in one request body, so logging 50,000 small files is not
//! 50,000 requests.
//!
//! The body is a sequence of frames and nothing else. Each frame is a [`FRAME_HEADER_LEN`]-byte
//! header — the blob's raw 16-byte MD5, then its size as an unsigned 64-bit big-endian integer —
//! followed by exactly `size` bytes of content. A body that ends inside a frame is truncated and
//! the server stores none of that frame. Each blob must be at most
//! [`crate::BATCH_BLOB_MAX_SIZE`] bytes ([`crate::SMALL_BLOB_MAX_SIZE`] on servers that do not
//! announce [`crate::ServerInfo::batch_blob_max_size`]) and the whole body at most
//! [`crate::BATCH_MAX_BYTES`].
//!
//! ```
//! use cairn_api::batch::FrameHeader;
//!
//! let header = FrameHeader::from_hex("5eb63bbbe01eeed093cb22bb8f5acdc3", 11).expect("hex");
//! let bytes = header.encode();
//! assert_eq!(bytes.len(), cairn_api::batch::FRAME_HEADER_LEN);
//! assert_eq!(FrameHeader::decode(&bytes), header);
//! assert_eq!(header.md5_hex(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
//! ```

use cairn_hash::Md5Digest;

/// The media type of a batch body.
pub const CONTENT_TYPE: &str = "application/vnd.cairn.blob-batch";

/// Bytes in a frame header: 16 (MD5) + 8 (size).
pub const FRAME_HEADER_LEN: usize = 24;

/// The header of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// The raw MD5 of the content.
    pub md5: [u8; 16],
    /// The content's size in bytes.
    pub size: u64,
}

impl FrameHeader {
    /// A header from a 32-digit hex MD5; `None` if the hex is malformed.
    pub fn from_hex(md5_hex: &str, size: u64) -> Option<Self> {
        let md5 = Md5Digest::from_hex(md5_hex).ok()?;
        Some(Self {
            md5: *md5.as_bytes(),
            size,
        })
    }

    /// The MD5 as 32 lowercase hex digits.
    pub fn md5_hex(&self) -> String {
        Md5Digest::from_bytes(self.md5).to_hex()
    }

    /// The header's bytes.
    pub fn encode(&self) -> [u8; FRAME_HEADER_LEN] {
        let mut bytes = [0_u8; FRAME_HEADER_LEN];
        bytes[..16].copy_from_slice(&self.md5);
        bytes[16..].copy_from_slice(&self.size.to_be_bytes());
        bytes
    }

    /// Reads a header from its bytes (every 24-byte string is a header; the size is checked by
    /// the receiver).
    pub fn decode(bytes: &[u8; FRAME_HEADER_LEN]) -> Self {
        let mut md5 = [0_u8; 16];
        md5.copy_from_slice(&bytes[..16]);
        let mut size = [0_u8; 8];
        size.copy_from_slice(&bytes[16..]);
        Self {
            md5,
            size: u64::from_be_bytes(size),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn rejects_bad_hex() {
        assert!(FrameHeader::from_hex("zz", 1).is_none());
        assert!(FrameHeader::from_hex(&"g".repeat(32), 1).is_none());
    }

    proptest! {
        #[test]
        fn round_trips(md5 in any::<[u8; 16]>(), size in any::<u64>()) {
            let header = FrameHeader { md5, size };
            prop_assert_eq!(FrameHeader::decode(&header.encode()), header);
            prop_assert_eq!(FrameHeader::from_hex(&header.md5_hex(), size), Some(header));
        }
    }
}
