//! A VNN seen through the shared [`Model`] interface, so that it can be scored like any zoo
//! network: each hidden layer's activations are its K component vectors side by side.

use ndarray::{ArrayView4, Axis, concatenate};

use super::{VectorLayerKind, VectorNetwork};
use crate::error::Result;
use crate::model::{Activations, LayerInfo, Model, check_stimuli};
use crate::zoo_model::{channels_first, channels_last_rows, flat_image};

/// A VNN with the image shape its first layer reads.
#[derive(Debug, Clone)]
pub struct VectorZooModel {
    net: VectorNetwork,
    /// `(channels, height, width)` of one input image.
    image: [usize; 3],
}

impl VectorZooModel {
    /// Wraps `net`; a VNN that starts with a dense layer reads flattened square images, as
    /// [`crate::ZooModel`] does.
    pub fn new(net: VectorNetwork) -> Result<Self> {
        net.check()?;
        let image = match net.layers[0].kind {
            VectorLayerKind::Conv(g) => [g.channels, g.height, g.width],
            VectorLayerKind::Dense => flat_image(net.n_inputs())?,
        };
        Ok(VectorZooModel { net, image })
    }

    /// The wrapped network.
    pub fn network(&self) -> &VectorNetwork {
        &self.net
    }

    /// Shape per stimulus of hidden layer `l`'s output: `(K, units)`, or `(K, channels, height,
    /// width)` for a convolution's pooled maps.
    fn layer_shape(&self, l: usize) -> Vec<usize> {
        let layer = &self.net.layers[l];
        let k = self.net.components;
        match layer.kind {
            VectorLayerKind::Dense => vec![k, layer.weight.nrows()],
            VectorLayerKind::Conv(g) => {
                let (h, w) = g.pooled_size();
                vec![k, layer.weight.nrows(), h, w]
            }
        }
    }
}

impl Model for VectorZooModel {
    fn describe(&self) -> String {
        self.net.describe()
    }

    fn input_shape(&self) -> [usize; 3] {
        self.image
    }

    /// The hidden layers (the output unit's components are the logits, not a representation).
    fn layers(&mut self) -> Result<Vec<LayerInfo>> {
        let hidden = self.net.layers.len() - 1;
        Ok(self.net.layers[..hidden]
            .iter()
            .enumerate()
            .map(|(l, layer)| LayerInfo {
                name: layer.name.clone(),
                op: match layer.kind {
                    VectorLayerKind::Dense => "vector dense".into(),
                    VectorLayerKind::Conv(_) => "vector conv".into(),
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
        let hidden = self.net.hidden_names();
        let mut named = Vec::with_capacity(outputs.len());
        for (name, features) in outputs {
            let l = hidden
                .iter()
                .position(|h| *h == name)
                .expect("named by the network");
            let features = match self.layer_shape(l)[..] {
                // Each component's maps channels-first, as the scalar zoo's and ONNX's are.
                [k, c, h, w] => {
                    let per = c * h * w;
                    let blocks: Vec<_> = (0..k)
                        .map(|i| {
                            channels_first(
                                features
                                    .slice(ndarray::s![.., i * per..(i + 1) * per])
                                    .to_owned(),
                                n,
                                c,
                                h,
                                w,
                            )
                        })
                        .collect();
                    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
                    concatenate(Axis(1), &views).expect("equal rows")
                }
                _ => features,
            };
            named.push((name, features));
        }
        Ok(Activations::new(named))
    }
}
