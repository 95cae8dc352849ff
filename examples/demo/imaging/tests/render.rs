//! The long straggler of the demo: a poster-sized Mandelbrot render
//! (about 1.5-2 s of CPU in a debug build).

use std::hint::black_box;

use imaging::mandelbrot;

#[test]
fn render_mandelbrot_poster_is_mirror_symmetric() {
    let (w, h) = (black_box(POSTER_W), black_box(POSTER_H));
    let img = mandelbrot(w, h, black_box(POSTER_ITERATIONS));
    for y in 0..h / 2 {
        for x in 0..w {
            assert_eq!(img.get(x, y), img.get(x, h - 1 - y), "pixel ({x}, {y})");
        }
    }
    // The main cardioid is inside the set (black), the corners escape at once.
    assert_eq!(img.get(w / 2, h / 2), 0);
    assert!(img.get(0, 0) > 200);
}

#[test]
fn render_thumbnail_quickly() {
    let img = mandelbrot(64, 48, 32);
    assert_eq!((img.width(), img.height()), (64, 48));
}

const POSTER_W: usize = 1200;
const POSTER_H: usize = 800;
const POSTER_ITERATIONS: u32 = 2_000;
