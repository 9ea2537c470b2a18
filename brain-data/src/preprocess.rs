//! Turning stimuli into model input: crop, field of view in visual degrees, resize, channels,
//! normalisation. The spec is plain data so that reports can record exactly what was done.

use image::imageops::{self, FilterType};
use image::{DynamicImage, Rgb, RgbImage};
use ndarray::{Array3, Array4, Axis};
use serde::{Deserialize, Serialize};

use crate::assembly::StimulusSet;
use crate::error::{DataError, Result};

/// The resampling filter used when resizing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ResizeFilter {
    /// Bilinear.
    Triangle,
    /// Bicubic (Catmull-Rom); the default, close to PIL's bicubic that torchvision uses.
    #[default]
    CatmullRom,
    /// Lanczos with a 3-lobe window: sharpest, slowest.
    Lanczos3,
    /// Nearest neighbour: for binary patterns that must stay binary.
    Nearest,
}

impl ResizeFilter {
    fn filter(self) -> FilterType {
        match self {
            Self::Triangle => FilterType::Triangle,
            Self::CatmullRom => FilterType::CatmullRom,
            Self::Lanczos3 => FilterType::Lanczos3,
            Self::Nearest => FilterType::Nearest,
        }
    }
}

/// Output channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Channels {
    /// Three channels (grayscale stimuli are replicated).
    #[default]
    Rgb,
    /// One channel (luma of colour stimuli).
    Gray,
}

/// Size of the stimulus and of the model's field of view in degrees of visual angle, as
/// Brain-Score places stimuli: a stimulus narrower than the field is shrunk and centred on a
/// background, a wider one is enlarged and centre-cropped.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisualDegrees {
    /// Width the stimulus subtended in the experiment.
    pub stimulus: f64,
    /// Width the model's input is taken to cover (Brain-Score's default is 8).
    pub model: f64,
    /// Gray level of the background around a shrunk stimulus.
    #[serde(default = "mid_gray")]
    pub background: u8,
}

fn mid_gray() -> u8 {
    128
}

/// Per-channel normalisation `(x - mean) / std` of intensities in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalization {
    /// Channel means (for one channel, the first is used).
    pub mean: [f32; 3],
    /// Channel standard deviations.
    pub std: [f32; 3],
}

impl Normalization {
    /// ImageNet statistics, which ImageNet-trained models expect.
    pub const IMAGENET: Normalization = Normalization {
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
    };
}

/// The whole preprocessing of a stimulus, in order: centre crop, placement in the field of
/// view, resize to `size` x `size`, channels, scaling to [0, 1], normalisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preprocessing {
    /// Side of the square model input in pixels.
    pub size: u32,
    /// Fraction of the shorter side kept by a centre crop before anything else (1 = none).
    #[serde(default = "one")]
    pub center_crop: f64,
    /// Stimulus and model field of view; `None` maps the stimulus onto the whole input.
    #[serde(default)]
    pub visual_degrees: Option<VisualDegrees>,
    /// Resampling filter.
    #[serde(default)]
    pub filter: ResizeFilter,
    /// Output channels.
    #[serde(default)]
    pub channels: Channels,
    /// Normalisation after scaling to [0, 1]; `None` leaves [0, 1].
    #[serde(default)]
    pub normalization: Option<Normalization>,
}

fn one() -> f64 {
    1.0
}

impl Preprocessing {
    /// `size` x `size` RGB, no crop, no field of view, ImageNet normalisation.
    pub fn imagenet(size: u32) -> Self {
        Self {
            size,
            center_crop: 1.0,
            visual_degrees: None,
            filter: ResizeFilter::default(),
            channels: Channels::Rgb,
            normalization: Some(Normalization::IMAGENET),
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| DataError::format("preprocessing", m);
        if self.size == 0 {
            return Err(bad("size must be at least 1 pixel".into()));
        }
        if !(self.center_crop > 0.0 && self.center_crop <= 1.0) {
            return Err(bad(format!(
                "center_crop must be in (0, 1], got {}",
                self.center_crop
            )));
        }
        if let Some(v) = self.visual_degrees
            && !(v.stimulus > 0.0 && v.model > 0.0)
        {
            return Err(bad(format!(
                "visual degrees must be positive, got {} and {}",
                v.stimulus, v.model
            )));
        }
        if let Some(n) = self.normalization
            && n.std.iter().any(|&s| s <= 0.0)
        {
            return Err(bad(
                "normalisation standard deviations must be positive".into()
            ));
        }
        Ok(())
    }

    /// One stimulus as a `(channels, size, size)` array.
    pub fn apply(&self, image: &DynamicImage) -> Result<Array3<f32>> {
        self.validate()?;
        let mut rgb = image.to_rgb8();
        if self.center_crop < 1.0 {
            let side = ((rgb.width().min(rgb.height()) as f64) * self.center_crop)
                .round()
                .max(1.0) as u32;
            rgb = imageops::crop_imm(
                &rgb,
                (rgb.width() - side) / 2,
                (rgb.height() - side) / 2,
                side,
                side,
            )
            .to_image();
        }
        let filter = self.filter.filter();
        let placed = match self.visual_degrees {
            None => imageops::resize(&rgb, self.size, self.size, filter),
            Some(v) => place_in_field(&rgb, self.size, v, filter),
        };
        let channels = match self.channels {
            Channels::Rgb => 3,
            Channels::Gray => 1,
        };
        let size = self.size as usize;
        let mut out = Array3::<f32>::zeros((channels, size, size));
        for (x, y, pixel) in placed.enumerate_pixels() {
            let (x, y) = (x as usize, y as usize);
            let [r, g, b] = pixel.0.map(|v| f32::from(v) / 255.0);
            match self.channels {
                Channels::Rgb => {
                    out[[0, y, x]] = r;
                    out[[1, y, x]] = g;
                    out[[2, y, x]] = b;
                }
                // ITU-R BT.601 luma, as PIL's "L" conversion.
                Channels::Gray => out[[0, y, x]] = 0.299 * r + 0.587 * g + 0.114 * b,
            }
        }
        if let Some(n) = self.normalization {
            for (c, mut plane) in out.axis_iter_mut(Axis(0)).enumerate() {
                plane.mapv_inplace(|v| (v - n.mean[c]) / n.std[c]);
            }
        }
        Ok(out)
    }

    /// All stimuli of a set as a `(stimuli, channels, size, size)` batch.
    pub fn apply_all(&self, set: &StimulusSet) -> Result<Array4<f32>> {
        self.apply_batch(&set.images)
    }

    /// `images` as a `(images, channels, size, size)` batch, preprocessed on all cores (each
    /// image alone, so the result does not depend on the number of threads).
    pub fn apply_batch(&self, images: &[DynamicImage]) -> Result<Array4<f32>> {
        use rayon::prelude::*;
        self.validate()?;
        let channels = match self.channels {
            Channels::Rgb => 3,
            Channels::Gray => 1,
        };
        let size = self.size as usize;
        let planes = images
            .par_iter()
            .map(|image| self.apply(image))
            .collect::<Result<Vec<_>>>()?;
        let mut out = Array4::<f32>::zeros((images.len(), channels, size, size));
        for (mut slot, plane) in out.outer_iter_mut().zip(&planes) {
            slot.assign(plane);
        }
        Ok(out)
    }
}

/// The stimulus scaled to `stimulus / model` of the field and centred: shrunk onto a
/// background, or enlarged and centre-cropped.
fn place_in_field(
    image: &RgbImage,
    size: u32,
    degrees: VisualDegrees,
    filter: FilterType,
) -> RgbImage {
    let scaled = ((size as f64) * degrees.stimulus / degrees.model)
        .round()
        .max(1.0) as u32;
    let resized = imageops::resize(image, scaled, scaled, filter);
    if scaled >= size {
        let offset = (scaled - size) / 2;
        return imageops::crop_imm(&resized, offset, offset, size, size).to_image();
    }
    let mut canvas = RgbImage::from_pixel(size, size, Rgb([degrees.background; 3]));
    let offset = i64::from((size - scaled) / 2);
    imageops::overlay(&mut canvas, &resized, offset, offset);
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma};

    fn checker() -> DynamicImage {
        DynamicImage::ImageLuma8(GrayImage::from_fn(40, 40, |x, y| {
            Luma([if (x / 10 + y / 10) % 2 == 0 { 255 } else { 0 }])
        }))
    }

    #[test]
    fn gray_stimuli_become_three_equal_channels_in_unit_range() {
        let spec = Preprocessing {
            normalization: None,
            ..Preprocessing::imagenet(20)
        };
        let out = spec.apply(&checker()).unwrap();
        assert_eq!(out.dim(), (3, 20, 20));
        assert_eq!(out.index_axis(Axis(0), 0), out.index_axis(Axis(0), 2));
        assert!(out.iter().all(|&v| (0.0..=1.0).contains(&v)));
    }

    #[test]
    fn imagenet_normalisation_maps_mean_gray_to_zero_per_channel() {
        let gray = DynamicImage::ImageRgb8(RgbImage::from_pixel(8, 8, Rgb([124, 116, 104])));
        let out = Preprocessing::imagenet(4).apply(&gray).unwrap();
        for c in 0..3 {
            assert!(
                out.index_axis(Axis(0), c).iter().all(|v| v.abs() < 0.01),
                "channel {c}"
            );
        }
    }

    #[test]
    fn a_stimulus_narrower_than_the_field_sits_centred_on_the_background() {
        let spec = Preprocessing {
            visual_degrees: Some(VisualDegrees {
                stimulus: 4.0,
                model: 8.0,
                background: 128,
            }),
            filter: ResizeFilter::Nearest,
            normalization: None,
            ..Preprocessing::imagenet(40)
        };
        let out = spec.apply(&checker()).unwrap();
        let bg = 128.0 / 255.0;
        // The 20-pixel stimulus spans pixels 10..30; the border is background.
        assert!((out[[0, 0, 0]] - bg).abs() < 1e-6 && (out[[0, 39, 39]] - bg).abs() < 1e-6);
        assert!((out[[0, 9, 20]] - bg).abs() < 1e-6);
        assert_eq!(out[[0, 10, 10]], 1.0);
        assert_eq!(out[[0, 10, 15]], 0.0);
    }

    #[test]
    fn a_stimulus_wider_than_the_field_is_cropped_and_invalid_specs_are_errors() {
        let spec = Preprocessing {
            visual_degrees: Some(VisualDegrees {
                stimulus: 16.0,
                model: 8.0,
                background: 128,
            }),
            filter: ResizeFilter::Nearest,
            normalization: None,
            ..Preprocessing::imagenet(20)
        };
        // Doubled to 40 pixels and the central 20 kept: the inner 2 x 2 checker squares.
        let out = spec.apply(&checker()).unwrap();
        assert_eq!(out[[0, 0, 0]], 1.0);
        assert_eq!(out[[0, 0, 10]], 0.0);
        let bad = Preprocessing {
            center_crop: 0.0,
            ..Preprocessing::imagenet(20)
        };
        assert!(bad.apply(&checker()).is_err());
        let yaml = serde_norway::to_string(&spec).unwrap();
        assert_eq!(
            serde_norway::from_str::<Preprocessing>(&yaml).unwrap(),
            spec
        );
    }
}
