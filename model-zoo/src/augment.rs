//! Training-time data augmentation, seeded: the standard CIFAR recipe of a random crop of the
//! image padded by a few pixels on every side, and a random horizontal flip (He et al. 2016,
//! §4.2). Images are rows of channels-last pixels, already normalised, so the padding is 0, the
//! training set's mean colour.

use ndarray::Array2;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// What augmentation a training run applies to each training image at each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Augmentation {
    /// Pixels of zero padding on every side before a random crop back to the image size
    /// (0: no crop).
    pub crop_padding: usize,
    /// Mirror each image left-right with probability 1/2.
    pub horizontal_flip: bool,
}

impl Augmentation {
    /// The CIFAR-10 standard: 4-pixel padding, random crop, random horizontal flip.
    pub fn cifar() -> Self {
        Augmentation {
            crop_padding: 4,
            horizontal_flip: true,
        }
    }

    /// Augments every row of `x` (`(batch, h·w·c)` channels-last images) in place: shifts it by
    /// a random offset in `-crop_padding..=crop_padding` on each axis (pixels moved in from
    /// outside are 0), then flips it with probability 1/2.
    pub fn apply(&self, x: &mut Array2<f32>, image: (usize, usize, usize), rng: &mut ChaCha8Rng) {
        let (h, w, c) = image;
        let pad = self.crop_padding as i64;
        let mut scratch = vec![0.0f32; h * w * c];
        for mut row in x.rows_mut() {
            let dy = if pad > 0 {
                rng.random_range(-pad..=pad) as isize
            } else {
                0
            };
            let dx = if pad > 0 {
                rng.random_range(-pad..=pad) as isize
            } else {
                0
            };
            let flip = self.horizontal_flip && rng.random_bool(0.5);
            if dy == 0 && dx == 0 && !flip {
                continue;
            }
            let src = row.as_slice().expect("rows of a standard-layout batch");
            scratch.fill(0.0);
            for y in 0..h {
                let sy = y as isize + dy;
                if sy < 0 || sy >= h as isize {
                    continue;
                }
                for xo in 0..w {
                    // Crop first, then flip: output column xo shows crop column w-1-xo.
                    let cx = if flip { w - 1 - xo } else { xo };
                    let sx = cx as isize + dx;
                    if sx < 0 || sx >= w as isize {
                        continue;
                    }
                    let from = (sy as usize * w + sx as usize) * c;
                    let to = (y * w + xo) * c;
                    scratch[to..to + c].copy_from_slice(&src[from..from + c]);
                }
            }
            row.as_slice_mut()
                .expect("rows of a standard-layout batch")
                .copy_from_slice(&scratch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn image() -> Array2<f32> {
        // 4x5 image, 2 channels, values 1..=40.
        Array2::from_shape_fn((1, 40), |(_, j)| j as f32 + 1.0)
    }

    #[test]
    fn flip_only_mirrors_each_row() {
        let aug = Augmentation {
            crop_padding: 0,
            horizontal_flip: true,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut flipped = 0;
        for _ in 0..20 {
            let mut x = image();
            aug.apply(&mut x, (4, 5, 2), &mut rng);
            if x != image() {
                flipped += 1;
                // Pixel (y 1, x 0) channel 1 now holds pixel (1, 4) channel 1.
                assert_eq!(x[[0, 5 * 2 + 1]], image()[[0, (5 + 4) * 2 + 1]]);
            }
        }
        assert!((3..=17).contains(&flipped), "{flipped}");
    }

    #[test]
    fn crops_shift_pixels_and_fill_with_zero_and_are_seeded() {
        let aug = Augmentation {
            crop_padding: 2,
            horizontal_flip: false,
        };
        let mut a = Array2::from_shape_fn((8, 40), |(_, j)| j as f32 + 1.0);
        let mut b = a.clone();
        aug.apply(&mut a, (4, 5, 2), &mut ChaCha8Rng::seed_from_u64(7));
        aug.apply(&mut b, (4, 5, 2), &mut ChaCha8Rng::seed_from_u64(7));
        assert_eq!(a, b);
        for row in a.rows() {
            // Every kept value is an original value; the rest are the zero padding.
            let kept: Vec<f32> = row.iter().copied().filter(|&v| v != 0.0).collect();
            assert!(
                kept.iter()
                    .all(|&v| (1.0..=40.0).contains(&v) && v.fract() == 0.0)
            );
            // A shift keeps the channel of every value.
            for (j, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    assert_eq!((v as usize - 1) % 2, j % 2);
                }
            }
        }
        assert!(a.rows().into_iter().any(|r| r.iter().any(|&v| v == 0.0)));
    }
}
