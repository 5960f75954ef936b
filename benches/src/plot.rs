//! A small PNG line plot for the scaling study: speedup against threads, with the ideal line.
//!
//! Written out by hand (no plotting or image dependency): an RGB canvas, lines, markers and a
//! 5×7 bitmap font for the tick labels, encoded as a PNG with stored (uncompressed) deflate
//! blocks, which every PNG reader accepts.

/// An RGB canvas.
pub struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<[u8; 3]>,
}

/// Colours used by the plot.
const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [0, 0, 0];
const GREY: [u8; 3] = [190, 190, 190];
const BLUE: [u8; 3] = [31, 119, 180];

impl Canvas {
    /// A white canvas.
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            pixels: vec![WHITE; width * height],
        }
    }

    fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            self.pixels[y as usize * self.width + x as usize] = c;
        }
    }

    /// A line `thickness` pixels wide from `(x0, y0)` to `(x1, y1)`.
    pub fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: [u8; 3], thickness: i64) {
        let steps = (x1 - x0).abs().max((y1 - y0).abs()).ceil().max(1.0) as usize;
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
            self.square(x.round() as i64, y.round() as i64, thickness / 2, c);
        }
    }

    /// A filled square of half-width `r` centred on `(x, y)`.
    pub fn square(&mut self, x: i64, y: i64, r: i64, c: [u8; 3]) {
        for dy in -r..=r {
            for dx in -r..=r {
                self.set(x + dx, y + dy, c);
            }
        }
    }

    /// `text` (digits, `.`, `x`, space) with its top-left corner at `(x, y)`, scaled `scale`×.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: i64) {
        let mut cx = x;
        for ch in text.chars() {
            if let Some(rows) = glyph(ch) {
                for (r, bits) in rows.iter().enumerate() {
                    for col in 0..5 {
                        if bits & (0b10000 >> col) != 0 {
                            for sy in 0..scale {
                                for sx in 0..scale {
                                    self.set(
                                        cx + col * scale + sx,
                                        y + r as i64 * scale + sy,
                                        BLACK,
                                    );
                                }
                            }
                        }
                    }
                }
            }
            cx += 6 * scale;
        }
    }

    /// The canvas as a PNG file.
    pub fn png(&self) -> Vec<u8> {
        let mut raw = Vec::with_capacity(self.height * (1 + 3 * self.width));
        for row in self.pixels.chunks_exact(self.width) {
            raw.push(0); // filter type: none
            for p in row {
                raw.extend_from_slice(p);
            }
        }
        let mut out = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
        let mut ihdr = Vec::with_capacity(13);
        ihdr.extend_from_slice(&(self.width as u32).to_be_bytes());
        ihdr.extend_from_slice(&(self.height as u32).to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
        chunk(&mut out, *b"IHDR", &ihdr);
        chunk(&mut out, *b"IDAT", &zlib_stored(&raw));
        chunk(&mut out, *b"IEND", &[]);
        out
    }
}

/// The 5×7 glyphs of the characters tick labels need.
fn glyph(c: char) -> Option<[u8; 7]> {
    Some(match c {
        '0' => [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
        '1' => [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
        '2' => [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
        '3' => [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
        '4' => [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
        '5' => [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
        '6' => [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
        '7' => [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
        '9' => [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
        '.' => [0, 0, 0, 0, 0, 0x0c, 0x0c],
        'x' => [0, 0, 0x11, 0x0a, 0x04, 0x0a, 0x11],
        ' ' => [0; 7],
        _ => return None,
    })
}

fn chunk(out: &mut Vec<u8>, kind: [u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(&kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of stored deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(65_535).collect()
    };
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffff_u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in bytes {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

/// Speedup against thread count: the measured points joined by a line, the ideal `y = x` in
/// grey, tick labels on both axes. Returns the PNG bytes.
pub fn speedup_png(points: &[(usize, f64)]) -> Vec<u8> {
    let (w, h) = (640usize, 420usize);
    let (left, right, top, bottom) = (70.0, 20.0, 20.0, 50.0);
    let mut c = Canvas::new(w, h);
    let max_threads = points.iter().map(|p| p.0).max().unwrap_or(1).max(2) as f64;
    let max_speedup = points
        .iter()
        .map(|p| p.1)
        .fold(max_threads, f64::max)
        .ceil();
    let plot_w = w as f64 - left - right;
    let plot_h = h as f64 - top - bottom;
    let px = |t: f64| left + (t - 1.0) / (max_threads - 1.0) * plot_w;
    let py = |s: f64| top + plot_h - s / max_speedup * plot_h;
    // Axes.
    c.line((left, top), (left, top + plot_h), BLACK, 2);
    c.line(
        (left, top + plot_h),
        (left + plot_w, top + plot_h),
        BLACK,
        2,
    );
    // The ideal speedup.
    c.line(
        (px(1.0), py(1.0)),
        (px(max_threads), py(max_threads)),
        GREY,
        2,
    );
    // Ticks: every measured thread count on x; integers on y.
    for &(t, _) in points {
        let x = px(t as f64);
        c.line((x, top + plot_h), (x, top + plot_h + 6.0), BLACK, 2);
        let label = t.to_string();
        c.text(
            x as i64 - 6 * label.len() as i64,
            (top + plot_h + 12.0) as i64,
            &label,
            2,
        );
    }
    let step = (max_speedup / 8.0).ceil().max(1.0);
    let mut s = 0.0;
    while s <= max_speedup {
        let y = py(s);
        c.line((left - 6.0, y), (left, y), BLACK, 2);
        let label = format!("{s:.0}x");
        c.text(
            left as i64 - 10 - 12 * label.len() as i64,
            y as i64 - 7,
            &label,
            2,
        );
        s += step;
    }
    // The measurements.
    for pair in points.windows(2) {
        c.line(
            (px(pair[0].0 as f64), py(pair[0].1)),
            (px(pair[1].0 as f64), py(pair[1].1)),
            BLUE,
            3,
        );
    }
    for &(t, sp) in points {
        c.square(px(t as f64) as i64, py(sp) as i64, 4, BLUE);
    }
    c.png()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_their_published_values() {
        // The CRC of the IEND chunk type appears in every PNG file; Adler-32 of "Wikipedia"
        // is the textbook example.
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
    }

    #[test]
    fn a_plot_is_a_well_formed_png() {
        let png = speedup_png(&[(1, 1.0), (2, 1.9), (4, 3.5)]);
        assert_eq!(&png[..8], &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]);
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(
            u32::from_be_bytes([png[16], png[17], png[18], png[19]]),
            640
        );
        assert_eq!(&png[png.len() - 8..png.len() - 4], b"IEND");
        // The IDAT payload inflates (stored blocks) to one filter byte plus 3 bytes a pixel a
        // row, and its Adler-32 matches.
        let len = u32::from_be_bytes([png[33], png[34], png[35], png[36]]) as usize;
        assert_eq!(&png[37..41], b"IDAT");
        let z = &png[41..41 + len];
        let mut raw = Vec::new();
        let mut at = 2;
        loop {
            let last = z[at] & 1 == 1;
            let n = u16::from_le_bytes([z[at + 1], z[at + 2]]) as usize;
            raw.extend_from_slice(&z[at + 5..at + 5 + n]);
            at += 5 + n;
            if last {
                break;
            }
        }
        assert_eq!(raw.len(), 420 * (1 + 3 * 640));
        let tail = &z[at..at + 4];
        assert_eq!(
            u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]),
            adler32(&raw)
        );
        // Something was drawn: not every pixel is white.
        assert!(raw
            .chunks(1 + 3 * 640)
            .any(|row| row[1..].iter().any(|&b| b != 255)));
    }
}
