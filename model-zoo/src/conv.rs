//! Convolution as a matrix product. Images are stored channels-last: one example is a row of
//! `height · width · channels` values in (y, x, c) order, so a batch is `(batch, h·w·c)` and
//! the same memory read as `(batch·h·w, c)` holds one pixel per row. A k×k convolution with
//! stride 1 and `padding` zeros on every side ("valid" without, "same" with (k-1)/2) becomes
//! `cols · Wᵀ` with `cols = im2col(input)`, one row per output pixel and one column per
//! (ky, kx, c) tap, taps that fall in the padding being 0; its input gradient is
//! `col2im(δ · W)`. Max pooling over
//! non-overlapping p×p windows keeps the index of each window's winner for the backward pass.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The input geometry and hyper-parameters of a convolutional layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvGeometry {
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Input channels.
    pub channels: usize,
    /// Square kernel size (stride 1).
    pub kernel: usize,
    /// Zeros added on every side of the input (0: a valid convolution).
    #[serde(default)]
    pub padding: usize,
    /// Square max-pooling window and stride after the nonlinearity (1: no pooling).
    pub pool: usize,
}

impl ConvGeometry {
    /// Height and width of the convolution's output (before pooling).
    pub fn conv_size(&self) -> (usize, usize) {
        let (h, w) = (
            self.height + 2 * self.padding,
            self.width + 2 * self.padding,
        );
        (
            h + 1 - self.kernel.min(h + 1),
            w + 1 - self.kernel.min(w + 1),
        )
    }

    /// Height and width after pooling.
    pub fn pooled_size(&self) -> (usize, usize) {
        let (h, w) = self.conv_size();
        (h / self.pool.max(1), w / self.pool.max(1))
    }

    /// Inputs per output pixel and channel: k·k·c.
    pub fn fan_in(&self) -> usize {
        self.kernel * self.kernel * self.channels
    }

    /// Whether the geometry is usable: a kernel that fits and an output the pool tiles exactly.
    pub fn check(&self) -> std::result::Result<(), String> {
        let (h, w) = self.conv_size();
        if self.kernel == 0 || self.channels == 0 || self.pool == 0 {
            return Err(format!(
                "{self:?}: kernel, channels and pool must be positive"
            ));
        }
        if self.kernel > self.height + 2 * self.padding
            || self.kernel > self.width + 2 * self.padding
        {
            return Err(format!(
                "a {k}x{k} kernel does not fit a {}x{} input padded by {}",
                self.height,
                self.width,
                self.padding,
                k = self.kernel
            ));
        }
        if self.padding >= self.kernel {
            return Err(format!(
                "padding {} must be smaller than the {k}x{k} kernel",
                self.padding,
                k = self.kernel
            ));
        }
        if h % self.pool != 0 || w % self.pool != 0 {
            return Err(format!(
                "a {p}x{p} pool does not tile the {h}x{w} convolution output",
                p = self.pool
            ));
        }
        Ok(())
    }
}

/// The taps of output column `ox` that fall inside the image: `kx` in `lo..hi`, reading input
/// columns from `ox + lo - padding` on.
fn inside_taps(g: &ConvGeometry, ox: usize) -> (usize, usize) {
    let lo = g.padding.saturating_sub(ox);
    let hi = g.kernel.min(g.width + g.padding - ox);
    (lo, hi.max(lo))
}

/// `(batch, h·w·c)` images to `(batch·oh·ow, k·k·c)` patches (0 where a tap is in the padding).
pub fn im2col(input: ArrayView2<f32>, g: &ConvGeometry) -> Array2<f32> {
    let (oh, ow) = g.conv_size();
    let (k, c, p) = (g.kernel, g.channels, g.padding);
    let batch = input.nrows();
    let input = input.as_standard_layout();
    let data = input.as_slice().expect("standard layout");
    let patch_len = k * k * c;
    let mut cols = vec![0.0f32; batch * oh * ow * patch_len];
    let image_len = g.height * g.width * c;
    // Images are independent: split them over the cores.
    cols.par_chunks_mut(oh * ow * patch_len)
        .zip(data.par_chunks_exact(image_len))
        .for_each(|(image_cols, image)| {
            let mut patches = image_cols.chunks_exact_mut(patch_len);
            for oy in 0..oh {
                for ox in 0..ow {
                    let patch = patches.next().expect("one patch per output pixel");
                    let (lo, hi) = inside_taps(g, ox);
                    for ky in 0..k {
                        let Some(iy) = (oy + ky).checked_sub(p).filter(|&y| y < g.height) else {
                            continue;
                        };
                        let start = (iy * g.width + ox + lo - p) * c;
                        patch[(ky * k + lo) * c..(ky * k + hi) * c]
                            .copy_from_slice(&image[start..start + (hi - lo) * c]);
                    }
                }
            }
        });
    Array2::from_shape_vec((batch * oh * ow, patch_len), cols).expect("sizes computed")
}

/// The adjoint of [`im2col`]: sums patch gradients `(batch·oh·ow, k·k·c)` back onto
/// `(batch, h·w·c)` images (taps in the padding are dropped).
pub fn col2im(cols: ArrayView2<f32>, g: &ConvGeometry, batch: usize) -> Array2<f32> {
    let (oh, ow) = g.conv_size();
    let (k, c, p) = (g.kernel, g.channels, g.padding);
    let image_len = g.height * g.width * c;
    let cols = cols.as_standard_layout();
    let patches = cols.as_slice().expect("standard layout");
    let mut out = vec![0.0f32; batch * image_len];
    let patch_len = k * k * c;
    out.par_chunks_exact_mut(image_len)
        .enumerate()
        .for_each(|(b, image)| {
            for oy in 0..oh {
                for ox in 0..ow {
                    let row = (b * oh + oy) * ow + ox;
                    let patch = &patches[row * patch_len..(row + 1) * patch_len];
                    let (lo, hi) = inside_taps(g, ox);
                    for ky in 0..k {
                        let Some(iy) = (oy + ky).checked_sub(p).filter(|&y| y < g.height) else {
                            continue;
                        };
                        let start = (iy * g.width + ox + lo - p) * c;
                        let src = &patch[(ky * k + lo) * c..(ky * k + hi) * c];
                        for (dst, v) in image[start..start + (hi - lo) * c].iter_mut().zip(src) {
                            *dst += v;
                        }
                    }
                }
            }
        });
    Array2::from_shape_vec((batch, image_len), out).expect("sizes computed")
}

/// The values of [`max_pool`] alone, without the winners backprop needs (the perturbed
/// passes of noise correlation keep only the loss): the same comparisons, so the same values,
/// and a loop the compiler vectorises.
pub fn max_pool_values(maps: &Array2<f32>, g: &ConvGeometry, batch: usize) -> Array2<f32> {
    let (oh, ow) = g.conv_size();
    let (ph, pw) = g.pooled_size();
    let p = g.pool;
    let c = maps.ncols();
    let maps = maps.as_standard_layout();
    let data = maps.as_slice().expect("standard layout");
    let mut out = vec![0.0f32; batch * ph * pw * c];
    out.par_chunks_mut(ph * pw * c)
        .enumerate()
        .for_each(|(b, image_out)| {
            for (cell, best) in image_out.chunks_exact_mut(c).enumerate() {
                let (py, px) = (cell / pw, cell % pw);
                for dy in 0..p {
                    for dx in 0..p {
                        let pixel = ((b * oh) + py * p + dy) * ow + px * p + dx;
                        let row = &data[pixel * c..(pixel + 1) * c];
                        if dy + dx == 0 {
                            best.copy_from_slice(row);
                            continue;
                        }
                        for (best, &v) in best.iter_mut().zip(row) {
                            *best = if v > *best { v } else { *best };
                        }
                    }
                }
            }
        });
    Array2::from_shape_vec((batch, ph * pw * c), out).expect("sizes computed")
}

/// Max pooling of `(batch·oh·ow, c)` feature maps to `(batch, ph·pw·c)`, with the flat index
/// into the input of every output's winner (the first of a window's equal maxima).
pub fn max_pool(maps: &Array2<f32>, g: &ConvGeometry, batch: usize) -> (Array2<f32>, Vec<u32>) {
    let (oh, ow) = g.conv_size();
    let (ph, pw) = g.pooled_size();
    let p = g.pool;
    let c = maps.ncols();
    let maps = maps.as_standard_layout();
    let data = maps.as_slice().expect("standard layout");
    let mut out = vec![0.0f32; batch * ph * pw * c];
    let mut winners = vec![0u32; batch * ph * pw * c];
    // Each output pixel's channels are contiguous, and so are each input pixel's: compare whole
    // channel rows, window position by window position; images on all cores.
    out.par_chunks_mut(ph * pw * c)
        .zip(winners.par_chunks_mut(ph * pw * c))
        .enumerate()
        .for_each(|(b, (image_out, image_winners))| {
            for (cell, (best, best_at)) in image_out
                .chunks_exact_mut(c)
                .zip(image_winners.chunks_exact_mut(c))
                .enumerate()
            {
                let (py, px) = (cell / pw, cell % pw);
                for dy in 0..p {
                    for dx in 0..p {
                        let pixel = ((b * oh) + py * p + dy) * ow + px * p + dx;
                        let row = &data[pixel * c..(pixel + 1) * c];
                        if dy + dx == 0 {
                            best.copy_from_slice(row);
                            for (ch, at) in best_at.iter_mut().enumerate() {
                                *at = (pixel * c + ch) as u32;
                            }
                            continue;
                        }
                        for (ch, ((best, best_at), &v)) in
                            best.iter_mut().zip(best_at.iter_mut()).zip(row).enumerate()
                        {
                            let better = v > *best;
                            *best = if better { v } else { *best };
                            *best_at = if better {
                                (pixel * c + ch) as u32
                            } else {
                                *best_at
                            };
                        }
                    }
                }
            }
        });
    let pooled = Array2::from_shape_vec((batch, ph * pw * c), out).expect("sizes computed");
    (pooled, winners)
}

/// The adjoint of [`max_pool`]: routes each pooled gradient to its window's winner.
pub fn unpool(
    gradient: &Array2<f32>,
    winners: &[u32],
    rows: usize,
    channels: usize,
) -> Array2<f32> {
    let mut out = Array2::zeros((rows, channels));
    let flat = out.as_slice_mut().expect("fresh array");
    for (g, &at) in gradient.iter().zip(winners) {
        flat[at as usize] += g;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn geometry() -> ConvGeometry {
        ConvGeometry {
            height: 6,
            width: 5,
            channels: 2,
            kernel: 3,
            padding: 0,
            pool: 1,
        }
    }

    /// ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩: col2im is the exact adjoint.
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        let g = geometry();
        let (oh, ow) = g.conv_size();
        let x = Array2::from_shape_fn((3, 60), |(i, j)| ((i * 61 + j * 7) % 13) as f32 - 6.0);
        let y = Array2::from_shape_fn((3 * oh * ow, 18), |(i, j)| ((i * 5 + j * 3) % 11) as f32);
        let lhs = (&im2col(x.view(), &g) * &y).sum();
        let rhs = (&x * &col2im(y.view(), &g, 3)).sum();
        assert_eq!(lhs, rhs);
    }

    #[test]
    fn im2col_picks_the_right_taps() {
        let g = geometry();
        let x = Array2::from_shape_fn((1, 60), |(_, j)| j as f32);
        let cols = im2col(x.view(), &g);
        // Output pixel (1, 2), tap (ky 2, kx 1, c 1) reads input pixel (3, 3), channel 1.
        let row = ow_index(&g, 1, 2);
        let col = (2 * 3 + 1) * 2 + 1;
        assert_eq!(cols[[row, col]], ((3 * 5 + 3) * 2 + 1) as f32);
    }

    /// With padding, the adjoint still holds and padded taps read zeros.
    #[test]
    fn padded_im2col_is_zero_outside_and_col2im_its_adjoint() {
        let g = ConvGeometry {
            padding: 1,
            ..geometry()
        };
        assert_eq!(g.conv_size(), (6, 5));
        let (oh, ow) = g.conv_size();
        let x = Array2::from_shape_fn((2, 60), |(i, j)| ((i * 61 + j * 7) % 13) as f32 - 6.0);
        let cols = im2col(x.view(), &g);
        assert_eq!(cols.dim(), (2 * oh * ow, 18));
        // Output pixel (0, 0): taps with ky = 0 or kx = 0 are in the padding.
        for ky in 0..3 {
            for kx in 0..3 {
                for ch in 0..2 {
                    let v = cols[[0, (ky * 3 + kx) * 2 + ch]];
                    if ky == 0 || kx == 0 {
                        assert_eq!(v, 0.0);
                    } else {
                        assert_eq!(v, x[[0, ((ky - 1) * 5 + kx - 1) * 2 + ch]]);
                    }
                }
            }
        }
        // Last output pixel of the second image: taps with ky = 2 or kx = 2 are padding.
        let last = 2 * oh * ow - 1;
        assert_eq!(cols[[last, (2 * 3 + 1) * 2]], 0.0);
        assert_eq!(cols[[last, 5 * 2 + 1]], 0.0);
        assert_eq!(cols[[last, 4 * 2 + 1]], x[[1, (5 * 5 + 4) * 2 + 1]]);
        let y = Array2::from_shape_fn(cols.raw_dim(), |(i, j)| ((i * 5 + j * 3) % 11) as f32);
        let lhs = (&cols * &y).sum();
        let rhs = (&x * &col2im(y.view(), &g, 2)).sum();
        assert_eq!(lhs, rhs);
    }

    fn ow_index(g: &ConvGeometry, y: usize, x: usize) -> usize {
        y * g.conv_size().1 + x
    }

    #[test]
    fn pooling_keeps_each_windows_maximum_and_routes_gradients_back() {
        let g = ConvGeometry {
            height: 5,
            width: 5,
            channels: 1,
            kernel: 2,
            padding: 0,
            pool: 2,
        };
        let maps = Array2::from_shape_fn((16, 1), |(i, _)| ((i * 7) % 16) as f32);
        let (pooled, winners) = max_pool(&maps, &g, 1);
        for (v, &w) in pooled.iter().zip(&winners) {
            assert_eq!(*v, maps[[w as usize, 0]]);
        }
        // Window (0, 0) holds maps 0, 1, 4, 5: values 0, 7, 12, 3.
        assert_eq!(pooled[[0, 0]], 12.0);
        let back = unpool(&Array2::ones((1, 4)), &winners, 16, 1);
        assert_eq!(back.sum(), 4.0);
    }

    /// The winner-free pooling of the perturbed passes gives exactly the same values, on
    /// several images and channels, ties included.
    #[test]
    fn values_only_pooling_equals_pooling_with_winners() {
        let g = ConvGeometry {
            height: 6,
            width: 6,
            channels: 1,
            kernel: 3,
            padding: 1,
            pool: 2,
        };
        let maps = Array2::from_shape_fn((3 * 36, 5), |(i, j)| ((i * 7 + j * 3) % 11) as f32 - 5.0);
        let (pooled, _) = max_pool(&maps, &g, 3);
        let values = max_pool_values(&maps, &g, 3);
        assert_eq!(values.dim(), (3, 9 * 5));
        assert_eq!(values, pooled);
    }

    #[test]
    fn bad_geometry_is_refused() {
        let g = ConvGeometry {
            pool: 2,
            ..geometry()
        };
        assert!(g.check().unwrap_err().contains("does not tile"));
        let g = ConvGeometry {
            kernel: 7,
            ..geometry()
        };
        assert!(g.check().unwrap_err().contains("does not fit"));
        let g = ConvGeometry {
            padding: 3,
            ..geometry()
        };
        assert!(g.check().unwrap_err().contains("smaller than"));
    }
}
