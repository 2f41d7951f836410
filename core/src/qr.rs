//! QR codes: rendering yiwang's own codes and reading codes from images.
//!
//! Rendering ([`QrMatrix::encode`]) always uses error-correction level M and the
//! smallest QR version (1 to 40, never Micro QR) that fits. The text is split
//! into numeric, alphanumeric and byte segments with `qrcode`'s segment
//! optimiser, so text made of the QR alphanumeric set (`0-9 A-Z $%*+-./:` and
//! space, which includes Base45) takes 5.5 bits per character instead of 8.
//! Kanji mode is never used: it means Shift JIS, and UTF-8 text (Chinese in
//! particular) that happens to look like Shift JIS would be read back as
//! mojibake by every other scanner.
//!
//! [`QrMatrix::to_svg`] and [`QrMatrix::to_png`] draw the matrix with the
//! 4-module quiet zone the standard requires, dark modules black on white.
//!
//! Reading ([`decode_png`], [`decode_luma`]) finds every QR code in an image
//! with `rqrr`. Images are bounded to [`MAX_IMAGE_SIDE`] pixels per side and
//! [`MAX_IMAGE_PIXELS`] pixels in total, checked from the PNG header before any
//! pixel buffer is allocated. Malformed input is an error, never a panic: the
//! one known panic in `rqrr`'s detector (an assertion on degenerate finder
//! pattern groups) is caught and reported as [`QrError::Detector`] — except in
//! builds with `panic = "abort"` (the `release-mobile` profile), where a panic
//! cannot be caught.
//!
//! Error messages never contain the encoded text or image data. Each error has
//! a stable `code()` (`YW-130x`) for clients and logs.

use std::fmt::{self, Write as _};
use std::io::{Cursor, Write as _};
use std::panic;

use qrcode::bits::Bits;
use qrcode::optimize::{Optimizer, Parser, Segment};
use qrcode::types::{Color, EcLevel, Mode, QrError as EncoderError, Version};

/// Width of the light border around rendered codes, in modules (ISO/IEC 18004).
pub const QUIET_ZONE: usize = 4;

/// Largest accepted `module_px` for [`QrMatrix::to_svg`] and [`QrMatrix::to_png`];
/// larger values are clamped to it (and 0 to 1).
pub const MAX_MODULE_PX: u32 = 64;

/// Largest accepted image width or height for decoding, in pixels.
pub const MAX_IMAGE_SIDE: usize = 4096;

/// Largest accepted image area for decoding, in pixels (16 megapixels).
pub const MAX_IMAGE_PIXELS: usize = 16_000_000;

/// Memory the PNG decoder may use for its own buffers (rows, chunks); the
/// decoded image itself is bounded by [`MAX_IMAGE_PIXELS`].
const PNG_DECODER_LIMIT_BYTES: usize = 8 * 1024 * 1024;

/// A QR code as a square matrix of modules.
///
/// Error-correction level M is used for everything yiwang renders.
#[derive(Clone, PartialEq, Eq)]
pub struct QrMatrix {
    /// QR version, 1..=40.
    version: u8,
    /// Modules per side, without the quiet zone.
    width: usize,
    /// Row-major, `width * width` entries, `true` = dark.
    modules: Vec<bool>,
}

impl QrMatrix {
    /// Encodes `text` (as UTF-8 bytes) at error-correction level M in the smallest
    /// QR version that fits, using optimal numeric/alphanumeric/byte segments.
    ///
    /// # Errors
    ///
    /// [`QrError::TooLong`] if the text does not fit in a version 40 code
    /// (2331 bytes, or 3391 alphanumeric characters, at level M).
    pub fn encode(text: &str) -> Result<QrMatrix, QrError> {
        let bits = optimal_bits(text.as_bytes())?;
        let code = qrcode::QrCode::with_bits(bits, EcLevel::M).map_err(QrError::from_encoder)?;
        let version = match code.version() {
            Version::Normal(v) => u8::try_from(v).map_err(|_| QrError::Encode)?,
            Version::Micro(_) => return Err(QrError::Encode),
        };
        let width = code.width();
        let modules: Vec<bool> = code
            .into_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect();
        if modules.len() != width * width {
            return Err(QrError::Encode);
        }
        Ok(QrMatrix {
            version,
            width,
            modules,
        })
    }

    /// QR version, 1..=40 (normal QR, not Micro QR).
    pub fn version(&self) -> u8 {
        self.version
    }

    /// Modules per side, without the quiet zone (`17 + 4 * version`).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether the module at column `x`, row `y` is dark; `false` outside the matrix.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.modules[y * self.width + x]
    }

    /// All modules, row-major, `width() * width()` entries, `true` = dark.
    pub fn modules(&self) -> &[bool] {
        &self.modules
    }

    /// A standalone SVG document: white background, a 4-module quiet zone and the
    /// dark modules as one `<path>` (horizontal runs merged). `viewBox` is in
    /// modules; `width`/`height` are `(width() + 8) * module_px` pixels, with
    /// `module_px` clamped to `1..=64`.
    pub fn to_svg(&self, module_px: u32) -> String {
        let px = clamp_module_px(module_px) as usize;
        let side = self.width + 2 * QUIET_ZONE;
        let side_px = side * px;
        let mut path = String::with_capacity(self.modules.len() * 2);
        for (y, row) in self.rows().enumerate() {
            for (start, len) in dark_runs(row) {
                // `fmt::Write` for `String` never fails.
                let _ = write!(
                    path,
                    "M{} {}h{len}v1h-{len}z",
                    start + QUIET_ZONE,
                    y + QUIET_ZONE
                );
            }
        }
        format!(
            concat!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" "#,
                r#"width="{px}" height="{px}" viewBox="0 0 {side} {side}" "#,
                r#"shape-rendering="crispEdges">"#,
                r##"<rect width="{side}" height="{side}" fill="#ffffff"/>"##,
                r##"<path fill="#000000" d="{path}"/>"##,
                "</svg>"
            ),
            px = side_px,
            side = side,
            path = path
        )
    }

    /// An 8-bit greyscale PNG: black modules on white with a 4-module quiet zone,
    /// each module `module_px` pixels square (clamped to `1..=64`), so the image
    /// is `(width() + 8) * module_px` pixels per side. Rows are streamed to the
    /// encoder: memory use stays at a few rows even at the largest size.
    ///
    /// # Errors
    ///
    /// [`QrError::Png`] if the PNG encoder fails (it writes to memory, so this
    /// is not expected).
    pub fn to_png(&self, module_px: u32) -> Result<Vec<u8>, QrError> {
        let px = clamp_module_px(module_px) as usize;
        let side_px = (self.width + 2 * QUIET_ZONE) * px;
        let side = u32::try_from(side_px).map_err(|_| png_encode_error())?;
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().map_err(|_| png_encode_error())?;
        {
            let mut stream = writer.stream_writer().map_err(|_| png_encode_error())?;
            let quiet_row = vec![u8::MAX; side_px];
            let mut row = vec![u8::MAX; side_px];
            for _ in 0..QUIET_ZONE * px {
                stream
                    .write_all(&quiet_row)
                    .map_err(|_| png_encode_error())?;
            }
            for modules in self.rows() {
                for (x, &dark) in modules.iter().enumerate() {
                    let start = (x + QUIET_ZONE) * px;
                    row[start..start + px].fill(if dark { 0 } else { u8::MAX });
                }
                for _ in 0..px {
                    stream.write_all(&row).map_err(|_| png_encode_error())?;
                }
            }
            for _ in 0..QUIET_ZONE * px {
                stream
                    .write_all(&quiet_row)
                    .map_err(|_| png_encode_error())?;
            }
            stream.finish().map_err(|_| png_encode_error())?;
        }
        writer.finish().map_err(|_| png_encode_error())?;
        Ok(out)
    }

    /// The module rows, top to bottom.
    fn rows(&self) -> impl Iterator<Item = &[bool]> {
        // `width` is at least 21 for every valid matrix; `max(1)` keeps
        // `chunks_exact` from panicking on a zero chunk size regardless.
        self.modules.chunks_exact(self.width.max(1))
    }
}

impl fmt::Debug for QrMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QrMatrix")
            .field("version", &self.version)
            .field("width", &self.width)
            .finish_non_exhaustive()
    }
}

/// Decodes every QR code found in a PNG image and returns their texts.
///
/// Any PNG colour type and bit depth is accepted (greyscale, RGB, palette, with
/// or without alpha, 1 to 16 bits, interlaced or not); pixels are converted to
/// luma, transparent pixels composited over white. Only the first frame of an
/// animated PNG is read.
///
/// # Errors
///
/// - [`QrError::Png`] for data that is not a complete, valid PNG;
/// - [`QrError::ImageTooLarge`] if the header declares more than
///   [`MAX_IMAGE_SIDE`] pixels per side or [`MAX_IMAGE_PIXELS`] in total
///   (checked before the image is decoded);
/// - the errors of [`decode_luma`].
pub fn decode_png(png: &[u8]) -> Result<Vec<String>, QrError> {
    let (width, height, luma) = png_to_luma(png)?;
    decode_luma(width, height, &luma)
}

/// Decodes every QR code found in a greyscale image (`luma`: row-major, one byte
/// per pixel, 0 = black) and returns their texts, in detection order. Codes that
/// are found but fail to decode (damaged, or not UTF-8) are skipped.
///
/// # Errors
///
/// - [`QrError::Dimensions`] if a side is 0 or `luma.len() != width * height`;
/// - [`QrError::ImageTooLarge`] above [`MAX_IMAGE_SIDE`] / [`MAX_IMAGE_PIXELS`];
/// - [`QrError::NotFound`] if no QR code could be decoded;
/// - [`QrError::Detector`] if the detector panicked on this image.
pub fn decode_luma(width: usize, height: usize, luma: &[u8]) -> Result<Vec<String>, QrError> {
    check_image_size(width, height)?;
    if width.checked_mul(height) != Some(luma.len()) {
        return Err(QrError::Dimensions);
    }
    // rqrr 0.11 can still panic on degenerate finder-pattern groups
    // (WanzenBug/rqrr#54, an assertion in `Perspective::map`): contain it.
    let texts = panic::catch_unwind(|| {
        let mut image =
            rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| luma[y * width + x]);
        image
            .detect_grids()
            .iter()
            .filter_map(|grid| grid.decode().ok())
            .map(|(_meta, text)| text)
            .collect::<Vec<String>>()
    })
    .map_err(|_| QrError::Detector)?;
    if texts.is_empty() {
        Err(QrError::NotFound)
    } else {
        Ok(texts)
    }
}

/// Errors of QR rendering and decoding. Messages never contain the encoded text
/// or image data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrError {
    /// The text does not fit in a version 40 QR code at error-correction level M.
    #[error("text too long for a QR code at error-correction level M")]
    TooLong,
    /// The QR encoder failed for another reason (not expected).
    #[error("QR encoder failed")]
    Encode,
    /// PNG encoding failed, or the input is not a complete, valid PNG. The
    /// message names the kind of problem only.
    #[error("PNG error: {0}")]
    Png(String),
    /// The image exceeds [`MAX_IMAGE_SIDE`] or [`MAX_IMAGE_PIXELS`].
    #[error(
        "image too large: {width}x{height} pixels (limit {} per side, {} in total)",
        MAX_IMAGE_SIDE,
        MAX_IMAGE_PIXELS
    )]
    ImageTooLarge {
        /// Declared image width, in pixels.
        width: usize,
        /// Declared image height, in pixels.
        height: usize,
    },
    /// A side is 0, or the pixel data length is not `width * height`.
    #[error("image dimensions do not match the pixel data")]
    Dimensions,
    /// No QR code could be decoded in the image.
    #[error("no QR code found in the image")]
    NotFound,
    /// The QR detector failed (panicked) on this image.
    #[error("QR detector failed on this image")]
    Detector,
}

impl QrError {
    /// Stable error code (`YW-1301`..`YW-1309`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLong => "YW-1301",
            Self::Encode => "YW-1302",
            Self::Png(_) => "YW-1303",
            Self::ImageTooLarge { .. } => "YW-1304",
            Self::Dimensions => "YW-1305",
            Self::NotFound => "YW-1306",
            Self::Detector => "YW-1307",
        }
    }

    fn from_encoder(e: EncoderError) -> Self {
        match e {
            EncoderError::DataTooLong => Self::TooLong,
            _ => Self::Encode,
        }
    }
}

/// Segments `data` optimally for error-correction level M and returns the bits
/// for the smallest normal version that holds them.
///
/// Same algorithm as `qrcode::bits::encode_auto`, except that Kanji segments
/// are turned into byte segments (see the module documentation). Segment sizes
/// depend on the version only through the length-field widths, which are the
/// same within each of the classes 1-9, 10-26 and 27-40: optimise once per
/// class, then take the smallest version of that class that fits.
fn optimal_bits(data: &[u8]) -> Result<Bits, QrError> {
    let segments: Vec<Segment> = Parser::new(data)
        .map(|segment| match segment.mode {
            Mode::Kanji => Segment {
                mode: Mode::Byte,
                ..segment
            },
            _ => segment,
        })
        .collect();
    for (first, last) in [(1_i16, 9_i16), (10, 26), (27, 40)] {
        let class = Version::Normal(last);
        let optimized: Vec<Segment> = Optimizer::new(segments.iter().copied(), class).collect();
        let total: usize = optimized.iter().map(|s| s.encoded_len(class)).sum();
        let mut fitting = None;
        for v in first..=last {
            if capacity_bits(v)? >= total {
                fitting = Some(v);
                break;
            }
        }
        let Some(v) = fitting else { continue };
        let mut bits = Bits::new(Version::Normal(v));
        bits.push_segments(data, optimized.into_iter())
            .map_err(QrError::from_encoder)?;
        bits.push_terminator(EcLevel::M)
            .map_err(QrError::from_encoder)?;
        return Ok(bits);
    }
    Err(QrError::TooLong)
}

/// Data capacity of a normal version at level M, in bits.
fn capacity_bits(version: i16) -> Result<usize, QrError> {
    Bits::new(Version::Normal(version))
        .max_len(EcLevel::M)
        .map_err(QrError::from_encoder)
}

/// `(start, length)` of every run of dark modules in a row.
fn dark_runs(row: &[bool]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut x = 0;
    std::iter::from_fn(move || {
        while x < row.len() && !row[x] {
            x += 1;
        }
        if x >= row.len() {
            return None;
        }
        let start = x;
        while x < row.len() && row[x] {
            x += 1;
        }
        Some((start, x - start))
    })
}

fn clamp_module_px(module_px: u32) -> u32 {
    module_px.clamp(1, MAX_MODULE_PX)
}

fn png_encode_error() -> QrError {
    QrError::Png("PNG encoding failed".to_owned())
}

fn check_image_size(width: usize, height: usize) -> Result<(), QrError> {
    if width == 0 || height == 0 {
        return Err(QrError::Dimensions);
    }
    let too_large = width > MAX_IMAGE_SIDE
        || height > MAX_IMAGE_SIDE
        || width
            .checked_mul(height)
            .is_none_or(|n| n > MAX_IMAGE_PIXELS);
    if too_large {
        Err(QrError::ImageTooLarge { width, height })
    } else {
        Ok(())
    }
}

/// Decodes a PNG into `(width, height, luma)`, checking the declared size
/// before allocating anything proportional to it.
fn png_to_luma(data: &[u8]) -> Result<(usize, usize, Vec<u8>), QrError> {
    let limits = png::Limits {
        bytes: PNG_DECODER_LIMIT_BYTES,
    };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(data), limits);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    decoder.set_ignore_text_chunk(true);
    decoder.set_ignore_iccp_chunk(true);
    let (width, height) = {
        let info = decoder.read_header_info().map_err(png_decode_error)?;
        (to_usize(info.width), to_usize(info.height))
    };
    check_image_size(width, height)?;
    let mut reader = decoder.read_info().map_err(png_decode_error)?;
    let (color, depth) = reader.output_color_type();
    let channels = match (color, depth) {
        (png::ColorType::Grayscale, png::BitDepth::Eight) => 1,
        (png::ColorType::GrayscaleAlpha, png::BitDepth::Eight) => 2,
        (png::ColorType::Rgb, png::BitDepth::Eight) => 3,
        (png::ColorType::Rgba, png::BitDepth::Eight) => 4,
        _ => return Err(QrError::Png("unsupported pixel format".to_owned())),
    };
    // Rows the image does not provide (none, for a valid PNG) stay white.
    let mut luma = vec![u8::MAX; width * height];
    let mut row_luma = Vec::with_capacity(width);
    let mut y = 0;
    while let Some(row) = reader.next_interlaced_row().map_err(png_decode_error)? {
        row_luma.clear();
        row_luma.extend(row.data().chunks_exact(channels).map(pixel_luma));
        match row.interlace() {
            png::InterlaceInfo::Null(_) => {
                if y < height {
                    let n = row_luma.len().min(width);
                    let start = y * width;
                    luma[start..start + n].copy_from_slice(&row_luma[..n]);
                }
                y += 1;
            }
            png::InterlaceInfo::Adam7(pass) => {
                png::expand_interlaced_row(&mut luma, width, &row_luma, pass, 8);
            }
        }
    }
    Ok((width, height, luma))
}

/// Luma of one 8-bit pixel (1 to 4 channels), alpha composited over white.
fn pixel_luma(pixel: &[u8]) -> u8 {
    let (grey, alpha) = match *pixel {
        [g] => (u32::from(g), 255),
        [g, a] => (u32::from(g), u32::from(a)),
        [r, g, b] => (rgb_luma(r, g, b), 255),
        [r, g, b, a] => (rgb_luma(r, g, b), u32::from(a)),
        _ => (255, 255),
    };
    let composited = (grey * alpha + 255 * (255 - alpha) + 127) / 255;
    // Both terms are at most 255 * 255 in total, so the result is at most 255.
    u8::try_from(composited).unwrap_or(u8::MAX)
}

/// ITU-R BT.601 luma with integer weights summing to 256.
fn rgb_luma(r: u8, g: u8, b: u8) -> u32 {
    (77 * u32::from(r) + 150 * u32::from(g) + 29 * u32::from(b) + 128) >> 8
}

fn to_usize(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Maps a PNG decoding error to a message naming the kind of problem only (the
/// decoder's own messages can quote chunk contents).
fn png_decode_error(e: png::DecodingError) -> QrError {
    let what = match e {
        png::DecodingError::IoError(_) => "truncated or unreadable PNG data",
        png::DecodingError::Format(_) => "malformed PNG",
        png::DecodingError::Parameter(_) => "PNG decoder usage error",
        png::DecodingError::LimitsExceeded => "PNG exceeds the decoder memory limit",
    };
    QrError::Png(what.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A grayscale PNG of the given size filled with `value`.
    fn flat_png(width: u32, height: u32, value: u8) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer
            .write_image_data(&vec![value; (width * height) as usize])
            .unwrap();
        writer.finish().unwrap();
        out
    }

    /// Pixel formats for hand-built test PNGs.
    #[derive(Debug, Clone, Copy)]
    enum Format {
        Grey1,
        Grey8,
        Grey16,
        GreyAlpha8,
        Rgb8,
        Rgb16,
        Rgba8,
        Palette8,
        /// 1-bit palette whose light entry is fully transparent (tRNS).
        Palette1Transparent,
    }

    impl Format {
        const ALL: [Format; 9] = [
            Format::Grey1,
            Format::Grey8,
            Format::Grey16,
            Format::GreyAlpha8,
            Format::Rgb8,
            Format::Rgb16,
            Format::Rgba8,
            Format::Palette8,
            Format::Palette1Transparent,
        ];

        /// (bit depth, PNG colour type).
        fn header(self) -> (u8, u8) {
            match self {
                Format::Grey1 => (1, 0),
                Format::Grey8 => (8, 0),
                Format::Grey16 => (16, 0),
                Format::GreyAlpha8 => (8, 4),
                Format::Rgb8 => (8, 2),
                Format::Rgb16 => (16, 2),
                Format::Rgba8 => (8, 6),
                Format::Palette8 => (8, 3),
                Format::Palette1Transparent => (1, 3),
            }
        }

        /// One scanline (without filter byte) for a row of dark flags.
        fn scanline(self, dark: &[bool]) -> Vec<u8> {
            let mut line = Vec::new();
            match self {
                Format::Grey1 | Format::Palette1Transparent => {
                    // Grey: 0 = black. Palette: index 0 = dark entry.
                    for chunk in dark.chunks(8) {
                        let mut byte = 0u8;
                        for (i, &d) in chunk.iter().enumerate() {
                            if !d {
                                byte |= 0x80 >> i;
                            }
                        }
                        line.push(byte);
                    }
                }
                _ => {
                    for &d in dark {
                        let pixel: &[u8] = match (self, d) {
                            (Format::Grey8, true) => &[0],
                            (Format::Grey8, false) => &[255],
                            (Format::Grey16, true) => &[0x10, 0x00],
                            (Format::Grey16, false) => &[0xff, 0xff],
                            (Format::GreyAlpha8, true) => &[0, 255],
                            (Format::GreyAlpha8, false) => &[0, 0],
                            (Format::Rgb8, true) => &[20, 30, 90],
                            (Format::Rgb8, false) => &[250, 250, 240],
                            (Format::Rgb16, true) => &[0, 0, 0x20, 0, 0x60, 0],
                            (Format::Rgb16, false) => &[0xff, 0, 0xff, 0, 0xf0, 0],
                            (Format::Rgba8, true) => &[0, 0, 0, 255],
                            (Format::Rgba8, false) => &[0, 0, 0, 0],
                            (_, true) => &[0],
                            (_, false) => &[1],
                        };
                        line.extend_from_slice(pixel);
                    }
                }
            }
            line
        }
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = u32::MAX;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn push_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }

    /// Draws a matrix (quiet zone included) as a PNG in `format`, written by
    /// hand so that every colour type, bit depth and Adam7 interlacing can be
    /// produced (the `png` encoder does not interlace).
    fn render(m: &QrMatrix, px: usize, format: Format, interlaced: bool) -> Vec<u8> {
        let side = (m.width() + 2 * QUIET_ZONE) * px;
        let dark = |x: usize, y: usize| {
            m.is_dark(
                (x / px).wrapping_sub(QUIET_ZONE),
                (y / px).wrapping_sub(QUIET_ZONE),
            )
        };
        // Adam7 passes: (x0, y0, dx, dy); one full pass without interlacing.
        let passes: &[(usize, usize, usize, usize)] = if interlaced {
            &[
                (0, 0, 8, 8),
                (4, 0, 8, 8),
                (0, 4, 4, 8),
                (2, 0, 4, 4),
                (0, 2, 2, 4),
                (1, 0, 2, 2),
                (0, 1, 1, 2),
            ]
        } else {
            &[(0, 0, 1, 1)]
        };
        let mut raw = Vec::new();
        for &(x0, y0, dx, dy) in passes {
            if x0 >= side || y0 >= side {
                continue;
            }
            for y in (y0..side).step_by(dy) {
                let row: Vec<bool> = (x0..side).step_by(dx).map(|x| dark(x, y)).collect();
                raw.push(0); // filter: none
                raw.extend(format.scanline(&row));
            }
        }
        let (depth, color) = format.header();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&u32::try_from(side).unwrap().to_be_bytes());
        ihdr.extend_from_slice(&u32::try_from(side).unwrap().to_be_bytes());
        ihdr.extend_from_slice(&[depth, color, 0, 0, u8::from(interlaced)]);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        push_chunk(&mut out, b"IHDR", &ihdr);
        if color == 3 {
            push_chunk(&mut out, b"PLTE", &[10, 10, 40, 255, 255, 255]);
            if matches!(format, Format::Palette1Transparent) {
                push_chunk(&mut out, b"tRNS", &[255, 0]);
            }
        }
        push_chunk(
            &mut out,
            b"IDAT",
            &miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6),
        );
        push_chunk(&mut out, b"IEND", &[]);
        out
    }

    #[test]
    fn encode_small_text_is_version_1() {
        let m = QrMatrix::encode("HELLO WORLD").unwrap();
        assert_eq!(m.version(), 1);
        assert_eq!(m.width(), 21);
        assert_eq!(m.modules().len(), 21 * 21);
        // Finder pattern corners are dark.
        assert!(m.is_dark(0, 0));
        assert!(m.is_dark(20, 0));
        assert!(m.is_dark(0, 20));
        assert!(!m.is_dark(21, 0));
        assert!(!m.is_dark(usize::MAX, usize::MAX));
    }

    #[test]
    fn empty_text_encodes_and_round_trips() {
        let m = QrMatrix::encode("").unwrap();
        assert_eq!(m.version(), 1);
        assert_eq!(
            decode_png(&m.to_png(4).unwrap()).unwrap(),
            vec![String::new()]
        );
    }

    #[test]
    fn capacity_limits() {
        // 2331 bytes fit version 40-M in byte mode, 2332 do not.
        let fits = "a".repeat(2331);
        assert_eq!(QrMatrix::encode(&fits).unwrap().version(), 40);
        let err = QrMatrix::encode(&"a".repeat(2332)).unwrap_err();
        assert_eq!(err, QrError::TooLong);
        assert_eq!(err.code(), "YW-1301");
        // 3391 alphanumeric characters fit, 3392 do not.
        assert_eq!(QrMatrix::encode(&"A".repeat(3391)).unwrap().version(), 40);
        assert_eq!(
            QrMatrix::encode(&"A".repeat(3392)).unwrap_err(),
            QrError::TooLong
        );
    }

    #[test]
    fn chinese_text_is_not_encoded_as_kanji() {
        // UTF-8 for these characters contains byte pairs that are valid Shift JIS.
        let text = "政务服务一网通办";
        // qrcode's own parser sees Shift JIS Kanji in these bytes.
        assert!(Parser::new(text.as_bytes()).any(|s| s.mode == Mode::Kanji));
        let bits = optimal_bits(text.as_bytes()).unwrap();
        // Byte mode indicator 0100 first, 8-bit count 24: nothing else in front.
        let bytes = bits.into_bytes();
        assert_eq!(bytes[0] >> 4, 0b0100);
        assert_eq!(((bytes[0] & 0x0f) << 4) | (bytes[1] >> 4), 24);
        let m = QrMatrix::encode(text).unwrap();
        assert_eq!(decode_png(&m.to_png(3).unwrap()).unwrap(), vec![text]);
    }

    #[test]
    fn alphanumeric_mode_is_used() {
        // 47 alphanumeric characters: at most 4 + 9 + 259 = 272 bits, version 3-M
        // (352 bits); in byte mode 4 + 8 + 376 = 388 bits, version 4-M (512 bits).
        let text = "YW1:0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-.";
        assert_eq!(text.len(), 47);
        assert_eq!(QrMatrix::encode(text).unwrap().version(), 3);
        // Lowercase forces byte mode: 47 bytes need version 4-M.
        assert_eq!(QrMatrix::encode(&text.to_lowercase()).unwrap().version(), 4);
    }

    #[test]
    fn svg_shape() {
        let m = QrMatrix::encode("https://example.gov.cn/").unwrap();
        let svg = m.to_svg(10);
        let side = m.width() + 8;
        assert!(svg.starts_with("<svg"));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains(&format!(r#"viewBox="0 0 {side} {side}""#)));
        assert!(svg.contains(&format!(r#"width="{}""#, side * 10)));
        assert!(svg.contains(r#"shape-rendering="crispEdges""#));
        assert_eq!(svg.matches("<path").count(), 1);
        // The top finder pattern row is a run of 7 modules at (4, 4).
        assert!(svg.contains("M4 4h7v1h-7z"));
        // Module count drawn equals dark module count.
        let dark = m.modules().iter().filter(|&&d| d).count();
        let d = svg
            .split(r#" d=""#)
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let drawn: usize = d
            .split('h')
            .skip(1)
            .step_by(2)
            .map(|s| s.split('v').next().unwrap().parse::<usize>().unwrap())
            .sum();
        assert_eq!(drawn, dark);
        // module_px is clamped.
        assert!(m.to_svg(0).contains(&format!(r#"width="{side}""#)));
        assert!(
            m.to_svg(1000)
                .contains(&format!(r#"width="{}""#, side * 64))
        );
    }

    #[test]
    fn png_round_trip_and_pixels() {
        let m = QrMatrix::encode("YW1:ABC").unwrap();
        let png_bytes = m.to_png(2).unwrap();
        let (w, h, luma) = png_to_luma(&png_bytes).unwrap();
        assert_eq!((w, h), ((m.width() + 8) * 2, (m.width() + 8) * 2));
        for y in 0..h {
            for x in 0..w {
                let dark = m.is_dark((x / 2).wrapping_sub(4), (y / 2).wrapping_sub(4));
                assert_eq!(luma[y * w + x], if dark { 0 } else { 255 }, "({x}, {y})");
            }
        }
        assert_eq!(decode_png(&png_bytes).unwrap(), vec!["YW1:ABC"]);
    }

    #[test]
    fn png_module_px_is_clamped() {
        let m = QrMatrix::encode("1").unwrap();
        let (w, _, _) = png_to_luma(&m.to_png(0).unwrap()).unwrap();
        assert_eq!(w, 29);
    }

    #[test]
    fn decodes_other_colour_types() {
        let m = QrMatrix::encode("https://zwfw.example.gov.cn/m/1").unwrap();
        for format in Format::ALL {
            for interlaced in [false, true] {
                let img = render(&m, 3, format, interlaced);
                assert_eq!(
                    decode_png(&img),
                    Ok(vec!["https://zwfw.example.gov.cn/m/1".to_owned()]),
                    "{format:?} interlaced={interlaced}"
                );
            }
        }
    }

    #[test]
    fn decodes_two_codes_in_one_image() {
        let a = QrMatrix::encode("FIRST").unwrap();
        let b = QrMatrix::encode("SECOND").unwrap();
        let px = 4;
        let side = (a.width() + 8) * px;
        let (w, h) = (side * 2, side);
        let mut luma = vec![255u8; w * h];
        for (i, m) in [&a, &b].into_iter().enumerate() {
            for y in 0..side {
                for x in 0..side {
                    if m.is_dark((x / px).wrapping_sub(4), (y / px).wrapping_sub(4)) {
                        luma[y * w + i * side + x] = 0;
                    }
                }
            }
        }
        let mut found = decode_luma(w, h, &luma).unwrap();
        found.sort();
        assert_eq!(found, vec!["FIRST", "SECOND"]);
    }

    #[test]
    fn decode_luma_checks_dimensions() {
        assert_eq!(decode_luma(0, 0, &[]), Err(QrError::Dimensions));
        assert_eq!(decode_luma(10, 10, &[255; 99]), Err(QrError::Dimensions));
        assert_eq!(
            decode_luma(usize::MAX, 2, &[]).unwrap_err().code(),
            "YW-1304"
        );
        assert_eq!(
            decode_luma(4097, 1, &[255; 4097]),
            Err(QrError::ImageTooLarge {
                width: 4097,
                height: 1
            })
        );
        assert_eq!(decode_luma(10, 10, &[255; 100]), Err(QrError::NotFound));
    }

    #[test]
    fn size_limits() {
        assert!(check_image_size(4096, 3906).is_ok());
        assert!(check_image_size(4096, 3907).is_err());
        assert!(check_image_size(4096, 1).is_ok());
        assert!(check_image_size(4097, 1).is_err());
        assert_eq!(check_image_size(1, 0), Err(QrError::Dimensions));
    }

    #[test]
    fn png_errors() {
        assert_eq!(decode_png(b"").unwrap_err().code(), "YW-1303");
        assert_eq!(decode_png(b"not a png").unwrap_err().code(), "YW-1303");
        let white = flat_png(64, 64, 255);
        assert_eq!(decode_png(&white), Err(QrError::NotFound));
        let truncated = &white[..white.len() - 20];
        assert!(matches!(decode_png(truncated), Err(QrError::Png(_))));
    }

    #[test]
    fn pixel_luma_composites_over_white() {
        assert_eq!(pixel_luma(&[0]), 0);
        assert_eq!(pixel_luma(&[0, 0]), 255);
        assert_eq!(pixel_luma(&[0, 255]), 0);
        assert_eq!(pixel_luma(&[255, 255, 255]), 255);
        assert_eq!(pixel_luma(&[0, 0, 0, 255]), 0);
        assert_eq!(pixel_luma(&[0, 0, 0, 0]), 255);
        assert_eq!(pixel_luma(&[0, 0, 0, 128]), 127);
    }

    #[test]
    fn error_codes_are_distinct() {
        let codes = [
            QrError::TooLong.code(),
            QrError::Encode.code(),
            QrError::Png(String::new()).code(),
            QrError::ImageTooLarge {
                width: 1,
                height: 1,
            }
            .code(),
            QrError::Dimensions.code(),
            QrError::NotFound.code(),
            QrError::Detector.code(),
        ];
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), codes.len());
        assert!(
            codes
                .iter()
                .all(|c| c.starts_with("YW-130") && c.len() == 7)
        );
    }

    #[test]
    fn debug_does_not_dump_modules() {
        let m = QrMatrix::encode("X").unwrap();
        assert_eq!(format!("{m:?}"), "QrMatrix { version: 1, width: 21, .. }");
    }
}
