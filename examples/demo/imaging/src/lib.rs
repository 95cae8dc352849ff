//! Naive grayscale image processing: generators, filters and statistics.
//! Deliberately straightforward loops, so large frames cost real CPU time.

use std::hint::black_box;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gray {
    width: usize,
    height: usize,
    px: Vec<u8>,
}

impl Gray {
    pub fn new(width: usize, height: usize) -> Self {
        Gray { width, height, px: vec![0; width * height] }
    }

    pub fn filled(width: usize, height: usize, value: u8) -> Self {
        Gray { width, height, px: vec![value; width * height] }
    }

    pub fn from_fn(width: usize, height: usize, mut f: impl FnMut(usize, usize) -> u8) -> Self {
        let mut img = Gray::new(width, height);
        for y in 0..height {
            for x in 0..width {
                img.px[y * width + x] = f(x, y);
            }
        }
        img
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    pub fn pixels(&self) -> &[u8] {
        &self.px
    }

    pub fn get(&self, x: usize, y: usize) -> u8 {
        self.px[y * self.width + x]
    }

    pub fn set(&mut self, x: usize, y: usize, v: u8) {
        self.px[y * self.width + x] = v;
    }

    /// Pixel with coordinates clamped to the frame (edge extension).
    pub fn get_clamped(&self, x: isize, y: isize) -> u8 {
        let x = x.clamp(0, self.width as isize - 1) as usize;
        let y = y.clamp(0, self.height as isize - 1) as usize;
        self.get(x, y)
    }

    pub fn invert(&self) -> Gray {
        Gray { px: self.px.iter().map(|&p| 255 - p).collect(), ..self.clone() }
    }

    pub fn threshold(&self, t: u8) -> Gray {
        Gray { px: self.px.iter().map(|&p| if p >= t { 255 } else { 0 }).collect(), ..self.clone() }
    }

    pub fn flip_horizontal(&self) -> Gray {
        Gray::from_fn(self.width, self.height, |x, y| self.get(self.width - 1 - x, y))
    }

    pub fn transpose(&self) -> Gray {
        Gray::from_fn(self.height, self.width, |x, y| self.get(y, x))
    }

    /// Halves both dimensions by averaging 2x2 blocks (rounding half up).
    pub fn downsample_2x(&self) -> Gray {
        Gray::from_fn(self.width / 2, self.height / 2, |x, y| {
            let s = self.get(2 * x, 2 * y) as u32
                + self.get(2 * x + 1, 2 * y) as u32
                + self.get(2 * x, 2 * y + 1) as u32
                + self.get(2 * x + 1, 2 * y + 1) as u32;
            ((s + 2) / 4) as u8
        })
    }

    /// Naive box blur with a (2r+1)^2 window and clamped edges.
    pub fn box_blur(&self, radius: usize) -> Gray {
        let r = radius as isize;
        let area = ((2 * r + 1) * (2 * r + 1)) as u32;
        Gray::from_fn(self.width, self.height, |x, y| {
            let mut sum = 0u32;
            for dy in -r..=r {
                for dx in -r..=r {
                    sum += self.get_clamped(x as isize + dx, y as isize + dy) as u32;
                }
            }
            black_box((sum + area / 2) / area) as u8
        })
    }

    /// Sobel gradient magnitude (L1), saturated to 255.
    pub fn sobel(&self) -> Gray {
        Gray::from_fn(self.width, self.height, |x, y| {
            let (x, y) = (x as isize, y as isize);
            let p = |dx: isize, dy: isize| self.get_clamped(x + dx, y + dy) as i32;
            let gx = -p(-1, -1) - 2 * p(-1, 0) - p(-1, 1) + p(1, -1) + 2 * p(1, 0) + p(1, 1);
            let gy = -p(-1, -1) - 2 * p(0, -1) - p(1, -1) + p(-1, 1) + 2 * p(0, 1) + p(1, 1);
            black_box((gx.abs() + gy.abs()).min(255)) as u8
        })
    }

    pub fn histogram(&self) -> [u32; 256] {
        let mut h = [0u32; 256];
        for &p in &self.px {
            h[p as usize] += 1;
        }
        h
    }

    pub fn mean(&self) -> f64 {
        self.px.iter().map(|&p| p as f64).sum::<f64>() / self.px.len() as f64
    }

    pub fn variance(&self) -> f64 {
        let m = self.mean();
        self.px.iter().map(|&p| (p as f64 - m).powi(2)).sum::<f64>() / self.px.len() as f64
    }

    /// Classic histogram equalisation via the cumulative distribution.
    pub fn equalize(&self) -> Gray {
        let hist = self.histogram();
        let mut cdf = [0u32; 256];
        let mut acc = 0;
        for (i, &c) in hist.iter().enumerate() {
            acc += c;
            cdf[i] = acc;
        }
        let cdf_min = cdf.iter().copied().find(|&c| c > 0).unwrap_or(0);
        let n = self.px.len() as u32;
        if n == cdf_min {
            return self.clone();
        }
        let lut: Vec<u8> = cdf
            .iter()
            .map(|&c| ((c.saturating_sub(cdf_min) as u64 * 255) / (n - cdf_min) as u64) as u8)
            .collect();
        Gray { px: self.px.iter().map(|&p| lut[p as usize]).collect(), ..self.clone() }
    }

    /// FNV-1a over dimensions and pixels.
    pub fn checksum(&self) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for b in (self.width as u64).to_le_bytes().iter().chain(&(self.height as u64).to_le_bytes()) {
            h = (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        for &p in &self.px {
            h = (h ^ p as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }
}

/// Horizontal 0..255 ramp.
pub fn gradient(width: usize, height: usize) -> Gray {
    Gray::from_fn(width, height, |x, _| ((x * 255) / (width.max(2) - 1)) as u8)
}

/// Checkerboard with `cell`-pixel squares.
pub fn checkerboard(width: usize, height: usize, cell: usize) -> Gray {
    Gray::from_fn(width, height, |x, y| if (x / cell + y / cell) % 2 == 0 { 0 } else { 255 })
}

/// Deterministic xorshift noise.
pub fn noise(width: usize, height: usize, seed: u64) -> Gray {
    let mut s = seed | 1;
    Gray::from_fn(width, height, |_, _| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 56) as u8
    })
}

/// Escape-time Mandelbrot render; row `y` and row `height - 1 - y` are exact
/// mirror images because the imaginary axis is sampled symmetrically.
pub fn mandelbrot(width: usize, height: usize, max_iter: u32) -> Gray {
    let scale = 3.0 / height as f64;
    let cy = (height as f64 - 1.0) / 2.0;
    let cx = (width as f64 - 1.0) / 2.0;
    Gray::from_fn(width, height, |x, y| {
        let c_re = (x as f64 - cx) * scale - 0.6;
        let c_im = (y as f64 - cy) * scale;
        let (mut zr, mut zi) = (0.0f64, 0.0f64);
        let mut i = 0;
        while i < max_iter && zr * zr + zi * zi <= 4.0 {
            let t = zr * zr - zi * zi + c_re;
            zi = black_box(2.0 * zr * zi + c_im);
            zr = t;
            i += 1;
        }
        if i == max_iter { 0 } else { (255 - (i * 255 / max_iter)) as u8 }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_image_is_black() {
        assert!(Gray::new(4, 3).pixels().iter().all(|&p| p == 0));
    }

    #[test]
    fn dimensions_are_kept() {
        let img = Gray::new(7, 5);
        assert_eq!((img.width(), img.height(), img.pixels().len()), (7, 5, 35));
    }

    #[test]
    fn set_then_get() {
        let mut img = Gray::new(3, 3);
        img.set(2, 1, 99);
        assert_eq!(img.get(2, 1), 99);
    }

    #[test]
    fn clamped_reads_extend_edges() {
        let img = gradient(10, 2);
        assert_eq!(img.get_clamped(-5, 0), img.get(0, 0));
        assert_eq!(img.get_clamped(50, 9), img.get(9, 1));
    }

    #[test]
    fn invert_is_an_involution() {
        let img = noise(16, 16, 3);
        assert_eq!(img.invert().invert(), img);
    }

    #[test]
    fn threshold_is_binary() {
        let t = noise(32, 32, 5).threshold(128);
        assert!(t.pixels().iter().all(|&p| p == 0 || p == 255));
    }

    #[test]
    fn gradient_spans_full_range() {
        let g = gradient(256, 1);
        assert_eq!((g.get(0, 0), g.get(255, 0)), (0, 255));
    }

    #[test]
    fn flip_twice_is_identity() {
        let img = noise(9, 4, 11);
        assert_eq!(img.flip_horizontal().flip_horizontal(), img);
    }

    #[test]
    fn transpose_swaps_dimensions() {
        let img = noise(9, 4, 11);
        let t = img.transpose();
        assert_eq!((t.width(), t.height()), (4, 9));
        assert_eq!(t.get(3, 8), img.get(8, 3));
    }

    #[test]
    fn downsample_halves_dimensions() {
        let d = noise(10, 6, 1).downsample_2x();
        assert_eq!((d.width(), d.height()), (5, 3));
    }

    #[test]
    fn downsample_of_constant_is_constant() {
        assert_eq!(Gray::filled(8, 8, 77).downsample_2x(), Gray::filled(4, 4, 77));
    }

    #[test]
    fn blur_of_constant_is_constant() {
        assert_eq!(Gray::filled(12, 9, 200).box_blur(2), Gray::filled(12, 9, 200));
    }

    #[test]
    fn blur_radius_zero_is_identity() {
        let img = noise(12, 9, 8);
        assert_eq!(img.box_blur(0), img);
    }

    #[test]
    fn sobel_of_constant_is_zero() {
        assert_eq!(Gray::filled(10, 10, 90).sobel(), Gray::new(10, 10));
    }

    #[test]
    fn sobel_finds_vertical_edge() {
        let img = Gray::from_fn(8, 4, |x, _| if x < 4 { 0 } else { 255 });
        let e = img.sobel();
        assert_eq!(e.get(0, 2), 0);
        assert_eq!(e.get(3, 2), 255);
        assert_eq!(e.get(4, 2), 255);
        assert_eq!(e.get(7, 2), 0);
    }

    #[test]
    fn histogram_counts_every_pixel() {
        let img = noise(20, 20, 2);
        assert_eq!(img.histogram().iter().sum::<u32>(), 400);
    }

    #[test]
    fn checkerboard_is_half_white() {
        let img = checkerboard(8, 8, 2);
        assert_eq!(img.histogram()[255], 32);
    }

    #[test]
    fn equalize_of_constant_is_unchanged() {
        let img = Gray::filled(5, 5, 42);
        assert_eq!(img.equalize(), img);
    }

    #[test]
    fn equalize_stretches_dim_image() {
        let dim = Gray::from_fn(16, 16, |x, _| 100 + (x as u8 % 8));
        let eq = dim.equalize();
        assert_eq!(eq.pixels().iter().max(), Some(&255));
        assert_eq!(eq.pixels().iter().min(), Some(&0));
    }

    #[test]
    fn checksum_distinguishes_shapes() {
        assert_ne!(Gray::new(2, 8).checksum(), Gray::new(8, 2).checksum());
    }

    #[test]
    fn checksum_distinguishes_content() {
        assert_ne!(noise(8, 8, 1).checksum(), noise(8, 8, 2).checksum());
    }

    #[test]
    fn small_mandelbrot_is_symmetric() {
        let m = mandelbrot(40, 30, 50);
        assert_eq!(m.transpose().flip_horizontal().transpose(), m);
    }

    #[test]
    fn mean_and_variance_of_two_tone() {
        let img = Gray::from_fn(2, 1, |x, _| if x == 0 { 0 } else { 200 });
        assert_eq!(img.mean(), 100.0);
        assert_eq!(img.variance(), 10_000.0);
    }
}
