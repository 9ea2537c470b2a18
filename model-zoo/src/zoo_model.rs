//! A trained (or untrained) zoo [`Network`] seen through the shared [`Model`] interface.

use ndarray::{Array2, ArrayView4, Axis};

use crate::error::{Result, ZooError};
use crate::model::{Activations, LayerInfo, Model, check_stimuli};
use crate::network::{LayerKind, Network};

/// A network with the image shape its first layer reads.
#[derive(Debug, Clone)]
pub struct ZooModel {
    net: Network,
    /// `(channels, height, width)` of one input image.
    image: [usize; 3],
}

impl ZooModel {
    /// Wraps `net`. A convolutional network knows its input image; a network that starts with
    /// a dense layer reads flattened square images, grayscale when its input count is a square
    /// (784: 1x28x28) and RGB, channels-last, when it is three times one (3072: 3x32x32; no
    /// count is both, as √3 is irrational); any other input size is refused.
    pub fn new(net: Network) -> Result<ZooModel> {
        net.check()?;
        let image = match net.layers[0].kind {
            LayerKind::Conv(g) => [g.channels, g.height, g.width],
            LayerKind::Dense => flat_image(net.n_inputs())?,
        };
        Ok(ZooModel { net, image })
    }

    /// The wrapped network.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// Shape per stimulus of layer `l`'s output, channels first for feature maps.
    fn layer_shape(&self, l: usize) -> Vec<usize> {
        let layer = &self.net.layers[l];
        match layer.kind {
            LayerKind::Dense => vec![layer.weight.nrows()],
            LayerKind::Conv(g) => {
                let (h, w) = g.pooled_size();
                vec![layer.weight.nrows(), h, w]
            }
        }
    }
}

impl Model for ZooModel {
    fn describe(&self) -> String {
        self.net.describe()
    }

    fn input_shape(&self) -> [usize; 3] {
        self.image
    }

    fn layers(&mut self) -> Result<Vec<LayerInfo>> {
        Ok(self
            .net
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| LayerInfo {
                name: layer.name.clone(),
                op: match layer.kind {
                    LayerKind::Dense => "dense".into(),
                    LayerKind::Conv(_) => "conv".into(),
                },
                shape: self.layer_shape(l),
                dtype: "f32".into(),
            })
            .collect())
    }

    fn activations(&mut self, stimuli: ArrayView4<f32>, layers: &[&str]) -> Result<Activations> {
        check_stimuli(&stimuli, self.image, &self.describe())?;
        let n = stimuli.len_of(Axis(0));
        let x = channels_last_rows(stimuli);
        let outputs = self.net.activations(x.view(), layers)?;
        let mut named = Vec::with_capacity(outputs.len());
        for (name, post) in outputs {
            let l = self.net.layer_index(&name)?;
            let shape = self.layer_shape(l);
            let features = match shape[..] {
                [c, h, w] => channels_first(post, n, c, h, w),
                _ => post,
            };
            named.push((name, features));
        }
        Ok(Activations::new(named))
    }
}

/// The image a dense first layer of `n` inputs reads: square grayscale when `n` is a square
/// (784: 1x28x28), square RGB channels-last when it is three times one (3072: 3x32x32; no count
/// is both, as √3 is irrational).
pub(crate) fn flat_image(n: usize) -> Result<[usize; 3]> {
    let square_side = |n: usize| {
        let side = (n as f64).sqrt().round() as usize;
        (side * side == n).then_some(side)
    };
    match (
        square_side(n),
        n.is_multiple_of(3).then(|| square_side(n / 3)).flatten(),
    ) {
        (Some(side), _) => Ok([1, side, side]),
        (None, Some(side)) => Ok([3, side, side]),
        (None, None) => Err(ZooError::Shape(format!(
            "a dense network with {n} inputs reads neither square grayscale nor square RGB images"
        ))),
    }
}

/// Channels-first stimuli `(n, c, h, w)` as the engines read images: one channels-last row
/// per stimulus, `(n, h·w·c)`.
pub(crate) fn channels_last_rows(stimuli: ArrayView4<f32>) -> Array2<f32> {
    let (n, c, h, w) = stimuli.dim();
    stimuli
        .permuted_axes([0, 2, 3, 1])
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((n, h * w * c))
        .expect("h·w·c inputs")
}

/// `(n, h·w·c)` channels-last maps to `(n, c·h·w)` channels-first.
pub(crate) fn channels_first(
    maps: Array2<f32>,
    n: usize,
    c: usize,
    h: usize,
    w: usize,
) -> Array2<f32> {
    maps.into_shape_with_order((n, h, w, c))
        .expect("h·w·c features")
        .permuted_axes([0, 3, 1, 2])
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((n, c * h * w))
        .expect("c·h·w features")
}
