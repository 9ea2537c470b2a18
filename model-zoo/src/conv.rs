//! Convolution as a matrix product. Images are stored channels-last: one example is a row of
//! `height · width · channels` values in (y, x, c) order, so a batch is `(batch, h·w·c)` and
//! the same memory read as `(batch·h·w, c)` holds one pixel per row. A "valid" k×k convolution
//! with stride 1 becomes `cols · Wᵀ` with `cols = im2col(input)`, one row per output pixel and
//! one column per (ky, kx, c) tap; its input gradient is `col2im(δ · W)`. Max pooling over
//! non-overlapping p×p windows keeps the index of each window's winner for the backward pass.

use ndarray::{Array2, ArrayView2};
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
    /// Square kernel size (valid convolution, stride 1).
    pub kernel: usize,
    /// Square max-pooling window and stride after the nonlinearity (1: no pooling).
    pub pool: usize,
}

impl ConvGeometry {
    /// Height and width of the convolution's output (before pooling).
    pub fn conv_size(&self) -> (usize, usize) {
        (
            self.height + 1 - self.kernel.min(self.height + 1),
            self.width + 1 - self.kernel.min(self.width + 1),
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
        if self.kernel > self.height || self.kernel > self.width {
            return Err(format!(
                "a {k}x{k} kernel does not fit a {}x{} input",
                self.height,
                self.width,
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

/// `(batch, h·w·c)` images to `(batch·oh·ow, k·k·c)` patches.
pub fn im2col(input: ArrayView2<f32>, g: &ConvGeometry) -> Array2<f32> {
    let (oh, ow) = g.conv_size();
    let (k, c) = (g.kernel, g.channels);
    let batch = input.nrows();
    let input = input.as_standard_layout();
    let data = input.as_slice().expect("standard layout");
    let mut cols = Vec::with_capacity(batch * oh * ow * k * k * c);
    let image_len = g.height * g.width * c;
    for image in data.chunks_exact(image_len) {
        for oy in 0..oh {
            for ox in 0..ow {
                for ky in 0..k {
                    let start = ((oy + ky) * g.width + ox) * c;
                    cols.extend_from_slice(&image[start..start + k * c]);
                }
            }
        }
    }
    Array2::from_shape_vec((batch * oh * ow, k * k * c), cols).expect("sizes computed")
}

/// The adjoint of [`im2col`]: sums patch gradients `(batch·oh·ow, k·k·c)` back onto
/// `(batch, h·w·c)` images.
pub fn col2im(cols: ArrayView2<f32>, g: &ConvGeometry, batch: usize) -> Array2<f32> {
    let (oh, ow) = g.conv_size();
    let (k, c) = (g.kernel, g.channels);
    let image_len = g.height * g.width * c;
    let cols = cols.as_standard_layout();
    let patches = cols.as_slice().expect("standard layout");
    let mut out = vec![0.0f32; batch * image_len];
    let patch_len = k * k * c;
    for (b, image) in out.chunks_exact_mut(image_len).enumerate() {
        for oy in 0..oh {
            for ox in 0..ow {
                let row = (b * oh + oy) * ow + ox;
                let patch = &patches[row * patch_len..(row + 1) * patch_len];
                for ky in 0..k {
                    let start = ((oy + ky) * g.width + ox) * c;
                    let src = &patch[ky * k * c..(ky + 1) * k * c];
                    for (dst, v) in image[start..start + k * c].iter_mut().zip(src) {
                        *dst += v;
                    }
                }
            }
        }
    }
    Array2::from_shape_vec((batch, image_len), out).expect("sizes computed")
}

/// Max pooling of `(batch·oh·ow, c)` feature maps to `(batch, ph·pw·c)`, with the flat index
/// into the input of every output's winner.
pub fn max_pool(maps: &Array2<f32>, g: &ConvGeometry, batch: usize) -> (Array2<f32>, Vec<u32>) {
    let (oh, ow) = g.conv_size();
    let (ph, pw) = g.pooled_size();
    let p = g.pool;
    let c = maps.ncols();
    let maps = maps.as_standard_layout();
    let data = maps.as_slice().expect("standard layout");
    let mut out = Vec::with_capacity(batch * ph * pw * c);
    let mut winners = Vec::with_capacity(batch * ph * pw * c);
    for b in 0..batch {
        for py in 0..ph {
            for px in 0..pw {
                for ch in 0..c {
                    let mut best = f32::NEG_INFINITY;
                    let mut best_at = 0usize;
                    for dy in 0..p {
                        for dx in 0..p {
                            let at = (((b * oh) + py * p + dy) * ow + px * p + dx) * c + ch;
                            if data[at] > best || dy + dx == 0 {
                                best = data[at];
                                best_at = at;
                            }
                        }
                    }
                    out.push(best);
                    winners.push(best_at as u32);
                }
            }
        }
    }
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
    }
}
