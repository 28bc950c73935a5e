//! Simulated block devices: sparse in-memory storage with a durable image and
//! a volatile write cache.
//!
//! A completed write normally goes straight to the durable image (the device
//! behaves as if it had no volatile cache). A `bio.lost` fault instead puts
//! the write in the volatile cache: reads see it, but a power cut loses it
//! unless a flush completes afterwards. [`crate::Sim::durable_image`] is the
//! power-cut view; [`BlockDeviceSpec::with_image`] mounts it again in a fresh
//! simulation.

use std::collections::BTreeMap;
use std::rc::Rc;

/// The contents of a block device: only blocks ever written are stored, the
/// rest read as zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockImage {
    /// Size in bytes (a multiple of `block_size`).
    pub size_bytes: u64,
    /// Block size in bytes.
    pub block_size: u32,
    /// Written blocks by block index.
    pub blocks: BTreeMap<u64, Box<[u8]>>,
}

impl BlockImage {
    /// An all-zero image.
    pub fn zeroed(size_bytes: u64, block_size: u32) -> BlockImage {
        BlockImage {
            size_bytes,
            block_size,
            blocks: BTreeMap::new(),
        }
    }

    /// An image holding `bytes` (padded with zeros to whole blocks); all-zero
    /// blocks are not stored.
    pub fn from_bytes(bytes: &[u8], block_size: u32) -> BlockImage {
        let block = block_size as usize;
        let mut image = BlockImage::zeroed(
            bytes.len().div_ceil(block) as u64 * block as u64,
            block_size,
        );
        for (index, chunk) in bytes.chunks(block).enumerate() {
            if chunk.iter().any(|&b| b != 0) {
                let mut data = vec![0u8; block].into_boxed_slice();
                data[..chunk.len()].copy_from_slice(chunk);
                image.blocks.insert(index as u64, data);
            }
        }
        image
    }

    /// The whole image as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![0u8; self.size_bytes as usize];
        self.read(0, &mut bytes);
        bytes
    }

    /// Reads `buf.len()` bytes at `offset` (both block-aligned).
    pub fn read(&self, offset: u64, buf: &mut [u8]) {
        let block = self.block_size as usize;
        for (index, chunk) in buf.chunks_mut(block).enumerate() {
            let number = offset / block as u64 + index as u64;
            match self.blocks.get(&number) {
                Some(data) => chunk.copy_from_slice(&data[..chunk.len()]),
                None => chunk.fill(0),
            }
        }
    }
}

/// A backing device of a simulation.
#[derive(Debug, Clone)]
pub struct BlockDeviceSpec {
    /// The name `bio_open` looks for ("md0").
    pub name: String,
    /// Writes are refused.
    pub read_only: bool,
    /// Initial contents (size and block size included).
    pub image: BlockImage,
}

impl BlockDeviceSpec {
    /// An all-zero device. `size_bytes` is rounded down to whole blocks;
    /// `block_size` must be a power of two of at least 512.
    pub fn new(name: &str, size_bytes: u64, block_size: u32) -> BlockDeviceSpec {
        assert!(
            block_size >= 512 && block_size.is_power_of_two(),
            "block size {block_size} is not a power of two of at least 512"
        );
        let size_bytes = size_bytes - size_bytes % u64::from(block_size);
        BlockDeviceSpec {
            name: name.to_string(),
            read_only: false,
            image: BlockImage::zeroed(size_bytes, block_size),
        }
    }

    /// A device with the given contents (for example a power-cut image of an
    /// earlier run, or a file-system image).
    pub fn with_image(name: &str, image: BlockImage) -> BlockDeviceSpec {
        BlockDeviceSpec {
            name: name.to_string(),
            read_only: false,
            image,
        }
    }

    /// The same device, read-only.
    pub fn read_only(mut self) -> BlockDeviceSpec {
        self.read_only = true;
        self
    }
}

/// A device inside a running simulation.
#[derive(Debug)]
pub(crate) struct Device {
    pub(crate) name: Rc<str>,
    pub(crate) thread_name: Rc<str>,
    pub(crate) read_only: bool,
    pub(crate) durable: BlockImage,
    /// Completed writes not yet on the durable image (`bio.lost`).
    pub(crate) cache: BTreeMap<u64, Box<[u8]>>,
    /// When the last-scheduled completion on this device happens; requests
    /// complete in order unless reordered by a fault.
    pub(crate) last_completion_ns: u64,
}

impl Device {
    pub(crate) fn new(spec: BlockDeviceSpec) -> Device {
        Device {
            thread_name: Rc::from(format!("bio:{}", spec.name)),
            name: Rc::from(spec.name),
            read_only: spec.read_only,
            durable: spec.image,
            cache: BTreeMap::new(),
            last_completion_ns: 0,
        }
    }

    pub(crate) fn block_size(&self) -> u64 {
        u64::from(self.durable.block_size)
    }

    /// Reads what the device shows now: the cache over the durable image.
    pub(crate) fn read(&self, offset: u64, buf: &mut [u8]) {
        let block = self.block_size() as usize;
        for (index, chunk) in buf.chunks_mut(block).enumerate() {
            let number = offset / block as u64 + index as u64;
            match self
                .cache
                .get(&number)
                .or_else(|| self.durable.blocks.get(&number))
            {
                Some(data) => chunk.copy_from_slice(data),
                None => chunk.fill(0),
            }
        }
    }

    /// Writes the first `blocks` blocks of `buf` at `offset`, to the cache
    /// (`volatile`) or the durable image.
    pub(crate) fn write(&mut self, offset: u64, buf: &[u8], blocks: usize, volatile: bool) {
        let block = self.block_size() as usize;
        for (index, chunk) in buf.chunks(block).take(blocks).enumerate() {
            let number = offset / block as u64 + index as u64;
            let data: Box<[u8]> = chunk.into();
            if volatile {
                self.cache.insert(number, data);
            } else {
                self.cache.remove(&number);
                self.durable.blocks.insert(number, data);
            }
        }
    }

    /// Makes every cached write durable.
    pub(crate) fn flush(&mut self) {
        let cache = std::mem::take(&mut self.cache);
        self.durable.blocks.extend(cache);
    }

    /// What reads see now, as an image.
    pub(crate) fn live_image(&self) -> BlockImage {
        let mut image = self.durable.clone();
        image
            .blocks
            .extend(self.cache.iter().map(|(k, v)| (*k, v.clone())));
        image
    }
}
