//! Full-frame filter passes: CPU-bound, several hundred milliseconds each in a
//! debug build.

use std::hint::black_box;

use imaging::{checkerboard, gradient, noise, Gray};

#[test]
fn box_blur_smooths_noisy_frame() {
    let frame = noise(black_box(BLUR_W), black_box(BLUR_H), 7);
    let blurred = frame.box_blur(black_box(2));
    let (m0, m1) = (frame.mean(), blurred.mean());
    assert!((m0 - m1).abs() < 1.0, "blur keeps the mean: {m0} vs {m1}");
    assert!(blurred.variance() < frame.variance() / 10.0, "blur removes most noise variance");
}

#[test]
fn sobel_outlines_checkerboard_cells() {
    let cell = 16;
    let frame = checkerboard(black_box(SOBEL_W), black_box(SOBEL_H), cell);
    let edges = frame.sobel();
    // Every pixel adjacent to a cell border lights up; everything else stays dark.
    for y in 0..SOBEL_H {
        for x in 0..SOBEL_W {
            let near_x = x % cell == 0 || x % cell == cell - 1;
            let near_y = y % cell == 0 || y % cell == cell - 1;
            let interior_border = (near_x && x != 0 && x != SOBEL_W - 1)
                || (near_y && y != 0 && y != SOBEL_H - 1);
            assert_eq!(edges.get(x, y) > 0, interior_border, "pixel ({x}, {y})");
        }
    }
}

#[test]
fn equalize_then_downsample_pyramid() {
    let mut level = noise(black_box(PYRAMID_W), black_box(PYRAMID_H), 99).box_blur(1).equalize();
    let mut checksums = Vec::new();
    while level.width() >= 2 && level.height() >= 2 {
        checksums.push(level.checksum());
        level = level.downsample_2x();
    }
    assert_eq!(checksums.len(), 10);
    checksums.sort_unstable();
    checksums.dedup();
    assert_eq!(checksums.len(), 10, "every pyramid level differs");
}

#[test]
fn gradient_survives_blur_round_trip() {
    let g = gradient(64, 64);
    let b: Gray = g.box_blur(1);
    // Interior columns of a linear ramp are unchanged by a symmetric blur.
    for y in 0..64 {
        for x in 1..63 {
            assert!((g.get(x, y) as i32 - b.get(x, y) as i32).abs() <= 1);
        }
    }
}

const BLUR_W: usize = 1600;
const BLUR_H: usize = 900;
const SOBEL_W: usize = 2400;
const SOBEL_H: usize = 1440;
const PYRAMID_W: usize = 2048;
const PYRAMID_H: usize = 1536;
