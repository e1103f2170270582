//! A raw ZIP writer for hostile archives: any name, method, flag or mode,
//! duplicate names, and local names that differ from the central directory.

/// One entry; the data is stored as given (method only changes the header).
#[derive(Clone)]
pub struct Raw {
    pub name: Vec<u8>,
    pub local_name: Option<Vec<u8>>,
    pub data: Vec<u8>,
    pub method: u16,
    pub flags: u16,
    pub unix_mode: u32,
}

impl Raw {
    pub fn file(name: &str, data: &[u8]) -> Raw {
        Raw { name: name.into(), local_name: None, data: data.to_vec(), method: 0, flags: 0, unix_mode: 0o100644 }
    }
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Writes the entries as a ZIP archive.
pub fn write(entries: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let offset = out.len() as u32;
        let crc = crc32(&e.data);
        let size = e.data.len() as u32;
        let local_name = e.local_name.as_ref().unwrap_or(&e.name);
        out.extend_from_slice(b"PK\x03\x04");
        for v in [20u16, e.flags, e.method, 0, 0] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, size, size] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&(local_name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(local_name);
        out.extend_from_slice(&e.data);
        central.extend_from_slice(b"PK\x01\x02");
        for v in [(3u16 << 8) | 20, 20, e.flags, e.method, 0, 0] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, size, size] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [e.name.len() as u16, 0, 0, 0, 0] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        central.extend_from_slice(&(e.unix_mode << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(&e.name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    for v in [0u16, 0, entries.len() as u16, entries.len() as u16] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// The byte range of `name`'s data in an archive (walks the local headers).
pub fn data_range(zip: &[u8], name: &str) -> std::ops::Range<usize> {
    let le16 = |at: usize| u16::from_le_bytes([zip[at], zip[at + 1]]) as usize;
    let le32 = |at: usize| u32::from_le_bytes([zip[at], zip[at + 1], zip[at + 2], zip[at + 3]]) as usize;
    let mut at = 0;
    while zip[at..].starts_with(b"PK\x03\x04") {
        let (csize, n, extra) = (le32(at + 18), le16(at + 26), le16(at + 28));
        let start = at + 30 + n + extra;
        if &zip[at + 30..at + 30 + n] == name.as_bytes() {
            return start..start + csize;
        }
        at = start + csize;
    }
    panic!("no entry {name}");
}

/// The offset of the central directory.
pub fn central_directory(zip: &[u8]) -> usize {
    let eocd = zip.windows(4).rposition(|w| w == b"PK\x05\x06").unwrap();
    u32::from_le_bytes([zip[eocd + 16], zip[eocd + 17], zip[eocd + 18], zip[eocd + 19]]) as usize
}
